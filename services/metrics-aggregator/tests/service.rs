//! The aggregator in-process against the real broker and Postgres: scored posts in →
//! communities, KPIs, term trends queryable over gRPC, alerts on the topic and on the stream;
//! a replay changes nothing; a restart keeps communities and ids; bad messages are dead-lettered.

use std::time::Duration;

use metrics_aggregator::Application;
use murmur_common::testing::{fresh_database, fresh_topic, produce_raw, read_all};
use murmur_common::Shutdown;
use murmur_proto::api::v1::insights_service_client::InsightsServiceClient;
use murmur_proto::api::v1::{
    GetCommunityRequest, GetTermTrendRequest, ListAlertsRequest, ListChannelMetricsRequest, ListCommunitiesRequest,
    ListCommunityMembersRequest, ListCommunityMetricsRequest, StreamAlertsRequest,
};
use murmur_proto::events::v1::{Alert, AlertKind, Platform, Post, ScoredPost, SentimentScore};
use prost::Message;
use sqlx::{Connection, PgConnection, Row};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

mod common;

const HOUR: i64 = 3_600;

struct Topics {
    input: String,
    alerts: String,
    deadletter: String,
}

struct Running {
    grpc_addr: std::net::SocketAddr,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(topics: &Topics, database_url: &str) -> Running {
    // The service's logs appear with a failing test's output.
    let _ = tracing_subscriber::fmt().with_env_filter("info").with_test_writer().try_init();
    let config = common::aggregator_config(
        &topics.input,
        &topics.alerts,
        database_url,
        &[
            format!("--deadletter-topic={}", topics.deadletter),
            "--bucket=1h".into(),
            "--detection-interval=1h".into(),
            "--allowed-lateness=0s".into(),
            "--micro-min-size=5".into(),
            "--micro-max-size=100".into(),
            "--snapshot-interval=0s".into(),
        ],
    );
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let app = Application::build(config, shutdown.clone()).await.expect("aggregator builds");
    let grpc_addr = app.grpc_addr();
    let task = tokio::spawn(app.run_until_stopped());
    Running { grpc_addr, shutdown, task }
}

impl Running {
    async fn client(&self) -> InsightsServiceClient<Channel> {
        InsightsServiceClient::connect(format!("http://{}", self.grpc_addr)).await.expect("grpc connects")
    }

