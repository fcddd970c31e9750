use std::collections::HashSet;

use super::*;

const HOUR: i64 = 3_600_000;

fn config() -> EngineConfig {
    EngineConfig {
        bucket_ms: HOUR,
        detection_interval_ms: HOUR,
        allowed_lateness_ms: 0,
        tracker: TrackerConfig { micro_min_size: 5, micro_max_size: 50, ..TrackerConfig::default() },
        ..EngineConfig::default()
    }
}

fn post(id: usize, author: &str, parent_author: Option<&str>, at: TimestampMs, channel: &str) -> PostInput {
    PostInput {
        id: format!("reddit:{id}"),
        platform: 1,
        channel_key: format!("reddit:{channel}"),
        author: author.to_string(),
        parent_id: parent_author.map(|_| format!("reddit:parent-{id}")),
        parent_author: parent_author.map(str::to_string),
        text: format!("talking about {channel} gear today"),
        created_at: at,
        sentiment: Some(0.5),
        language: "en".to_string(),
        ..PostInput::default()
    }
}

/// Two groups of `size` actors replying only within their group, `hours` hours long.
fn two_groups(size: usize, hours: i64) -> Vec<PostInput> {
    let mut posts = Vec::new();
    let mut id = 0;
    for hour in 0..hours {
        for round in 0..3 {
            for group in ["alpha", "beta"] {
                for member in 0..size {
                    let author = format!("{group}-{member}");
                    let target = format!("{group}-{}", (member + 1 + round) % size);
                    let at = hour * HOUR + (round as i64 * size as i64 + member as i64) * 10_000;
                    id += 1;
                    posts.push(post(id, &author, Some(&target), at, group));
                }
            }
        }
    }
    posts.sort_by_key(|post| post.created_at);
    posts
}

fn detections(outputs: &[EngineOutput]) -> Vec<&DetectionOutput> {
    outputs
        .iter()
        .filter_map(|output| match output {
            EngineOutput::Detection(run) => Some(run),
            EngineOutput::Bucket(_) => None,
        })
        .collect()
}

#[test]
fn finds_both_groups_with_stable_ids_and_a_born_alert() {
    let mut engine = Engine::new(config());
    let mut posts = two_groups(8, 3);
    posts.push(post(99_999, "late-comer", None, 3 * HOUR + 1, "alpha"));
    let outputs = engine.ingest(&posts, &[], None);
    let runs = detections(&outputs);
    assert_eq!(runs.len(), 3, "one run per closed hour");
    let first = runs[0];
    assert_eq!(first.communities.len(), 2);
    for community in &first.communities {
        let groups: HashSet<&str> =
            community.members.iter().map(|member| member.actor.split('-').next().unwrap_or_default()).collect();
        assert_eq!(groups.len(), 1, "a community mixes groups: {groups:?}");
        assert_eq!(community.members.len(), 8);
        assert!(community.is_micro);
        assert_eq!(community.status, LifecycleStatus::Born);
        assert!(community.kpis.group.member_posts > 0);
        assert_eq!(community.channels.len(), 1);
        assert_eq!(community.platforms, vec![1]);
    }
    let born = first.alerts.iter().filter(|alert| alert.kind == murmur_detect::alerts::AlertKind::CommunityBorn);
    assert_eq!(born.count(), 2);
    let ids = |run: &DetectionOutput| run.communities.iter().map(|community| community.id).collect::<BTreeSet<_>>();
    assert_eq!(ids(runs[0]), ids(runs[2]), "community ids are stable across runs");
    assert!(runs[2].communities.iter().all(|community| community.status == LifecycleStatus::Stable));
    assert_eq!(runs[2].channels.len(), 2);
}

#[test]
fn buckets_close_in_order_including_empty_ones() {
    let mut engine = Engine::new(config());
    let outputs =
        engine.ingest(&[post(1, "a", None, 10, "alpha"), post(2, "b", Some("a"), 5 * HOUR + 10, "alpha")], &[], None);
    let buckets: Vec<TimestampMs> = outputs
        .iter()
        .filter_map(|output| match output {
            EngineOutput::Bucket(bucket) => Some(bucket.bucket_start),
            EngineOutput::Detection(_) => None,
        })
        .collect();
    assert_eq!(buckets, vec![0, HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR]);
    assert_eq!(detections(&outputs).len(), 5);
}

