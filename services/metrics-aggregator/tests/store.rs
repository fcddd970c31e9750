//! The store's bulk writes of a detection run against the real Postgres: every ragged list
//! (platforms, channels, themes and their weights, related communities, alert platforms and
//! channels) comes back on the right row, in order, whatever characters it holds, and persisting
//! the same run again adds no row.

use metrics_aggregator::engine::{DetectionOutput, Engine, EngineConfig, EngineOutput, LifecycleRecord, PostInput};
use metrics_aggregator::store::Store;
use murmur_common::testing::fresh_database;
use murmur_detect::alerts::LifecycleStatus;
use murmur_detect::tracking::TrackerConfig;
use murmur_proto::events::v1::{Alert, Platform, Post, ScoredPost};
use prost::Message;
use sqlx::{Connection, PgConnection, Row};

const HOUR: i64 = 3_600_000;

/// A fresh database with the schema: its URL, a pool for the stores under test and a connection for
/// the test's own queries.
async fn migrated_database() -> (String, sqlx::PgPool, PgConnection) {
    let url = fresh_database("murmur_test").await;
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    metrics_aggregator::migrate(&pool).await.expect("migrate");
    let connection = PgConnection::connect(&url).await.expect("connect");
    (url, pool, connection)
}

/// An alert row: id, platforms, channels, payload.
type AlertRow = (String, Vec<i16>, Vec<String>, Vec<u8>);

/// Two groups of six actors replying within their group for three hours: a real detection run.
fn detection_run() -> DetectionOutput {
    let mut engine = Engine::new(EngineConfig {
        bucket_ms: HOUR,
        detection_interval_ms: HOUR,
        allowed_lateness_ms: 0,
        tracker: TrackerConfig { micro_min_size: 3, micro_max_size: 50, ..TrackerConfig::default() },
        ..EngineConfig::default()
    });
    let mut posts = Vec::new();
    for hour in 0..3 {
        for round in 0..3_usize {
            for group in ["alpha", "beta"] {
                for member in 0..6_usize {
                    let id = posts.len();
                    let target = format!("{group}-{}", (member + 1 + round) % 6);
                    posts.push(PostInput {
                        id: format!("reddit:{id}"),
                        platform: 1,
                        channel_key: format!("reddit:{group}"),
                        author: format!("{group}-{member}"),
                        parent_id: Some(format!("reddit:parent-{id}")),
                        parent_author: Some(target),
                        text: format!("talking about {group} gear today"),
                        created_at: hour * HOUR + (round * 6 + member) as i64 * 10_000,
                        sentiment: Some(0.5),
                        language: "en".to_string(),
                        ..PostInput::default()
                    });
                }
            }
        }
    }
    let mut outputs = engine.ingest(&posts, &[], None);
    outputs.extend(engine.advance_watermark(None));
    let runs: Vec<DetectionOutput> = outputs
        .into_iter()
        .filter_map(|output| match output {
            EngineOutput::Detection(run) => Some(run),
            EngineOutput::Bucket(_) => None,
        })
        .collect();
    runs.into_iter().find(|run| run.communities.len() >= 2).expect("a run with both groups")
}

async fn count(connection: &mut PgConnection, table: &str) -> i64 {
    sqlx::query(&format!("SELECT count(*) AS n FROM {table}")).fetch_one(connection).await.expect("count").get("n")
}