    async fn stop(self) {
        self.shutdown.trigger();
        self.task.await.expect("task joins").expect("clean stop");
    }
}

fn scored(
    id: &str,
    author: &str,
    parent: Option<(&str, &str)>,
    channel: &str,
    at: i64,
    text: &str,
) -> (String, Vec<u8>) {
    let post = Post {
        id: format!("reddit:{id}"),
        platform: Platform::Reddit as i32,
        channel: channel.into(),
        author_id: author.into(),
        parent_id: parent.map(|(parent, _)| format!("reddit:{parent}")).unwrap_or_default(),
        root_id: parent.map(|(_, root)| format!("reddit:{root}")).unwrap_or_else(|| format!("reddit:{id}")),
        text: text.into(),
        created_at: Some(prost_types::Timestamp { seconds: at, nanos: 0 }),
        observed_at: Some(prost_types::Timestamp { seconds: at + 5, nanos: 0 }),
        ..Default::default()
    };
    let scored = ScoredPost {
        post: Some(post),
        language: "en".into(),
        sentiment: Some(SentimentScore { compound: 0.4, model: "lexicon-vader".into(), ..Default::default() }),
        ..Default::default()
    };
    (format!("reddit:{channel}"), scored.encode_to_vec())
}

/// Two groups of 12 actors, each talking within its own subreddit, `hours` hours from `start_hour`:
/// each member's thread gets replies from the next four members around the ring (with only two,
/// half a ring scores the same modularity as the whole ring, and either split is a right answer).
fn conversation(start_hour: i64, hours: i64) -> Vec<(String, Vec<u8>)> {
    let base = 1_750_000_000 / HOUR * HOUR;
    let mut records = Vec::new();
    for hour in start_hour..start_hour + hours {
        for (group, channel, words) in [
            ("runner", "trailrunning", "trail shoes and ultra training"),
            ("baker", "sourdough", "starter hydration and crumb"),
        ] {
            for member in 0..12 {
                let root = format!("{group}-{hour}-{member}-root");
                let at = base + hour * HOUR + member * 60;
                records.push(scored(&root, &format!("{group}{member}"), None, channel, at, words));
                for step in 1..=4 {
                    let replier = format!("{group}{}", (member + step) % 12);
                    let id = format!("{group}-{hour}-{member}-r{step}");
                    records.push(scored(&id, &replier, Some((&root, &root)), channel, at + step * 10, words));
                }
            }
        }
    }
    records
}

async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn count(database_url: &str, table: &str) -> i64 {
    let mut connection = PgConnection::connect(database_url).await.expect("connect");
    sqlx::query(&format!("SELECT count(*) AS n FROM {table}"))
        .fetch_one(&mut connection)
        .await
        .expect("count")
        .get::<i64, _>("n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scored_posts_become_communities_alerts_and_trends_idempotently_across_restarts() {
    let topics = Topics {
        input: fresh_topic("aggregator-in", 2).await,
        alerts: fresh_topic("aggregator-alerts", 1).await,
        deadletter: fresh_topic("aggregator-dlq", 1).await,
    };
    let database_url = fresh_database("murmur_test").await;
    // Hours 0..3, then one post at hour 3 closes the third window.
    let mut first = conversation(0, 3);
    first.extend(conversation(3, 1).into_iter().take(1));
    first.push(("reddit:x".into(), vec![0xff, 0x01, 0x02]));
    let without_post = ScoredPost { language: "en".into(), ..Default::default() };
    first.push(("reddit:trailrunning".into(), without_post.encode_to_vec()));
    produce_raw(&topics.input, &first).await;

    let aggregator = start(&topics, &database_url).await;
    let mut client = aggregator.client().await;
    let communities = wait_for("two communities", Duration::from_secs(60), || {
        let mut client = client.clone();
        async move {
            let response = client.list_communities(ListCommunitiesRequest::default()).await.ok()?.into_inner();
            let ready = response.communities.len() == 2
                && response.communities.iter().all(|community| community.metrics.is_some());
            ready.then_some(response.communities)
        }
    })
    .await;
    assert!(
        communities[0].metrics.as_ref().map(|m| m.emergence_score).unwrap_or_default()
            >= communities[1].metrics.as_ref().map(|m| m.emergence_score).unwrap_or_default()
    );
    let mut names: Vec<String> = communities.iter().map(|community| community.name.clone()).collect();
    names.sort();
    for community in &communities {
        assert!(community.is_micro, "12 members is within the 5–100 band");
        assert_eq!(community.channels.len(), 1, "each group talks in one subreddit: {:?}", community.channels);
        assert_eq!(community.platforms, vec![Platform::Reddit as i32]);
        assert!(!community.themes.is_empty(), "themes are computed");
        assert!(!community.key_members.is_empty(), "key members are attached");
        let metrics = community.metrics.unwrap_or_default();
        assert_eq!(metrics.size, 12);
        assert!(metrics.member_to_member_ratio > 0.0);
        assert!((metrics.sentiment_mean - 0.4).abs() < 1e-9);
    }
    let filtered = client
        .list_communities(ListCommunitiesRequest { channel: "sourdough".into(), ..Default::default() })
        .await
        .expect("filtered list")
        .into_inner();
    assert_eq!(filtered.communities.len(), 1);
    assert!(filtered.communities[0].themes.iter().any(|theme| theme.term.contains("sourdough")
        || theme.term.contains("starter")
        || theme.term.contains("crumb")
        || theme.term.contains("hydration")));
    let paged = client
        .list_communities(ListCommunitiesRequest { page_size: 1, ..Default::default() })
        .await
        .expect("page 1")
        .into_inner();
    assert_eq!(paged.communities.len(), 1);
    let page_two = client
        .list_communities(ListCommunitiesRequest {
            page_size: 1,
            page_token: paged.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(page_two.communities.len(), 1);
    assert_ne!(page_two.communities[0].name, paged.communities[0].name);
    let reused = client
        .list_communities(ListCommunitiesRequest {
            page_size: 1,
            page_token: paged.next_page_token,
            channel: "x".into(),
            ..Default::default()
        })
        .await
        .expect_err("a token with other filters");
    assert_eq!(reused.code(), tonic::Code::InvalidArgument);
    let bad = client
        .list_communities(ListCommunitiesRequest { page_size: -1, ..Default::default() })
        .await
        .expect_err("negative page size");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);

    let community =
        client.get_community(GetCommunityRequest { name: names[0].clone() }).await.expect("get community").into_inner();
    assert_eq!(community.name, names[0]);
    let missing = client.get_community(GetCommunityRequest { name: "communities/999999".into() }).await;
    assert_eq!(missing.expect_err("unknown community").code(), tonic::Code::NotFound);
    let malformed = client.get_community(GetCommunityRequest { name: "42".into() }).await;
    assert_eq!(malformed.expect_err("bad name").code(), tonic::Code::InvalidArgument);
    let members = client
        .list_community_members(ListCommunityMembersRequest {
            parent: names[0].clone(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("members")
        .into_inner()
        .members;
    assert_eq!(members.len(), 12);
    let series = client
        .list_community_metrics(ListCommunityMetricsRequest { name: names[0].clone(), ..Default::default() })
        .await
        .expect("series")
        .into_inner()
        .points;
    assert_eq!(series.len(), 3, "one point per closed window");
    let channels = client
        .list_channel_metrics(ListChannelMetricsRequest::default())
        .await
        .expect("channel metrics")
        .into_inner()
        .channels;
    assert_eq!(channels.len(), 6, "two channels × three windows");
    let trend = client
        .get_term_trend(GetTermTrendRequest { term: "crumb".into(), ..Default::default() })
        .await
        .expect("trend of a channel's term")
        .into_inner();
    assert!(!trend.buckets.is_empty() && trend.buckets.iter().all(|bucket| bucket.count > 0));

    // Alerts: on the topic (decoded by a plain consumer), stored, and replayed on the stream.
    let on_topic = tokio::task::spawn_blocking({
        let topic = topics.alerts.clone();
        move || read_all(&topic, 2, Duration::from_secs(30))
    })
    .await
    .expect("reader");
    let decoded: Vec<Alert> =
        on_topic.iter().map(|record| Alert::decode(record.payload.as_slice()).expect("an Alert")).collect();
    let born: Vec<&Alert> = decoded.iter().filter(|alert| alert.kind == AlertKind::CommunityBorn as i32).collect();
    assert_eq!(born.len(), 2, "{decoded:?}");
    for alert in &born {
        assert_eq!(
            on_topic
                .iter()
                .find(|record| record.payload == alert.encode_to_vec())
                .and_then(|record| record.key.clone()),
            Some(alert.subject.clone())
        );
        assert!(names.contains(&alert.subject), "subject {} is a community name", alert.subject);
    }
    let listed = client.list_alerts(ListAlertsRequest::default()).await.expect("list alerts").into_inner().alerts;
    assert_eq!(listed.len(), decoded.len());
    let mut stream = client
        .stream_alerts(StreamAlertsRequest {
            since_time: Some(prost_types::Timestamp::default()),
            ..Default::default()
        })
        .await
        .expect("stream")
        .into_inner();
    let mut streamed = Vec::new();
    while streamed.len() < decoded.len() {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("a replayed alert");
        streamed.push(next.expect("stream open").expect("an alert"));
    }
    let mut streamed_ids: Vec<String> = streamed.iter().map(|alert| alert.id.clone()).collect();
    let mut topic_ids: Vec<String> = decoded.iter().map(|alert| alert.id.clone()).collect();
    streamed_ids.sort();
    topic_ids.sort();
    assert_eq!(streamed_ids, topic_ids);

    let dead = tokio::task::spawn_blocking({
        let topic = topics.deadletter.clone();
        move || read_all(&topic, 2, Duration::from_secs(30))
    })
    .await
    .expect("reader");
    assert_eq!(dead.len(), 2, "the undecodable message and the scored post without a post are dead-lettered");

    // A replay of the same input (and a marker that shows it was consumed) changes nothing.
    let posts_before = count(&database_url, "posts").await;
    let alerts_before = count(&database_url, "alerts").await;
    let metrics_before = count(&database_url, "window_metrics").await;
    let mut replay = first.clone();
    replay.push(scored(
        "marker",
        "runner0",
        None,
        "trailrunning",
        1_750_000_000 / HOUR * HOUR + 3 * HOUR + 100,
        "marker",
    ));
    produce_raw(&topics.input, &replay).await;
    wait_for("the marker", Duration::from_secs(30), || {
        let url = database_url.clone();
        async move { (count(&url, "posts").await == posts_before + 1).then_some(()) }
    })
    .await;
    assert_eq!(count(&database_url, "alerts").await, alerts_before);
    assert_eq!(count(&database_url, "window_metrics").await, metrics_before);

    // Restart mid-stream: the next hour continues the same communities (same ids, no new "born").
    aggregator.stop().await;
    let mut later = conversation(3, 2);
    later.remove(0);
    produce_raw(&topics.input, &later).await;
    let aggregator = start(&topics, &database_url).await;
    let client = aggregator.client().await;
    let expected_points = 5;
    wait_for("two more windows", Duration::from_secs(60), || {
        let mut client = client.clone();
        let name = names[0].clone();
        async move {
            let points = client
                .list_community_metrics(ListCommunityMetricsRequest { name, ..Default::default() })
                .await
                .ok()?
                .into_inner()
                .points;
            (points.len() >= expected_points - 1).then_some(())
        }
    })
    .await;
    assert_eq!(count(&database_url, "communities").await, 2, "no community was duplicated by the restart");
    let mut connection = PgConnection::connect(&database_url).await.expect("connect");
    let born_alerts: i64 = sqlx::query("SELECT count(*) AS n FROM alerts WHERE kind = $1")
        .bind(AlertKind::CommunityBorn as i16)
        .fetch_one(&mut connection)
        .await
        .expect("count")
        .get("n");
    assert_eq!(born_alerts, 2, "the restart did not re-announce the communities");
    aggregator.stop().await;
}
