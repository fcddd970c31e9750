//! Replay connector: the JSONL format, item errors for bad lines, cursor resume, pacing.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{fixture, normaliser, pseudonym};
use murmur_connectors::replay::{ReplayConfig, ReplayConnector, ReplaySpeed};
use murmur_connectors::{ItemErrorKind, WatchSpec};
use murmur_proto::events::v1::PostKind;

fn write_temp(name: &str, contents: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("murmur-replay-{}-{name}", std::process::id()));
    std::fs::File::create(&path).unwrap().write_all(contents).unwrap();
    path
}

#[tokio::test]
async fn reads_every_valid_line_and_counts_bad_ones() {
    let path = write_temp("small.jsonl", fixture("replay_small.jsonl").as_bytes());
    let connector = ReplayConnector::new(ReplayConfig::new(&path), normaliser()).unwrap();
    let outcome = connector.poll(&WatchSpec::Replay, None).await.unwrap();
    let ids: Vec<&str> = outcome.posts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, vec!["reddit:t3_root1", "reddit:t1_c1", "reddit:t1_c2", "mastodon:example.social/9"]);
    let bad_lines: Vec<(&str, ItemErrorKind)> =
        outcome.item_errors.iter().map(|e| (e.item_ref.as_str(), e.kind)).collect();
    assert_eq!(bad_lines, vec![("line 3", ItemErrorKind::Malformed), ("line 5", ItemErrorKind::Malformed)]);

    let root = &outcome.posts[0];
    assert_eq!(root.author_id, pseudonym("reddit", "alice"));
    assert_eq!(root.text, "Announcing #Rust 2.0 now", "normalised like live data");
    assert_eq!(root.hashtags, vec!["rust"]);
    assert_eq!(root.root_id, root.id);
    let comment = &outcome.posts[1];
    assert_eq!(comment.kind, PostKind::Comment as i32);
    assert_eq!(comment.mentions, vec![pseudonym("reddit", "alice")]);
    assert_eq!(outcome.posts[2].kind, PostKind::Reply as i32);
    assert!(outcome.posts[2].edited);
    assert_eq!(outcome.posts[3].author_id, "abcdef");

    let again = connector.poll(&WatchSpec::Replay, Some(&outcome.next_cursor)).await.unwrap();
    assert!(again.posts.is_empty() && again.item_errors.is_empty(), "cursor at end of file");

    // Appended lines are picked up from the cursor (tailing a growing file).
    let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    let appended: &[u8] = b"{\"id\":\"x:77\",\"platform\":\"x\",\"channel\":\"#rust\",\"text\":\"late\",\
                            \"created_at\":\"2026-03-01T11:00:00Z\"}\n\xff\xfe{bad utf8}\n";
    file.write_all(appended).unwrap();
    let tail = connector.poll(&WatchSpec::Replay, Some(&outcome.next_cursor)).await.unwrap();
    assert_eq!(tail.posts.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), vec!["x:77"]);
    assert!(tail.item_errors.iter().any(|e| e.kind == ItemErrorKind::InvalidUtf8 && e.item_ref == "line 8"));
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(start_paused = true)]
async fn posts_per_second_paces_and_batches_stop_at_the_wait_budget() {
    let lines: String = (0..10)
        .map(|i| {
            format!(
                "{{\"id\":\"x:{i}\",\"platform\":\"x\",\"channel\":\"#t\",\"created_at\":\"2026-03-01T10:00:00Z\"}}\n"
            )
        })
        .collect();
    let path = write_temp("paced.jsonl", lines.as_bytes());
    let config = ReplayConfig {
        speed: ReplaySpeed::PostsPerSecond(4.0),
        max_batch_wait: Duration::from_secs(1),
        ..ReplayConfig::new(&path)
    };
    let connector = ReplayConnector::new(config, normaliser()).unwrap();
    let started = tokio::time::Instant::now();
    let first = connector.poll(&WatchSpec::Replay, None).await.unwrap();
    // At 4 posts/s, releases are due at 0, 0.25, 0.5, 0.75 and 1.0 s: five fit in the 1 s budget.
    assert_eq!(first.posts.len(), 5);
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    // The pace carries over: the next releases are due at 1.25 .. 2.25 s, the budget ends at 2 s.
    let second = connector.poll(&WatchSpec::Replay, Some(&first.next_cursor)).await.unwrap();
    assert_eq!(second.posts.len(), 4);
    assert_eq!(second.posts[0].id, "x:5", "resumes after the last released line");
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    let third = connector.poll(&WatchSpec::Replay, Some(&second.next_cursor)).await.unwrap();
    assert_eq!(third.posts.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), vec!["x:9"]);
    assert_eq!(started.elapsed(), Duration::from_millis(2250));
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(start_paused = true)]
async fn time_scaled_replay_follows_created_at_gaps() {
    let path = write_temp("scaled.jsonl", fixture("replay_small.jsonl").as_bytes());
    let config = ReplayConfig {
        speed: ReplaySpeed::TimeScaled(2.0),
        max_batch_wait: Duration::from_secs(60),
        ..ReplayConfig::new(&path)
    };
    let connector = ReplayConnector::new(config, normaliser()).unwrap();
    let started = tokio::time::Instant::now();
    let outcome = connector.poll(&WatchSpec::Replay, None).await.unwrap();
    assert_eq!(outcome.posts.len(), 4);
    // Last valid post is 6 s after the first; at ×2 that is 3 s.
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    let _ = std::fs::remove_file(&path);
}