#[tokio::test]
async fn a_detection_run_is_stored_in_bulk_with_every_list_on_its_row_and_idempotently() {
    let (_, pool, mut connection) = migrated_database().await;
    let store = Store::new(pool);

    let mut run = detection_run();
    assert!(!run.alerts.is_empty(), "the run decided alerts (born)");
    // Hostile list elements: separators, quotes, braces, spaces, non-ASCII, an empty list.
    let hostile = vec![
        ("bike lane".to_string(), 0.5),
        ("a,b".to_string(), 0.25),
        ("{x}\"y\\".to_string(), 0.125),
        ("vélocargo".to_string(), 1e-9),
    ];
    run.communities[0].kpis.themes = hostile.clone();
    run.communities[0].channels = vec!["reddit:first one".to_string(), "telegram:{odd},chan".to_string()];
    run.communities[0].platforms = vec![1, 2];
    run.communities[1].kpis.themes = Vec::new();
    let first = run.communities[0].id;
    let second = run.communities[1].id;
    run.events = vec![
        LifecycleRecord {
            community: first,
            status: LifecycleStatus::Merged,
            size: 7,
            previous_size: 5,
            related: vec![second, 99],
        },
        LifecycleRecord {
            community: second,
            status: LifecycleStatus::Growing,
            size: 6,
            previous_size: 4,
            related: Vec::new(),
        },
    ];

    store.persist_detection(&run).await.expect("persist");
    let counts = [
        count(&mut connection, "communities").await,
        count(&mut connection, "lifecycle_events").await,
        count(&mut connection, "alerts").await,
        count(&mut connection, "community_members").await,
    ];
    assert_eq!(counts[0], run.communities.len() as i64);
    assert_eq!(counts[1], 2);
    assert_eq!(counts[2], run.alerts.len() as i64);

    let row = sqlx::query("SELECT themes, theme_weights, channels, platforms, size FROM communities WHERE id = $1")
        .bind(first as i64)
        .fetch_one(&mut connection)
        .await
        .expect("first community");
    let themes: Vec<String> = row.get("themes");
    let weights: Vec<f64> = row.get("theme_weights");
    let channels: Vec<String> = row.get("channels");
    let platforms: Vec<i16> = row.get("platforms");
    assert_eq!(themes, hostile.iter().map(|(term, _)| term.clone()).collect::<Vec<_>>());
    assert_eq!(weights, hostile.iter().map(|(_, weight)| *weight).collect::<Vec<_>>());
    assert_eq!(channels, vec!["first one".to_string(), "{odd},chan".to_string()]);
    assert_eq!(platforms, vec![1, 2]);
    assert_eq!(row.get::<i64, _>("size"), run.communities[0].members.len() as i64);
    let row = sqlx::query("SELECT themes, theme_weights FROM communities WHERE id = $1")
        .bind(second as i64)
        .fetch_one(&mut connection)
        .await
        .expect("second community");
    assert!(row.get::<Vec<String>, _>("themes").is_empty());
    assert!(row.get::<Vec<f64>, _>("theme_weights").is_empty());

    let related: Vec<(i64, Vec<i64>, i64)> =
        sqlx::query("SELECT community_id, related, previous_size FROM lifecycle_events ORDER BY community_id")
            .fetch_all(&mut connection)
            .await
            .expect("events")
            .iter()
            .map(|row| (row.get("community_id"), row.get("related"), row.get("previous_size")))
            .collect();
    let mut expected = vec![(first as i64, vec![second as i64, 99], 5), (second as i64, Vec::new(), 4)];
    expected.sort();
    assert_eq!(related, expected);

    // Alerts: in the run's order (the outbox's seq), each with its own platforms and channels.
    let stored: Vec<AlertRow> = sqlx::query("SELECT id, platforms, channels, payload FROM alerts ORDER BY seq")
        .fetch_all(&mut connection)
        .await
        .expect("alerts")
        .iter()
        .map(|row| (row.get("id"), row.get("platforms"), row.get("channels"), row.get("payload")))
        .collect();
    assert_eq!(stored.len(), run.alerts.len());
    for ((id, platforms, channels, payload), detected) in stored.iter().zip(&run.alerts) {
        let alert = Alert::decode(payload.as_slice()).expect("payload decodes");
        assert_eq!(id, &detected.id);
        assert_eq!(&alert.id, id);
        assert_eq!(platforms, &alert.platforms.iter().map(|platform| *platform as i16).collect::<Vec<_>>());
        assert_eq!(channels, &alert.channels);
    }

    store.persist_detection(&run).await.expect("persist again");
    let again = [
        count(&mut connection, "communities").await,
        count(&mut connection, "lifecycle_events").await,
        count(&mut connection, "alerts").await,
        count(&mut connection, "community_members").await,
    ];
    assert_eq!(again, counts, "a replayed run adds no row");
}

