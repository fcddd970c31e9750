//! The replay connector as a watch of the running ingestor, through the real broker and Postgres:
//! every line of the file becomes a `Post` on the topic, and a crash (SIGKILL of the binary)
//! part-way resumes from the stored cursor: nothing is skipped (a re-read of the last
//! unacknowledged batch is allowed).

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use clap::Parser;
use ingestor::{Application, Config};
use murmur_common::testing::{fresh_database, fresh_topic, read_all};
use murmur_common::Shutdown;
use murmur_proto::events::v1::Post;
use prost::Message;
use sqlx::{Connection, PgConnection, Row};

const LINES: usize = 600;

/// The replay watch's stored cursor (`None` until the service migrated and stored one).
async fn stored_cursor(database_url: &str) -> Option<String> {
    let mut connection = PgConnection::connect(database_url).await.ok()?;
    sqlx::query("select c.cursor from watch_cursors c join watches w on w.id = c.watch_id where w.platform = 'replay'")
        .fetch_optional(&mut connection)
        .await
        .ok()?
        .map(|row| row.get::<String, _>("cursor"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_file_is_published_whole_across_a_crash() {
    let database_url = fresh_database("murmur_test").await;
    let topic = fresh_topic("ingest-replay", 2).await;
    let path = std::env::temp_dir().join(format!("replay-{}.jsonl", uuid::Uuid::new_v4().simple()));
    let mut file = std::fs::File::create(&path).expect("create replay file");
    for line in 0..LINES {
        let parent = if line % 3 == 0 { String::new() } else { format!(r#","parent_id":"reddit:p{}""#, line - 1) };
        writeln!(
            file,
            r#"{{"id":"reddit:p{line}","platform":"reddit","channel":"running","author":"user{}","text":"post {line} #trail","created_at":"2026-01-01T00:{:02}:{:02}Z"{parent}}}"#,
            line % 50,
            (line / 60) % 60,
            line % 60
        )
        .expect("write line");
    }
    drop(file);
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let config = || {
        Config::parse_from([
            "ingestor".to_string(),
            "--grpc-addr=127.0.0.1:0".into(),
            "--admin-addr=127.0.0.1:0".into(),
            format!("--kafka-brokers={brokers}"),
            format!("--database-url={database_url}"),
            format!("--output-topic={topic}"),
            format!("--replay-file={}", path.display()),
            "--replay-speed=200/s".into(),
            "--min-poll-interval=1s".into(),
            "--dev-mode".into(),
        ])
    };

    // First run: the real binary, killed with SIGKILL part-way through the file (a crash: no
    // shutdown, no flush).
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ingestor"))
        .args([
            "--grpc-addr=127.0.0.1:0",
            "--admin-addr=127.0.0.1:0",
            &format!("--kafka-brokers={brokers}"),
            &format!("--database-url={database_url}"),
            &format!("--output-topic={topic}"),
            &format!("--replay-file={}", path.display()),
            "--replay-speed=200/s",
            "--min-poll-interval=1s",
            "--dev-mode",
        ])
        .env("MURMUR_LOG_FORMAT", "text")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the ingestor binary starts");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stored_cursor(&database_url).await.is_none() {
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("no cursor stored within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let cursor = stored_cursor(&database_url).await.unwrap_or_default();
    let offset: u64 =
        serde_json::from_str::<serde_json::Value>(&cursor).expect("cursor JSON")["offset"].as_u64().expect("offset");
    let size = std::fs::metadata(&path).expect("metadata").len();
    assert!(offset > 0 && offset < size, "stopped part-way: offset {offset} of {size}");

    // Second run resumes from the cursor and finishes the file.
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let app = Application::build(config(), shutdown.clone()).await.expect("builds again");
    let task = tokio::spawn(app.run_until_stopped());
    // Re-reads after the crash are allowed, so read until every line's id is there (or time is up).
    let mut expected = LINES;
    let mut ids: HashSet<String> = HashSet::new();
    let mut records_read = 0;
    for _ in 0..4 {
        let reader_topic = topic.clone();
        let records = tokio::task::spawn_blocking(move || read_all(&reader_topic, expected, Duration::from_secs(60)))
            .await
            .expect("reader");
        records_read = records.len();
        ids = records.iter().map(|record| Post::decode(record.payload.as_slice()).expect("a Post").id).collect();
        if ids.len() == LINES {
            break;
        }
        expected = records.len() + (LINES - ids.len());
    }
    shutdown.trigger();
    task.await.expect("join").expect("clean stop");
    assert_eq!(ids.len(), LINES, "every line published, none skipped ({records_read} records)");
    let _ = std::fs::remove_file(&path);
}
