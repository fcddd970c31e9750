//! Alert decisions, ids and dedup pinned on scripted inputs.

use super::*;
use crate::terms::Language;

const WINDOW: AlertWindow = AlertWindow { start: 1_700_000_000_000, end: 1_700_003_600_000 };

fn change(community_id: CommunityId, status: LifecycleStatus, size: u64, previous_size: u64) -> CommunityChange {
    CommunityChange {
        community_id,
        status,
        size,
        previous_size,
        related: vec![],
        emergence_score: 0.5,
        member_to_member_ratio: 0.6,
        engagement_rate: 0.1,
        themes: vec!["#greve".to_string()],
        channels: vec!["r/france".to_string()],
    }
}

fn signal(term: &str, class: SignalClass, is_weak_signal: bool, was_weak_before: bool) -> TermSignal {
    TermSignal {
        term: term.to_string(),
        class,
        is_weak_signal,
        was_weak_before,
        bucket_start: WINDOW.start,
        bucket_end: WINDOW.end,
        count: 12,
        baseline_mean: 1.0,
        baseline_std: 0.5,
        significance: 11.0,
        distinct_authors: 9,
        distinct_channels: 3,
        distinct_communities: 2,
        first_seen: WINDOW.start - 1,
        spreading_to_channels: vec!["c2".to_string()],
        spreading_to_communities: vec![7],
        channels: vec!["c1".to_string(), "c2".to_string()],
        language: Language::French,
        growth: 2.0,
        visibility: 0.002,
    }
}

#[test]
fn alert_ids_are_deterministic_and_distinguish_kind_subject_and_window() {
    let id = alert_id(AlertKind::CommunityBorn, "42", WINDOW.start);
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|character| character.is_ascii_hexdigit()));
    assert_eq!(id, alert_id(AlertKind::CommunityBorn, "42", WINDOW.start));
    assert_ne!(id, alert_id(AlertKind::CommunityGrowing, "42", WINDOW.start));
    assert_ne!(id, alert_id(AlertKind::CommunityBorn, "43", WINDOW.start));
    assert_ne!(id, alert_id(AlertKind::CommunityBorn, "42", WINDOW.start + 1));
    // Separators: moving a character between subject and window must change the id.
    assert_ne!(alert_id(AlertKind::SentimentShift, "41", 2), alert_id(AlertKind::SentimentShift, "4", 12));
    // Pinned against an independent SHA-256 of the documented preimage, so the scheme cannot drift.
    let preimage = b"murmur.alert.v1\0community_born\x0042\x001700000000000";
    let expected: String = Sha256::digest(preimage).iter().take(16).map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(id, expected);
}

#[test]
fn community_lifecycle_decisions() {
    let decider = AlertDecider::default();
    let changes = vec![
        change(1, LifecycleStatus::Born, 60, 0),
        // +60%: growing fast, notice.
        change(2, LifecycleStatus::Growing, 80, 50),
        // +20%: not fast.
        change(3, LifecycleStatus::Growing, 60, 50),
        // 4 → 8 members: doubled but below the minimum size.
        change(4, LifecycleStatus::Growing, 8, 4),
        change(5, LifecycleStatus::Dissolved, 0, 70),
        change(6, LifecycleStatus::Shrinking, 30, 70),
        // Merged and doubled: a merge alert and a growing (warning) alert.
        CommunityChange { related: vec![9, 10], ..change(7, LifecycleStatus::Merged, 200, 100) },
    ];
    let alerts = decider.community_alerts(&changes, WINDOW, WINDOW.end);
    let summary: Vec<(AlertKind, &str, Severity)> =
        alerts.iter().map(|alert| (alert.kind, alert.subject.as_str(), alert.severity)).collect();
    assert_eq!(
        summary,
        vec![
            (AlertKind::CommunityBorn, "1", Severity::Notice),
            (AlertKind::CommunityGrowing, "2", Severity::Notice),
            (AlertKind::CommunityDissolved, "5", Severity::Info),
            (AlertKind::CommunityMerged, "7", Severity::Info),
            (AlertKind::CommunityGrowing, "7", Severity::Warning),
        ]
    );
    let AlertDetail::Community(detail) = &alerts[1].detail else { panic!("community detail expected") };
    // (80 − 50) / 50 = 0.6
    assert!((detail.growth - 0.6).abs() < 1e-12);
    assert!(alerts[3].summary.contains("9, 10"));
    // Replaying the same window yields the same ids.
    let replayed = decider.community_alerts(&changes, WINDOW, WINDOW.end + 999);
    let ids: Vec<&str> = alerts.iter().map(|alert| alert.id.as_str()).collect();
    let replayed_ids: Vec<&str> = replayed.iter().map(|alert| alert.id.as_str()).collect();
    assert_eq!(ids, replayed_ids);
}