/// A scored post by `author` at `seconds` (since the epoch) replying to `parent`.
fn post_by(id: &str, author: &str, parent: &str, seconds: i64) -> ScoredPost {
    let at = Some(prost_types::Timestamp { seconds, nanos: 0 });
    ScoredPost {
        post: Some(Post {
            id: id.into(),
            platform: Platform::Reddit as i32,
            channel: "sourdough".into(),
            author_id: author.into(),
            parent_id: parent.into(),
            text: "crumb".into(),
            created_at: at,
            observed_at: at,
            ..Default::default()
        }),
        language: "en".into(),
        ..Default::default()
    }
}

async fn actor_row(connection: &mut PgConnection, id: &str) -> (i64, i64) {
    let row = sqlx::query("SELECT first_seen, last_seen FROM actors WHERE id = $1")
        .bind(id)
        .fetch_one(connection)
        .await
        .expect("actor row");
    let (first, last): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        (row.get("first_seen"), row.get("last_seen"));
    (first.timestamp(), last.timestamp())
}

#[tokio::test]
async fn actor_rows_span_every_post_with_last_seen_refreshed_once_it_moves_by_more_than_the_step() {
    let (url, pool, mut connection) = migrated_database().await;
    let store = Store::new(pool);
    let step = metrics_aggregator::store::LAST_SEEN_STEP_MS / 1000;
    let t = 1_750_000_000;

    store.store_batch(&[post_by("p1", "alice", "", t)]).await.expect("store");
    assert_eq!(actor_row(&mut connection, "alice").await, (t, t));
    // Within the step: the row is left alone (the store skips it, the upsert's WHERE would too).
    store.store_batch(&[post_by("p2", "alice", "", t + step / 2)]).await.expect("store");
    assert_eq!(actor_row(&mut connection, "alice").await, (t, t));
    // Beyond it: refreshed. Bob's reply makes Alice a reply target: she is touched at his time.
    store.store_batch(&[post_by("p3", "bob", "p1", t + step + 1)]).await.expect("store");
    assert_eq!(actor_row(&mut connection, "alice").await, (t, t + step + 1));
    assert_eq!(actor_row(&mut connection, "bob").await, (t + step + 1, t + step + 1));
    // An earlier post (late arrival) moves first_seen back at once.
    store.store_batch(&[post_by("p0", "alice", "", t - 60)]).await.expect("store");
    assert_eq!(actor_row(&mut connection, "alice").await, (t - 60, t + step + 1));
    // A second store (a restarted service) knows nothing yet and writes the same values.
    let fresh = Store::new(sqlx::PgPool::connect(&url).await.expect("connect"));
    fresh.store_batch(&[post_by("p4", "alice", "", t + step + 2)]).await.expect("store");
    assert_eq!(actor_row(&mut connection, "alice").await, (t - 60, t + step + 1));
    assert_eq!(count(&mut connection, "actors").await, 2);
}

/// The stored reply edges as `(post, source, target)`, sorted.
async fn reply_edges(connection: &mut PgConnection) -> Vec<(String, String, String)> {
    let mut edges: Vec<(String, String, String)> =
        sqlx::query("SELECT post_id, source_id, target_id FROM interactions WHERE kind = 1")
            .fetch_all(connection)
            .await
            .expect("edges")
            .iter()
            .map(|row| (row.get("post_id"), row.get("source_id"), row.get("target_id")))
            .collect();
    edges.sort();
    edges
}

