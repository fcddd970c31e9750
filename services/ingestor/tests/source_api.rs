//! SourceService through a real gRPC client, against the real Postgres (a fresh database per
//! test, migrated by the application at start-up) and the real broker.

use std::time::Duration;

use clap::Parser;
use ingestor::store::WatchStore;
use ingestor::{Application, Config};
use murmur_common::Shutdown;
use murmur_proto::api::v1::source_service_client::SourceServiceClient;
use murmur_proto::api::v1::{
    CreateWatchRequest, DeleteWatchRequest, IngestPostsRequest, ListSourceStatusesRequest, ListWatchesRequest, Watch,
};
use murmur_proto::events::v1::Platform;
use sqlx::{Connection, PgConnection};

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

async fn fresh_database() -> String {
    let name = format!("murmur_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(ADMIN_URL).await.expect("postgres reachable (run scripts/stack up)");
    sqlx::query(&format!("create database {name}")).execute(&mut admin).await.expect("create database");
    format!("postgres://postgres@127.0.0.1:5432/{name}")
}

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
    let database_url = fresh_database().await;
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
        watch(Platform::Bluesky, "rust", ""),
        watch(Platform::X, "rustlang", ""),
    ] {
        client.create_watch(request).await.expect("create");
    }

    // Paging: 5 watches, 2 per page, every watch exactly once.
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
    assert_eq!((seen.len(), unique.len()), (5, 5), "{seen:?}");
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
    assert_eq!(statuses.statuses.len(), 5);
    let status = statuses.statuses.iter().find(|s| s.watch_name == created.name).expect("status of created watch");
    assert_eq!(status.cursor, "t3_abd");

    client.delete_watch(DeleteWatchRequest { name: created.name.clone() }).await.expect("delete");
    let missing = client.delete_watch(DeleteWatchRequest { name: created.name.clone() }).await.expect_err("gone");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    assert_eq!(WatchStore::new(pool.clone()).cursor(created_id).await.expect("query"), None, "cursor deleted too");
    let bad_name = client.delete_watch(DeleteWatchRequest { name: "nonsense".into() }).await.expect_err("bad name");
    assert_eq!(bad_name.code(), tonic::Code::InvalidArgument);

    let not_yet = client.ingest_posts(IngestPostsRequest::default()).await.expect_err("not built yet");
    assert_eq!(not_yet.code(), tonic::Code::Unimplemented);

    shutdown.trigger();
    task.await.expect("join").expect("clean stop");
    pool.close().await;
    let mut admin = PgConnection::connect(ADMIN_URL).await.expect("admin");
    let name = database_url.rsplit('/').next().expect("db name");
    sqlx::query(&format!("drop database if exists {name} with (force)")).execute(&mut admin).await.expect("drop");
}
