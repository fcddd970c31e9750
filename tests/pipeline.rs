//! End to end: the simulator's stream goes through the three real binaries (ingestor replay →
//! scorer → aggregator) over the real broker and Postgres. The planted communities are found
//! (NMI and best-match F1 against the ground truth, with a floor), the planted terms fire as weak
//! signals with their explanation and no stable background term does, alerts arrive on the Kafka
//! topic (read by a plain consumer) and on the gRPC stream with the same ids, every service answers
//! through server reflection, and killing the aggregator (SIGKILL) mid-stream then restarting it
//! loses no post and duplicates nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use murmur_common::testing::{fresh_database, fresh_topic, read_all};
use murmur_connectors::normalise::pseudonym::Pseudonymiser;
use murmur_e2e::ServiceProcess;
use murmur_proto::api::v1::insights_service_client::InsightsServiceClient;
use murmur_proto::api::v1::{
    ListCommunitiesRequest, ListCommunityMembersRequest, ListSignalsRequest, StreamAlertsRequest,
};
use murmur_proto::events::v1::{Alert, AlertKind, SignalClass};
use murmur_sim::eval::{score, Detected};
use murmur_sim::generate::{generate, SimConfig};
use prost::Message;
use sqlx::{Connection, PgConnection, Row};
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;

const KEY: &str = "e2e-pseudonymisation-key-not-a-real-secret";
/// Floors on the planted communities' recovery (measured values are printed by the test).
const MIN_NMI: f64 = 0.75;
const MIN_F1: f64 = 0.75;

async fn count(database_url: &str, sql: &str) -> i64 {
    let mut connection = PgConnection::connect(database_url).await.expect("connect");
    match sqlx::query(sql).fetch_one(&mut connection).await {
        Ok(row) => row.try_get::<i64, _>(0).unwrap_or(0),
        Err(_) => 0, // table not migrated yet
    }
}

async fn insights(aggregator: &ServiceProcess) -> InsightsServiceClient<Channel> {
    InsightsServiceClient::connect(format!("http://{}", aggregator.grpc_addr)).await.expect("aggregator gRPC")
}

/// Lists the services a binary's gRPC reflection names.
async fn reflected_services(service: &ServiceProcess) -> Vec<String> {
    let channel =
        Channel::from_shared(format!("http://{}", service.grpc_addr)).expect("uri").connect().await.expect("connect");
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses =
        client.server_reflection_info(tokio_stream::iter(vec![request])).await.expect("reflection").into_inner();
    let response = responses.next().await.expect("a response").expect("ok");
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => list.service.into_iter().map(|s| s.name).collect(),
        other => panic!("{}: unexpected reflection answer {other:?}", service.name),
    }
}