#[tokio::test]
async fn a_reply_stored_before_its_parent_waits_and_becomes_an_edge_when_the_parent_comes() {
    let (_, pool, mut connection) = migrated_database().await;
    let t = 1_750_000_000;

    let store = Store::new(pool.clone());
    let first = store
        .store_batch(&[post_by("r1", "bob", "p1", t + 60), post_by("r2", "carol", "p1", t + 90)])
        .await
        .expect("store the replies");
    assert!(first.late_replies.is_empty());
    assert_eq!(first.new_posts.iter().filter(|post| post.parent_author.is_some()).count(), 0, "no parent yet");
    assert_eq!(count(&mut connection, "pending_replies").await, 2);
    assert_eq!(count(&mut connection, "interactions").await, 0);

    // The parent comes later, to another store (a restart in between loses nothing: the wait is in
    // Postgres), with a reply of its own in the same batch that needs no waiting.
    let store = Store::new(pool);
    let second = store
        .store_batch(&[post_by("p1", "alice", "", t), post_by("r3", "dave", "p1", t + 120)])
        .await
        .expect("store the parent");
    let mut late: Vec<(String, String, i64)> =
        second.late_replies.iter().map(|reply| (reply.source.clone(), reply.target.clone(), reply.at)).collect();
    late.sort();
    assert_eq!(
        late,
        vec![("bob".into(), "alice".into(), (t + 60) * 1000), ("carol".into(), "alice".into(), (t + 90) * 1000)]
    );
    let in_batch = second.new_posts.iter().find(|post| post.id == "r3").expect("r3 is new");
    assert_eq!(in_batch.parent_author.as_deref(), Some("alice"));
    assert_eq!(count(&mut connection, "pending_replies").await, 0);
    let edges = reply_edges(&mut connection).await;
    assert_eq!(
        edges,
        vec![
            ("r1".into(), "bob".into(), "alice".into()),
            ("r2".into(), "carol".into(), "alice".into()),
            ("r3".into(), "dave".into(), "alice".into()),
        ]
    );
    // Replaying both batches changes nothing.
    let replay = store.store_batch(&[post_by("r1", "bob", "p1", t + 60), post_by("p1", "alice", "", t)]).await;
    let replay = replay.expect("replay");
    assert!(replay.new_posts.is_empty() && replay.late_replies.is_empty());
    assert_eq!(count(&mut connection, "pending_replies").await, 0);
    assert_eq!(count(&mut connection, "interactions").await, 3);
}

#[tokio::test]
async fn a_reply_finds_a_recent_parent_author_without_a_query_and_an_older_one_through_postgres() {
    let (_, pool, mut connection) = migrated_database().await;
    let t = 1_750_000_000;
    let store = Store::new(pool.clone());
    store.store_batch(&[post_by("p1", "alice", "", t), post_by("p2", "erin", "", t + 1)]).await.expect("parents");

    // p1's author stays in the store's memory after the commit: with its row gone behind the
    // store's back, a reply still finds it (the rows a store has committed are never deleted, so
    // the two always agree; removing one is only how this test tells where the author came from).
    sqlx::query("DELETE FROM posts WHERE id = 'p1'").execute(&mut connection).await.expect("delete");
    let recent = store.store_batch(&[post_by("r1", "bob", "p1", t + 60)]).await.expect("reply");
    assert_eq!(recent.new_posts[0].parent_author.as_deref(), Some("alice"));

    // A store that has not seen the parents (a restarted service) asks Postgres: p2 is found there,
    // and p1, gone from the table, makes its reply wait for it.
    let restarted = Store::new(pool);
    let older = restarted
        .store_batch(&[post_by("r2", "carol", "p2", t + 90), post_by("r3", "dave", "p1", t + 95)])
        .await
        .expect("replies");
    let parent_of =
        |id: &str| older.new_posts.iter().find(|post| post.id == id).and_then(|post| post.parent_author.clone());
    assert_eq!(parent_of("r2").as_deref(), Some("erin"));
    assert_eq!(parent_of("r3"), None);
    assert_eq!(count(&mut connection, "pending_replies").await, 1);
    let edges = reply_edges(&mut connection).await;
    assert_eq!(edges, vec![("r1".into(), "bob".into(), "alice".into()), ("r2".into(), "carol".into(), "erin".into())]);
}

/// A post with every column set, and some hostile values: an empty and a spaced mention, a NaN
/// sentiment when `nan`, a creation time before anything Postgres stores.
fn full_post(id: &str, nan: bool) -> ScoredPost {
    let mut scored = post_by(id, "author-1", "parent-9", 1_750_000_000);
    let post = scored.post.as_mut().expect("post");
    post.kind = murmur_proto::events::v1::PostKind::Comment as i32;
    post.root_id = "root-3".into();
    post.mentions = vec!["m-1".into(), String::new(), "m 2".into()];
    post.hashtags = vec!["#levain".into(), "#crumb".into()];
    post.text = "Pain au levain 🍞 — \u{202e}mixed\u{200b} «texte» ".repeat(40);
    post.title = "Titre".into();
    post.created_at = Some(prost_types::Timestamp { seconds: -400_000_000_000_000, nanos: 0 });
    post.engagement =
        Some(murmur_proto::events::v1::Engagement { score: 5, replies: 2, views: 90, reactions: 3, forwards: 1 });
    post.channel_audience = Some(1_200);
    post.permalink = "https://example.org/p".into();
    post.forwarded_from = "breadchat".into();
    post.author_is_moderator = true;
    scored.language = String::new();
    scored.sentiment = Some(murmur_proto::events::v1::SentimentScore {
        compound: if nan { f64::NAN } else { 0.25 },
        label: 2,
        model: "xlm-r".into(),
        ..Default::default()
    });
    scored
}