#[test]
fn a_restored_engine_continues_exactly_like_the_original() {
    let posts = two_groups(8, 4);
    let split = posts.iter().position(|post| post.created_at >= 2 * HOUR + 60_000).unwrap_or(posts.len() / 2);
    let (before, after) = posts.split_at(split);
    let mut original = Engine::new(config());
    original.ingest(before, &[], None);
    original.set_last_seq(split as i64);
    let snapshot = original.snapshot().unwrap_or_default();
    assert!(!snapshot.is_empty());

    let mut restored = Engine::restore(config(), &snapshot).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(restored.last_seq(), split as i64);
    let window_start = restored.window_start().unwrap_or_default();
    for post in before.iter().filter(|post| post.created_at >= window_start) {
        restored.reload_window_post(post);
    }
    let mut tail = after.to_vec();
    tail.push(post(99_999, "late-comer", None, 5 * HOUR, "alpha"));
    assert_eq!(original.ingest(&tail, &[], None), restored.ingest(&tail, &[], None));
}

#[test]
fn a_corrupt_snapshot_is_a_clear_error() {
    let error = Engine::restore(config(), b"not a snapshot").err().map(|error| error.to_string()).unwrap_or_default();
    assert!(error.contains("snapshot does not decode"), "{error}");
}

#[test]
fn deleted_authors_and_self_replies_make_no_edges() {
    let mut engine = Engine::new(config());
    engine.ingest(&[post(1, "", Some("a"), 10, "alpha"), post(2, "a", Some("a"), 20, "alpha")], &[], None);
    assert_eq!(engine.graph_size().1, 0);
    engine.ingest(
        &[post(3, "b", Some("a"), 30, "alpha")],
        &[LateReply { source: "c".into(), target: "a".into(), at: 40 }],
        None,
    );
    assert_eq!(engine.graph_size().1, 2);
}

#[test]
fn a_jump_far_ahead_closes_a_bounded_number_of_periods() {
    let mut engine = Engine::new(config());
    let outputs =
        engine.ingest(&[post(1, "a", None, 0, "alpha"), post(2, "b", None, 100_000 * HOUR, "alpha")], &[], None);
    let buckets = outputs.iter().filter(|output| matches!(output, EngineOutput::Bucket(_))).count();
    assert!(buckets as i64 <= MAX_CATCH_UP_PERIODS + 1, "{buckets} buckets closed");
}

#[test]
fn the_cap_holds_windows_open_until_the_slow_partition_catches_up() {
    let mut engine = Engine::new(config());
    // Partition A read ahead to hour 3 while partition B is still at minute 10.
    let ahead: Vec<PostInput> =
        (0..4).map(|hour| post(hour as usize, "a", Some("b"), hour * HOUR + 1, "alpha")).collect();
    let outputs = engine.ingest(&ahead, &[], Some(10 * 60_000));
    assert!(outputs.is_empty(), "nothing closes while B is behind");
    let behind = [post(100, "c", Some("d"), 30 * 60_000, "beta")];
    let outputs = engine.ingest(&behind, &[], Some(2 * HOUR + 5));
    let runs = detections(&outputs);
    assert_eq!(runs.len(), 2, "windows up to the cap close");
    assert_eq!(runs[0].channels.len(), 2, "B's late post is in the first window");
    assert_eq!(detections(&engine.advance_watermark(None)).len(), 1);
}

#[test]
fn posts_read_ahead_of_a_held_watermark_count_in_their_own_bucket_and_window() {
    let mut engine = Engine::new(config());
    // Partition A read hours 0..3 while the cap (partition B) is still at minute 10: the later
    // posts wait for their bucket instead of inflating the open one.
    let ahead: Vec<PostInput> =
        (0..4).map(|hour| post(hour as usize, "a", Some("b"), hour * HOUR + 1, "alpha")).collect();
    assert!(engine.ingest(&ahead, &[], Some(10 * 60_000)).is_empty());
    assert_eq!(engine.held_posts(), 3);
    let outputs = engine.advance_watermark(None);
    // One post per hourly window (KPIs) and the buckets close in order.
    let posts_per_window: Vec<(TimestampMs, u64)> = detections(&outputs)
        .iter()
        .map(|run| (run.window_start, run.channels.iter().map(|(_, kpis)| kpis.group.member_posts).sum()))
        .collect();
    assert_eq!(posts_per_window, vec![(0, 1), (HOUR, 1), (2 * HOUR, 1)]);
    let buckets = outputs.iter().filter(|output| matches!(output, EngineOutput::Bucket(_))).count();
    assert_eq!(buckets, 3);
    assert_eq!(engine.held_posts(), 0, "the hour-3 post is in the open bucket now");
    // The held posts survive a snapshot.
    let mut engine = Engine::new(config());
    engine.ingest(&ahead, &[], Some(10 * 60_000));
    let restored = Engine::restore(config(), &engine.snapshot().expect("snapshot")).expect("restore");
    assert_eq!(restored.held_posts(), 3);
}