/// Follows the aggregator's alert stream from the beginning (or after `after`), collecting alerts
/// until the stream ends (the process stops or dies).
fn follow_alerts(
    mut client: InsightsServiceClient<Channel>,
    after: Option<String>,
) -> tokio::task::JoinHandle<Vec<Alert>> {
    tokio::spawn(async move {
        let request = StreamAlertsRequest {
            after_alert_id: after.clone().unwrap_or_default(),
            since_time: after.is_none().then_some(prost_types::Timestamp { seconds: 0, nanos: 0 }),
            ..StreamAlertsRequest::default()
        };
        let mut received = Vec::new();
        let Ok(response) = client.stream_alerts(request).await else { return received };
        let mut stream = response.into_inner();
        while let Some(Ok(alert)) = stream.next().await {
            received.push(alert);
        }
        received
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_stream_is_found_end_to_end_across_an_aggregator_kill() {
    let started = Instant::now();
    // The stream and its truth.
    let sim = generate(&SimConfig::default());
    let dir: PathBuf = std::env::temp_dir().join(format!("murmur-e2e-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let stream_path = dir.join("stream.jsonl");
    let lines: Vec<String> = sim.records.iter().map(|record| serde_json::to_string(record).expect("json")).collect();
    std::fs::write(&stream_path, lines.join("\n") + "\n").expect("write stream");
    let total = sim.records.len() as i64;
    eprintln!("stream: {total} posts, {} planted communities", sim.truth.planted().count());

    let raw = fresh_topic("e2e-raw", 3).await;
    let scored = fresh_topic("e2e-scored", 3).await;
    let alerts_topic = fresh_topic("e2e-alerts", 3).await;
    let deadletter = fresh_topic("e2e-dlq", 1).await;
    let database_url = fresh_database("murmur_e2e").await;
    let stream_file = stream_path.to_string_lossy().into_owned();

    let scorer_group = format!("scorer-{scored}");
    let mut scorer = ServiceProcess::start(
        "sentiment-scorer",
        &[],
        &[
            ("MURMUR_INPUT_TOPIC", &raw),
            ("MURMUR_OUTPUT_TOPIC", &scored),
            ("MURMUR_DEADLETTER_TOPIC", &deadletter),
            ("KAFKA_GROUP_ID", &scorer_group),
        ],
    );
    let aggregator_group = format!("aggregator-{scored}");
    let aggregator_env: Vec<(&str, &str)> = vec![
        ("MURMUR_INPUT_TOPIC", &scored),
        ("MURMUR_ALERTS_TOPIC", &alerts_topic),
        ("MURMUR_DEADLETTER_TOPIC", &deadletter),
        ("KAFKA_GROUP_ID", &aggregator_group),
        ("DATABASE_URL", &database_url),
        ("MURMUR_SNAPSHOT_INTERVAL", "5s"),
        // The killed member leaves the group after its session timeout; keep that short here.
        ("KAFKA_OPTIONS", "session.timeout.ms=10000"),
    ];
    scorer.wait_ready(Duration::from_secs(60)).await;

    // The ingestor replays the stream at a fixed rate, so the kill below lands mid-stream.
    let mut ingestor = ServiceProcess::start(
        "ingestor",
        &[],
        &[
            ("MURMUR_OUTPUT_TOPIC", &raw),
            ("DATABASE_URL", &database_url),
            ("MURMUR_HMAC_KEY", KEY),
            ("MURMUR_REPLAY_FILE", &stream_file),
            ("MURMUR_REPLAY_SPEED", "1000/s"),
        ],
    );
    ingestor.wait_ready(Duration::from_secs(60)).await;
    // One consumer group joins at a time: tansu's coordinator can stall on concurrent joins.
    wait_for_metric(&mut scorer, "murmur_kafka_consumed_total", Duration::from_secs(120)).await;
    let mut aggregator = ServiceProcess::start("metrics-aggregator", &[], &aggregator_env);
    aggregator.wait_ready(Duration::from_secs(60)).await;
    let first_stream = follow_alerts(insights(&aggregator).await, None);

    // Every service answers through reflection with its own API.
    for (service, api) in [
        (&ingestor, "murmur.api.v1.SourceService"),
        (&scorer, "murmur.api.v1.SentimentService"),
        (&aggregator, "murmur.api.v1.InsightsService"),
    ] {
        let names = reflected_services(service).await;
        assert!(names.iter().any(|name| name == api), "{} lists {names:?}", service.name);
    }

    // Kill the aggregator once it stored about a third of the stream, then start it again.
    let deadline = Instant::now() + Duration::from_secs(180);
    while count(&database_url, "SELECT count(*) FROM posts").await < total / 3 {
        assert!(Instant::now() < deadline, "aggregator stored too little:\n{}", aggregator.output().join("\n"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stored_at_kill = count(&database_url, "SELECT count(*) FROM posts").await;
    let pid = aggregator.pid();
    let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    let status = aggregator.wait_exit(Duration::from_secs(10)).await;
    assert!(!status.success(), "SIGKILL must not look like a clean exit");
    let before_kill = first_stream.await.expect("stream task");
    eprintln!(
        "killed the aggregator at {stored_at_kill}/{total} stored posts; {} alerts streamed before",
        before_kill.len()
    );
    // A crashed member stays in tansu's group (as its leader) until its session times out, and a
    // member joining before that is handed no partitions and never rebalanced: restart after the
    // session timeout, as a crash-looping pod's back-off would. (Kafka itself rebalances.)
    tokio::time::sleep(Duration::from_secs(12)).await;
    let mut aggregator = ServiceProcess::start("metrics-aggregator", &[], &aggregator_env);
    aggregator.wait_ready(Duration::from_secs(120)).await;
    let second_stream = follow_alerts(insights(&aggregator).await, before_kill.last().map(|alert| alert.id.clone()));

    // Nothing is lost: every post of the stream ends up stored exactly once.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let stored = count(&database_url, "SELECT count(*) FROM posts").await;
        if stored == total {
            break;
        }
        assert!(stored <= total, "more rows ({stored}) than posts ({total})");
        assert!(
            Instant::now() < deadline,
            "{stored}/{total} posts stored\ningestor:\n{}\naggregator:\n{}",
            ingestor.output().join("\n"),
            aggregator.output().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("all {total} posts stored after {:.1} s", started.elapsed().as_secs_f64());

    // Detection catches up: the last closed hourly window is the stream's hour 35.
    let last_window_end = chrono_seconds(&sim.truth.end) - 3_600;
    let client = insights(&aggregator).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let communities = loop {
        let communities = list_communities(&client).await;
        let newest = communities
            .iter()
            .filter_map(|community| community.metrics.as_ref()?.window_end.as_ref().map(|end| end.seconds))
            .max()
            .unwrap_or(0);
        if newest >= last_window_end {
            break communities;
        }
        assert!(
            Instant::now() < deadline,
            "detection stuck at window end {newest}:\n{}",
            aggregator.output().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // The planted communities are found.
    let mut detected = Vec::new();
    for community in &communities {
        let members = all_pages(|page_token| {
            let mut client = client.clone();
            let parent = community.name.clone();
            async move {
                let page = client
                    .list_community_members(ListCommunityMembersRequest {
                        parent,
                        page_size: 500,
                        page_token,
                        ..ListCommunityMembersRequest::default()
                    })
                    .await
                    .expect("members")
                    .into_inner();
                (page.members.into_iter().map(|member| member.actor_id).collect(), page.next_page_token)
            }
        })
        .await;
        detected.push(Detected { id: community.name.clone(), members });
    }
    let pseudonymiser = Pseudonymiser::new(KEY.as_bytes()).expect("key");
    let found = score(&sim.truth, &detected, |platform, handle| pseudonymiser.pseudonymise(platform, handle));
    eprintln!(
        "communities: {} detected; NMI {:.3}, mean best-match F1 {:.3}",
        detected.len(),
        found.nmi,
        found.mean_f1
    );
    for planted in &found.planted {
        eprintln!(
            "  {:<14} size {:>3} -> {} size {:>4}: precision {:.3} recall {:.3} F1 {:.3}",
            planted.planted,
            planted.size,
            planted.detected,
            planted.detected_size,
            planted.precision,
            planted.recall,
            planted.f1
        );
    }
    assert!(found.nmi >= MIN_NMI, "NMI {:.3} below {MIN_NMI}", found.nmi);
    for planted in &found.planted {
        assert!(planted.f1 >= MIN_F1, "{} found with F1 {:.3} only", planted.planted, planted.f1);
    }

    // The planted terms fire with their explanation; no stable background term does.
    let signals = list_signals(&client).await;
    let mut first_fired: BTreeMap<String, i64> = BTreeMap::new();
    for signal in &signals {
        let detail = signal.signal.as_ref().expect("signal detail");
        let at = signal.bucket_start.as_ref().map(|at| at.seconds).unwrap_or_default();
        first_fired.entry(detail.term.clone()).and_modify(|first| *first = (*first).min(at)).or_insert(at);
    }
    let normalise = |term: &str| fold(term.trim_start_matches('#'));
    for planted in &sim.truth.signals {
        let fired: Vec<_> = signals
            .iter()
            .filter_map(|signal| signal.signal.as_ref())
            .filter(|detail| normalise(&detail.term) == normalise(&planted.term))
            .collect();
        assert!(!fired.is_empty(), "planted term {} never fired; fired: {:?}", planted.term, first_fired.keys());
        let best = fired.iter().max_by(|a, b| a.significance.total_cmp(&b.significance)).expect("one");
        assert!(best.significance >= 3.0 && best.distinct_authors >= 5 && best.count > 0, "{best:?}");
        assert!(best.first_seen.is_some() && best.baseline_std >= 0.0, "no explanation: {best:?}");
        let first = first_fired
            .iter()
            .filter(|(term, _)| normalise(term) == normalise(&planted.term))
            .map(|(_, at)| *at)
            .min()
            .unwrap_or_default();
        eprintln!(
            "  signal {:<14} onset {} first fired in the bucket starting {:+.1} h after onset (z {:.1}, {} authors, {} channels)",
            planted.term,
            planted.onset,
            (first - chrono_seconds(&planted.onset)) as f64 / 3_600.0,
            best.significance,
            best.distinct_authors,
            best.distinct_channels
        );
    }
    let background: BTreeSet<String> = sim.truth.background_terms.iter().map(|term| normalise(term)).collect();
    let false_alarms: Vec<&String> = first_fired.keys().filter(|term| background.contains(&normalise(term))).collect();
    assert!(false_alarms.is_empty(), "stable background terms fired: {false_alarms:?}");
    let planted_terms: BTreeSet<String> = sim.truth.signals.iter().map(|signal| normalise(&signal.term)).collect();
    // A planted community's rising vocabulary, word by word (`garde-boue` is extracted as `garde boue`).
    let niche: BTreeSet<String> = sim
        .truth
        .planted()
        .flat_map(|community| community.vocabulary.iter())
        .chain(sim.truth.signals.iter().map(|signal| &signal.term))
        .flat_map(|word| fold(word).split(|c: char| !c.is_alphanumeric()).map(str::to_string).collect::<Vec<_>>())
        .filter(|word| !word.is_empty())
        .collect();
    let is_niche = |term: &str| normalise(term).split_whitespace().all(|word| niche.contains(word));
    let other: Vec<&String> =
        first_fired.keys().filter(|term| !planted_terms.contains(&normalise(term)) && !is_niche(term)).collect();
    eprintln!(
        "signals: {} terms fired: {} planted, {} from the planted communities' rising vocabulary, other: {other:?}",
        first_fired.len(),
        first_fired.keys().filter(|term| planted_terms.contains(&normalise(term))).count(),
        first_fired.keys().filter(|term| !planted_terms.contains(&normalise(term)) && is_niche(term)).count()
    );

    // Alerts: stored once each, on the topic (plain consumer) and on the gRPC stream, same ids.
    let stored_alerts = count(&database_url, "SELECT count(*) FROM alerts").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&database_url, "SELECT count(*) FROM alerts WHERE NOT published").await > 0 {
        assert!(Instant::now() < deadline, "alerts never published");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let on_topic: Vec<Alert> = read_all(&alerts_topic, stored_alerts as usize, Duration::from_secs(60))
        .into_iter()
        .map(|record| Alert::decode(record.payload.as_slice()).expect("alert decodes"))
        .collect();
    let topic_ids: BTreeSet<&str> = on_topic.iter().map(|alert| alert.id.as_str()).collect();
    assert_eq!(topic_ids.len() as i64, stored_alerts, "topic alerts vs stored alerts");
    let kinds: BTreeSet<i32> = on_topic.iter().map(|alert| alert.kind).collect();
    assert!(kinds.contains(&(AlertKind::CommunityBorn as i32)), "no community-born alert: {kinds:?}");
    // A planted term caught while below 1% of a bucket's posts has a weak-signal alert with its
    // explanation; one that was already visible when it became significant fired strong, which the
    // alerting leaves alone (it only escalates terms it reported weak first).
    let mut detected_while_weak = 0;
    for planted in &sim.truth.signals {
        let alerts: Vec<&Alert> = on_topic
            .iter()
            .filter(|alert| normalise(&alert.subject) == normalise(&planted.term) && !alert.summary.is_empty())
            .collect();
        let weak = alerts.iter().any(|alert| alert.kind == AlertKind::WeakSignalDetected as i32);
        if weak {
            detected_while_weak += 1;
            eprintln!("  alert for {}: weak signal detected", planted.term);
            continue;
        }
        let first = signals
            .iter()
            .filter(|signal| signal.signal.as_ref().is_some_and(|s| normalise(&s.term) == normalise(&planted.term)))
            .min_by_key(|signal| signal.bucket_start.as_ref().map(|at| at.seconds))
            .and_then(|signal| signal.signal.as_ref())
            .expect("it fired");
        assert_eq!(first.class, SignalClass::Strong as i32, "{} fired weak without an alert", planted.term);
        eprintln!(
            "  no alert for {}: first significant as a strong signal (already visible, {} posts in the bucket)",
            planted.term, first.count
        );
    }
    assert!(detected_while_weak >= 2, "only {detected_while_weak} planted terms were caught while weak");
    // The user CLI answers from the same API: the best-matching community and a planted term.
    let best = &found.planted[0];
    let listed = murmurctl(&aggregator, &ingestor, &["-o", "json", "communities", "--limit", "200"]);
    assert!(
        listed.contains(&format!("\"{}\"", best.detected)),
        "murmurctl communities lacks {}:\n{listed}",
        best.detected
    );
    let signals_out = murmurctl(&aggregator, &ingestor, &["-o", "json", "signals", "--limit", "500"]);
    assert!(signals_out.contains("\"glowtape\""), "murmurctl signals lacks glowtape:\n{signals_out}");
    let watches = murmurctl(&aggregator, &ingestor, &["watch", "list"]);
    assert!(
        watches.contains("stream.jsonl") && watches.contains(&total.to_string()),
        "murmurctl watch list lacks the replay watch and its {total} posts:\n{watches}"
    );

    // Stop the aggregator cleanly: its alert stream ends, and holds what the topic holds.
    let exit = aggregator.terminate(Duration::from_secs(30)).await;
    assert!(exit.success(), "aggregator exit {exit}");
    let after_restart = second_stream.await.expect("stream task");
    let streamed: BTreeSet<&str> =
        before_kill.iter().chain(after_restart.iter()).map(|alert| alert.id.as_str()).collect();
    assert_eq!(streamed, topic_ids, "gRPC stream and Kafka topic disagree");
    eprintln!(
        "alerts: {stored_alerts} stored, {} messages on the topic ({} distinct), {} streamed over gRPC across the restart",
        on_topic.len(),
        topic_ids.len(),
        before_kill.len() + after_restart.len()
    );

    assert_eq!(count(&database_url, "SELECT count(*) FROM posts").await, total, "posts after the restart");
    for service in [&mut ingestor, &mut scorer] {
        let exit = service.terminate(Duration::from_secs(30)).await;
        assert!(exit.success(), "{} exit {exit}", service.name);
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("end to end in {:.1} s", started.elapsed().as_secs_f64());
}

/// Runs the `murmurctl` binary against the running services; returns its standard output.
fn murmurctl(aggregator: &ServiceProcess, ingestor: &ServiceProcess, args: &[&str]) -> String {
    let output = std::process::Command::new(murmur_e2e::binary("murmurctl"))
        .args(["--insights-addr", &format!("http://{}", aggregator.grpc_addr)])
        .args(["--source-addr", &format!("http://{}", ingestor.grpc_addr)])
        .args(args)
        .output()
        .expect("murmurctl runs");
    assert!(output.status.success(), "murmurctl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Waits until a service's counter (summed over labels) is positive.
async fn wait_for_metric(service: &mut ServiceProcess, name: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok((200, body)) = service.admin_get("/metrics").await {
            let total: f64 = body
                .lines()
                .filter(|line| line.starts_with(name))
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            if total > 0.0 {
                return;
            }
        }
        if Instant::now() >= deadline {
            let output = service.output().join("\n");
            panic!("{}: {name} stayed 0:\n{output}", service.name);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Lowercase without diacritics, as the term extractor folds them (`vélocargo` → `velocargo`).
fn fold(term: &str) -> String {
    term.to_lowercase()
        .chars()
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            other => other,
        })
        .collect()
}

fn chrono_seconds(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339).expect("rfc3339").timestamp()
}

/// Every item of a paged RPC: `fetch(page_token)` returns one page's items and the next token.
async fn all_pages<T, Fut>(mut fetch: impl FnMut(String) -> Fut) -> Vec<T>
where
    Fut: std::future::Future<Output = (Vec<T>, String)>,
{
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let (items, next) = fetch(page_token).await;
        all.extend(items);
        if next.is_empty() {
            return all;
        }
        page_token = next;
    }
}

async fn list_communities(client: &InsightsServiceClient<Channel>) -> Vec<murmur_proto::api::v1::Community> {
    all_pages(|page_token| {
        let mut client = client.clone();
        async move {
            let page = client
                .list_communities(ListCommunitiesRequest {
                    page_size: 500,
                    page_token,
                    ..ListCommunitiesRequest::default()
                })
                .await
                .expect("list communities")
                .into_inner();
            (page.communities, page.next_page_token)
        }
    })
    .await
}

async fn list_signals(client: &InsightsServiceClient<Channel>) -> Vec<murmur_proto::api::v1::Signal> {
    all_pages(|page_token| {
        let mut client = client.clone();
        async move {
            let page = client
                .list_signals(ListSignalsRequest {
                    start_time: Some(prost_types::Timestamp { seconds: 0, nanos: 0 }),
                    end_time: Some(prost_types::Timestamp { seconds: 4_000_000_000, nanos: 0 }),
                    page_size: 500,
                    page_token,
                    ..ListSignalsRequest::default()
                })
                .await
                .expect("list signals")
                .into_inner();
            (page.signals, page.next_page_token)
        }
    })
    .await
}