/// Every stored column of a post but its id, `seq` and `stored_at`, as JSON.
async fn post_columns(connection: &mut PgConnection, id: &str) -> serde_json::Value {
    let json: String =
        sqlx::query_scalar("SELECT (to_jsonb(p) - 'id' - 'seq' - 'stored_at')::text FROM posts p WHERE id = $1")
            .bind(id)
            .fetch_one(connection)
            .await
            .expect("post row");
    serde_json::from_str(&json).expect("json")
}

#[tokio::test]
async fn a_post_is_stored_the_same_whether_its_batch_is_copied_or_upserted() {
    let (_, pool, mut connection) = migrated_database().await;
    let store = Store::new(pool);

    let first = store.store_batch(&[full_post("c1", false), full_post("c2", true)]).await.expect("store");
    assert!(first.copied, "a batch of new posts goes in with COPY");
    assert_eq!((first.new_posts.len(), first.duplicates), (2, 0));
    // c1 again: COPY meets the stored row, and the batch is upserted; u1 is new.
    let second = store.store_batch(&[full_post("c1", false), full_post("u1", false)]).await.expect("store");
    assert!(!second.copied);
    assert_eq!(second.new_posts.iter().map(|post| post.id.as_str()).collect::<Vec<_>>(), ["u1"]);
    assert_eq!(second.duplicates, 1);
    assert!(second.max_seq > first.max_seq, "{} then {}", first.max_seq, second.max_seq);

    let copied = post_columns(&mut connection, "c1").await;
    assert_eq!(copied, post_columns(&mut connection, "u1").await, "the same row by either path");
    assert_eq!(copied["mentions"], serde_json::json!(["m-1", "m 2"]));
    assert_eq!(copied["hashtags"], serde_json::json!(["#levain", "#crumb"]));
    assert_eq!(copied["parent_id"], "parent-9");
    assert_eq!(copied["language"], "und");
    assert_eq!(copied["sentiment"], 0.25);
    assert_eq!(copied["sentiment_label"], 2);
    assert_eq!(copied["channel_audience"], 1_200);
    assert_eq!(copied["author_is_moderator"], true);
    assert_eq!(copied["text"], full_post("c1", false).post.expect("post").text.as_str());
    // Postgres's earliest time, not an error that would stop the stream.
    assert_eq!(copied["created_at"], "4714-11-24T00:00:00+00:00 BC");
    assert_eq!(post_columns(&mut connection, "c2").await["sentiment"], serde_json::Value::Null);

    // Upserts are kept for a run of batches: a re-observation refreshes the counters, a post without
    // parent or lists stores NULL and empty arrays.
    let mut seen_again = full_post("c1", false);
    let post = seen_again.post.as_mut().expect("post");
    post.observed_at = Some(prost_types::Timestamp { seconds: 1_750_000_600, nanos: 0 });
    post.engagement = Some(murmur_proto::events::v1::Engagement { score: 8, ..Default::default() });
    let third = store.store_batch(&[seen_again, post_by("plain", "author-2", "", 1_750_000_100)]).await.expect("store");
    assert!(!third.copied);
    assert_eq!((third.new_posts.len(), third.duplicates), (1, 1));
    assert_eq!(post_columns(&mut connection, "c1").await["score"], 8);
    let plain = post_columns(&mut connection, "plain").await;
    assert_eq!((&plain["parent_id"], &plain["mentions"]), (&serde_json::Value::Null, &serde_json::json!([])));
    assert_eq!(count(&mut connection, "posts").await, 4);
    // After the run, COPY again.
    let mut copied_again = false;
    for batch in 0..20 {
        let stored = store.store_batch(&[post_by(&format!("later-{batch}"), "author-3", "c1", 1_750_000_200)]).await;
        copied_again |= stored.expect("store").copied;
    }
    assert!(copied_again);
    let edges = |post: &'static str| {
        sqlx::query_scalar::<_, String>(
            "SELECT string_agg(kind || ' ' || source_id || ' ' || target_id, ', ' ORDER BY kind, target_id)
             FROM interactions WHERE post_id = $1",
        )
        .bind(post)
    };
    let copied_edges = edges("c1").fetch_one(&mut connection).await.expect("edges");
    assert_eq!(copied_edges, "2 author-1 m 2, 2 author-1 m-1, 3 channel:reddit:sourdough channel:reddit:breadchat");
    assert_eq!(edges("u1").fetch_one(&mut connection).await.expect("edges"), copied_edges);
    let replies: i64 =
        sqlx::query_scalar("SELECT count(*) FROM interactions WHERE kind = 1 AND target_id = 'author-1'")
            .fetch_one(&mut connection)
            .await
            .expect("count");
    assert_eq!(replies, 20, "one reply edge per later post");
}

