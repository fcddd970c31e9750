//! The scheduler end to end: a watch created over gRPC is polled against a local server
//! replaying Bluesky's searchPosts format, its posts reach the real broker once each with
//! their reply links, and the cursor and status land in the real Postgres.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::Uri;
use axum::routing::get;
use axum::Router;
use clap::Parser;
use ingestor::{Application, Config};
use murmur_common::testing::{fresh_topic, read_all};
use murmur_common::Shutdown;
use murmur_proto::api::v1::source_service_client::SourceServiceClient;
use murmur_proto::api::v1::{CreateWatchRequest, ListSourceStatusesRequest, Watch};
use murmur_proto::events::v1::{Platform, Post};
use prost::Message;
use sqlx::{Connection, PgConnection};

const PAGE_ONE: &str = include_str!("../connectors/tests/fixtures/bluesky_search_rust.json");
const PAGE_TWO: &str = include_str!("../connectors/tests/fixtures/bluesky_search_rust_page2.json");
const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Serves page one, or page two when asked with its cursor (`since` is ignored, so every poll
/// sees the same newest posts again: they must not be published twice).
async fn bluesky_server() -> String {
    let app = Router::new().route(
        "/xrpc/app.bsky.feed.searchPosts",
        get(|uri: Uri| async move {
            let asks_page_two = uri.query().unwrap_or_default().split('&').any(|pair| pair == "cursor=page2");
            let page = if asks_page_two { PAGE_TWO } else { PAGE_ONE };
            ([("content-type", "application/json")], page)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}/xrpc")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_is_polled_and_its_posts_published_once_with_reply_links() {
    let database = format!("murmur_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(ADMIN_URL).await.expect("postgres reachable (run scripts/stack up)");
    sqlx::query(&format!("create database {database}")).execute(&mut admin).await.expect("create database");
    let output_topic = fresh_topic("ingestor-out", 2).await;
    let bluesky_url = bluesky_server().await;
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let config = Config::parse_from([
        "ingestor",
        "--grpc-addr=127.0.0.1:0",
        "--admin-addr=127.0.0.1:0",
        &format!("--kafka-brokers={brokers}"),
        &format!("--database-url=postgres://postgres@127.0.0.1:5432/{database}"),
        &format!("--output-topic={output_topic}"),
        &format!("--bluesky-url={bluesky_url}"),
        "--hmac-key=0123456789abcdef-test-key",
        "--watch-refresh=200ms",
        "--min-poll-interval=500ms",
        "--max-poll-interval=1s",
    ]);
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let app = Application::build(config, shutdown.clone()).await.expect("ingestor builds");
    let grpc_addr = app.grpc_addr();
    let task = tokio::spawn(app.run_until_stopped());
    let mut client = SourceServiceClient::connect(format!("http://{grpc_addr}")).await.expect("connect");
    let watch = client
        .create_watch(CreateWatchRequest {
            watch: Some(Watch { platform: Platform::Bluesky as i32, target: "rust".into(), ..Default::default() }),
        })
        .await
        .expect("create watch")
        .into_inner();

    // The first poll reads only the newest page (two replies); later polls stop at the time
    // watermark, so page two's older root is never fetched. Several polls run while we read.
    let topic = output_topic.clone();
    let records =
        tokio::task::spawn_blocking(move || read_all(&topic, 4, Duration::from_secs(8))).await.expect("reader");
    let posts: Vec<Post> = records.iter().map(|r| Post::decode(r.payload.as_slice()).expect("post decodes")).collect();
    let ids: Vec<&str> = posts.iter().map(|post| post.id.as_str()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "a post was published twice: {ids:?}");
    let root = "bluesky:at://did:plc:alice111/app.bsky.feed.post/3lroot";
    let reply1 = "bluesky:at://did:plc:bob111/app.bsky.feed.post/3lreply1";
    let reply2 = "bluesky:at://did:plc:carol111/app.bsky.feed.post/3lreply2";
    assert_eq!(unique, BTreeSet::from([reply1, reply2]), "published: {ids:?}");
    let by_id = |id: &str| posts.iter().find(|post| post.id == id).expect("post");
    assert_eq!(by_id(reply1).parent_id, root, "the root is linked even though it was not fetched");
    assert_eq!(by_id(reply2).parent_id, reply1);
    assert_eq!(by_id(reply2).root_id, root);
    for post in &posts {
        assert!(!post.author_id.contains("did:plc"), "author must be pseudonymised: {}", post.author_id);
        assert_eq!(post.author_id.len(), 64, "hex HMAC-SHA256");
    }
    for record in &records {
        assert_eq!(record.key.as_deref(), Some("bluesky:#rust"), "key = platform:channel");
    }

    let statuses =
        client.list_source_statuses(ListSourceStatusesRequest::default()).await.expect("status").into_inner();
    let status = statuses.statuses.iter().find(|s| s.watch_name == watch.name).expect("status");
    assert_eq!(status.posts_published, 2, "later polls found nothing new");
    assert!(!status.cursor.is_empty(), "cursor stored after publishing");
    assert!(status.last_success_time.is_some());
    assert!(status.next_poll_time.is_some());

    shutdown.trigger();
    task.await.expect("join").expect("clean stop");
    sqlx::query(&format!("drop database if exists {database} with (force)")).execute(&mut admin).await.expect("drop");
}
