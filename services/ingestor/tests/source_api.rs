//! SourceService through a real gRPC client, against the real Postgres (a fresh database per
//! test, migrated by the application at start-up) and the real broker.

use std::time::Duration;

use clap::Parser;
use ingestor::store::WatchStore;
use ingestor::{Application, Config};
use murmur_common::testing::{fresh_database, fresh_topic, read_all};
use murmur_common::Shutdown;
use murmur_proto::api::v1::source_service_client::SourceServiceClient;
use murmur_proto::api::v1::{
    CreateWatchRequest, DeleteWatchRequest, IngestPostsRequest, ListSourceStatusesRequest, ListWatchesRequest, Watch,
};
use murmur_proto::events::v1::{Platform, Post};
use prost::Message;
use sqlx::{Connection, PgConnection};

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn watch(platform: Platform, target: &str, instance: &str) -> CreateWatchRequest {
    CreateWatchRequest {
        watch: Some(Watch {
            platform: platform as i32,
            target: target.into(),
            instance: instance.into(),
            ..Default::default()
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_are_created_idempotently_validated_paged_and_deleted() {
    let database_url = fresh_database("murmur_test").await;
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let config = Config::parse_from([
        "ingestor",
        "--grpc-addr=127.0.0.1:0",
        "--admin-addr=127.0.0.1:0",
        &format!("--kafka-brokers={brokers}"),
        &format!("--database-url={database_url}"),
        "--dev-mode",
    ]);
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let app = Application::build(config, shutdown.clone()).await.expect("ingestor builds and migrates");
    let grpc_addr = app.grpc_addr();
    let task = tokio::spawn(app.run_until_stopped());
    let mut client = SourceServiceClient::connect(format!("http://{grpc_addr}")).await.expect("connect");

    let created = client.create_watch(watch(Platform::Reddit, "r/rust", "")).await.expect("create").into_inner();
    assert_eq!(created.target, "rust");
    assert!(created.name.starts_with("watches/"));
    let again = client.create_watch(watch(Platform::Reddit, "rust", "")).await.expect("create again").into_inner();
    assert_eq!(again.name, created.name, "creating the same watch twice returns the first one");

    let refused = client.create_watch(watch(Platform::Reddit, "no spaces allowed", "")).await.expect_err("invalid");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let refused = client.create_watch(watch(Platform::Mastodon, "rstats", "")).await.expect_err("no instance");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("instance"), "{}", refused.message());

    for request in [
        watch(Platform::Mastodon, "#rstats", "mastodon.social"),
        watch(Platform::Telegram, "durov", ""),
        watch(Platform::Telegram, "bot", ""),
        watch(Platform::Bluesky, "rust", ""),
        watch(Platform::X, "rustlang", ""),
    ] {
        client.create_watch(request).await.expect("create");
    }

    // Paging: 6 watches, 2 per page, every watch exactly once.
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_watches(ListWatchesRequest { page_size: 2, page_token: page_token.clone(), ..Default::default() })
            .await
            .expect("list")
            .into_inner();
        assert!(page.watches.len() <= 2);
        seen.extend(page.watches.into_iter().map(|w| w.name));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (6, 6), "{seen:?}");
    let mastodon_only = client
        .list_watches(ListWatchesRequest { platform: Platform::Mastodon as i32, ..Default::default() })
        .await
        .expect("filtered")
        .into_inner();
    assert_eq!(mastodon_only.watches.len(), 1);
    assert_eq!(mastodon_only.watches[0].instance, "mastodon.social");
    let bad_token = client
        .list_watches(ListWatchesRequest { page_token: "garbage".into(), ..Default::default() })
        .await
        .expect_err("bad token");
    assert_eq!(bad_token.code(), tonic::Code::InvalidArgument);

    // A cursor stored by the scheduler shows in the source status.
    let created_id: i64 = created.name.trim_start_matches("watches/").parse().expect("id");
    let pool = sqlx::PgPool::connect(&database_url).await.expect("pool");
    WatchStore::new(pool.clone()).save_cursor(created_id, "t3_abc").await.expect("save cursor");
    WatchStore::new(pool.clone()).save_cursor(created_id, "t3_abd").await.expect("upsert cursor");
    let statuses =
        client.list_source_statuses(ListSourceStatusesRequest::default()).await.expect("statuses").into_inner();
    assert_eq!(statuses.statuses.len(), 6);
    let status = statuses.statuses.iter().find(|s| s.watch_name == created.name).expect("status of created watch");
    assert_eq!(status.cursor, "t3_abd");

    client.delete_watch(DeleteWatchRequest { name: created.name.clone() }).await.expect("delete");
    let missing = client.delete_watch(DeleteWatchRequest { name: created.name.clone() }).await.expect_err("gone");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    assert_eq!(WatchStore::new(pool.clone()).cursor(created_id).await.expect("query"), None, "cursor deleted too");
    let bad_name = client.delete_watch(DeleteWatchRequest { name: "nonsense".into() }).await.expect_err("bad name");
    assert_eq!(bad_name.code(), tonic::Code::InvalidArgument);

    let empty = client.ingest_posts(IngestPostsRequest::default()).await.expect_err("no posts");
    assert_eq!(empty.code(), tonic::Code::InvalidArgument);

    shutdown.trigger();
    task.await.expect("join").expect("clean stop");
    pool.close().await;
    let mut admin = PgConnection::connect(ADMIN_URL).await.expect("admin");
    let name = database_url.rsplit('/').next().expect("db name");
    sqlx::query(&format!("drop database if exists {name} with (force)")).execute(&mut admin).await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_posts_are_normalised_pseudonymised_and_published_and_watches_come_from_a_file() {
    let database_url = fresh_database("murmur_test").await;
    let topic = fresh_topic("ingest-push", 2).await;
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let watches_file = std::env::temp_dir().join(format!("watches-{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(
        &watches_file,
        r##"[{"platform": "reddit", "target": "r/running"},
            {"platform": "mastodon", "target": "#rstats", "instance": "fosstodon.org", "poll_interval_seconds": 120}]"##,
    )
    .expect("write the watches file");
    let args = |file: &std::path::Path| {
        vec![
            "ingestor".to_string(),
            "--grpc-addr=127.0.0.1:0".into(),
            "--admin-addr=127.0.0.1:0".into(),
            format!("--kafka-brokers={brokers}"),
            format!("--database-url={database_url}"),
            format!("--output-topic={topic}"),
            format!("--watches-file={}", file.display()),
            "--dev-mode".into(),
        ]
    };
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let app = Application::build(Config::parse_from(args(&watches_file)), shutdown.clone()).await.expect("builds");
    let grpc_addr = app.grpc_addr();
    let task = tokio::spawn(app.run_until_stopped());
    let mut client = SourceServiceClient::connect(format!("http://{grpc_addr}")).await.expect("connect");

    let watches = client.list_watches(ListWatchesRequest::default()).await.expect("list").into_inner().watches;
    let mut targets: Vec<(i32, String)> = watches.iter().map(|watch| (watch.platform, watch.target.clone())).collect();
    targets.sort();
    assert_eq!(
        targets,
        vec![(Platform::Reddit as i32, "running".to_string()), (Platform::Mastodon as i32, "rstats".to_string())]
    );

    let post = |id: &str, author: &str, text: &str| Post {
        id: id.into(),
        platform: Platform::Reddit as i32,
        channel: "running".into(),
        author_id: author.into(),
        text: text.into(),
        created_at: Some(prost_types::Timestamp { seconds: 1_750_000_000, nanos: 0 }),
        ..Default::default()
    };
    let mut reply = post("c2", "bob", "agreed u/alice \u{200b}#Trail");
    reply.parent_id = "c1".into();
    let request = IngestPostsRequest {
        posts: vec![
            post("c1", "alice", "first long run"),
            reply,
            Post { platform: Platform::Reddit as i32, channel: "running".into(), ..Default::default() },
        ],
    };
    let response = client.ingest_posts(request).await.expect("ingest").into_inner();
    assert_eq!((response.accepted, response.rejected), (2, 1));
    assert!(response.errors[0].starts_with("posts[2]: id"), "{:?}", response.errors);
    let too_many = IngestPostsRequest { posts: vec![post("x", "a", "b"); 1_001] };
    assert_eq!(client.ingest_posts(too_many).await.expect_err("too many").code(), tonic::Code::InvalidArgument);

    let reader_topic = topic.clone();
    let records =
        tokio::task::spawn_blocking(move || read_all(&reader_topic, 2, Duration::from_secs(90))).await.expect("reader");
    assert_eq!(records.len(), 2);
    let published: Vec<Post> =
        records.iter().map(|record| Post::decode(record.payload.as_slice()).expect("a Post")).collect();
    let first = published.iter().find(|post| post.id == "reddit:c1").expect("c1 with its platform prefix");
    let second = published.iter().find(|post| post.id == "reddit:c2").expect("c2");
    assert_eq!(records[0].key.as_deref(), Some("reddit:running"));
    assert_eq!(first.author_id.len(), 64, "pseudonymised (hex HMAC-SHA256)");
    assert_ne!(first.author_id, "alice");
    assert_eq!(second.parent_id, "reddit:c1");
    assert_eq!(second.mentions, vec![first.author_id.clone()], "u/alice is the same pseudonym as alice's posts");
    assert!(second.hashtags.contains(&"trail".to_string()));
    assert!(!second.text.contains('\u{200b}'), "zero-width characters are removed");

    shutdown.trigger();
    task.await.expect("join").expect("clean stop");

    // A broken watches file stops the start with a message naming the file and the entry.
    std::fs::write(&watches_file, r#"[{"platform": "myspace", "target": "x"}]"#).expect("write");
    let error = Application::build(Config::parse_from(args(&watches_file)), Shutdown::new(Duration::from_secs(1)))
        .await
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(error.contains("entry 0") && error.contains("myspace"), "{error}");
    let _ = std::fs::remove_file(&watches_file);
}