#[test]
fn weak_signal_detected_once_then_escalated() {
    let decider = AlertDecider::default();
    let bucket = BucketSignals {
        bucket_start: WINDOW.start,
        bucket_end: WINDOW.end,
        posts_in_bucket: 5_000,
        signals: vec![
            signal("#greve", SignalClass::Weak, true, false),
            // Still weak in a later bucket: no second alert by default.
            signal("penurie", SignalClass::Weak, true, true),
            signal("#essence", SignalClass::Strong, false, true),
            // Strong without an earlier weak episode: nothing to escalate.
            signal("meteo", SignalClass::Strong, false, false),
        ],
    };
    let alerts = decider.signal_alerts(&bucket, WINDOW.end);
    let kinds: Vec<(AlertKind, &str)> = alerts.iter().map(|alert| (alert.kind, alert.subject.as_str())).collect();
    assert_eq!(kinds, vec![(AlertKind::WeakSignalDetected, "#greve"), (AlertKind::WeakSignalEscalated, "#essence")]);
    assert!(alerts[0].summary.contains("spreading to c2, community 7"));
    assert!(alerts[0].summary.contains("z = 11.0"));
    let repeating = AlertDecider::new(AlertConfig { repeat_weak_signal_alerts: true, ..AlertConfig::default() });
    assert_eq!(repeating.signal_alerts(&bucket, WINDOW.end).len(), 3);
}

#[test]
fn sentiment_shift_needs_delta_and_samples() {
    let decider = AlertDecider::default();
    let observation = |community_id, previous_mean, current_mean, samples| SentimentObservation {
        community_id,
        previous_mean,
        previous_sample_size: samples,
        current_mean,
        current_sample_size: samples,
    };
    let observations = vec![
        observation(1, 0.3, -0.1, 100), // Δ = −0.4: warning
        observation(2, 0.0, 0.25, 100), // Δ = +0.25: notice
        observation(3, 0.0, 0.1, 100),  // Δ = 0.1: below threshold
        observation(4, 0.5, -0.5, 10),  // too few posts
    ];
    let alerts = decider.sentiment_alerts(&observations, WINDOW, WINDOW.end);
    assert_eq!(alerts.len(), 2);
    assert_eq!((alerts[0].subject.as_str(), alerts[0].severity), ("1", Severity::Warning));
    assert_eq!((alerts[1].subject.as_str(), alerts[1].severity), ("2", Severity::Notice));
    let AlertDetail::SentimentShift(detail) = alerts[0].detail else { panic!("sentiment detail expected") };
    assert!((detail.delta + 0.4).abs() < 1e-12);
}

#[test]
fn dedup_within_batch_and_across_replays() {
    let decider = AlertDecider::default();
    let changes = vec![change(1, LifecycleStatus::Born, 60, 0), change(1, LifecycleStatus::Born, 61, 0)];
    // Same kind, subject and window twice in one batch: one alert.
    let alerts = decider.community_alerts(&changes, WINDOW, WINDOW.end);
    assert_eq!(alerts.len(), 1);
    let mut deduplicator = AlertDeduplicator::new(2);
    assert_eq!(deduplicator.filter_new(alerts.clone()).len(), 1);
    assert_eq!(deduplicator.filter_new(alerts.clone()).len(), 0);
    // The FIFO is bounded: after two other ids, the first is forgotten.
    assert!(deduplicator.first_time("a"));
    assert!(deduplicator.first_time("b"));
    assert_eq!(deduplicator.filter_new(alerts).len(), 1);
}