#[tokio::test]
async fn the_retention_purge_removes_old_texts_and_forgotten_replies_only() {
    let (_, pool, mut connection) = migrated_database().await;
    let store = Store::new(pool);
    let t = 1_750_000_000;
    store.store_batch(&[post_by("old", "alice", "", t), post_by("old-orphan", "bob", "gone", t)]).await.expect("store");
    // Stored 40 days ago, as far as the purge can tell.
    sqlx::query("UPDATE posts SET stored_at = now() - interval '40 days'").execute(&mut connection).await.expect("age");
    sqlx::query("UPDATE pending_replies SET stored_at = now() - interval '40 days'")
        .execute(&mut connection)
        .await
        .expect("age");
    store
        .store_batch(&[post_by("new", "carol", "", t + 60), post_by("new-orphan", "dave", "later", t + 60)])
        .await
        .expect("store");

    let purged = store.purge_text(chrono::Utc::now() - chrono::Duration::days(30)).await.expect("purge");
    assert_eq!(purged, 2);
    let texts: Vec<(String, Option<String>)> = sqlx::query("SELECT id, text FROM posts ORDER BY id")
        .fetch_all(&mut connection)
        .await
        .expect("posts")
        .iter()
        .map(|row| (row.get("id"), row.get("text")))
        .collect();
    assert_eq!(
        texts,
        vec![
            ("new".into(), Some("crumb".into())),
            ("new-orphan".into(), Some("crumb".into())),
            ("old".into(), None),
            ("old-orphan".into(), None),
        ],
        "old posts keep their row, only the text goes"
    );
    let waiting: Vec<String> = sqlx::query("SELECT reply_id FROM pending_replies")
        .fetch_all(&mut connection)
        .await
        .expect("pending")
        .iter()
        .map(|row| row.get("reply_id"))
        .collect();
    assert_eq!(waiting, vec!["new-orphan".to_string()]);
    assert_eq!(store.purge_text(chrono::Utc::now() - chrono::Duration::days(30)).await.expect("again"), 0);
}

#[tokio::test]
async fn the_snapshot_is_stored_lz4_compressed_and_reads_back_whole() {
    let (_, pool, mut connection) = migrated_database().await;
    let store = Store::new(pool);
    // Compressible and larger than the TOAST threshold, like a real snapshot.
    let state: Vec<u8> = (0..200_000u32).flat_map(|index| (index % 977).to_le_bytes()).collect();
    for last_seq in [41, 42] {
        store.save_snapshot("default", last_seq, &state).await.expect("save");
    }
    let row = sqlx::query(
        "SELECT pg_column_compression(state) AS method, pg_column_size(state) AS stored, octet_length(state) AS raw
         FROM detector_snapshots WHERE name = 'default'",
    )
    .fetch_one(&mut connection)
    .await
    .expect("snapshot row");
    let method: Option<String> = row.get("method");
    assert_eq!(method.as_deref(), Some("lz4"));
    let (stored, raw): (i32, i32) = (row.get("stored"), row.get("raw"));
    assert_eq!(raw as usize, state.len());
    assert!(stored < raw / 2, "compressed to {stored} bytes of {raw}");
    assert_eq!(store.load_snapshot("default").await.expect("load"), Some((42, state)));
}
