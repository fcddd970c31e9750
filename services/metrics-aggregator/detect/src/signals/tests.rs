//! Scripted series for the weak-signal detector: each quadrant, the author floor, diffusion, escalation and
//! bounded memory.

use super::*;

const HOUR_MS: i64 = 3_600_000;
const BACKGROUND_POSTS: u64 = 5_000;

/// One scripted bucket for a term: how many posts carry it, from how many authors, in how many channels.
struct TermLoad<'a> {
    term: &'a str,
    posts: u64,
    authors: u64,
    channels: u64,
}

/// Feeds `BACKGROUND_POSTS` term-less posts (they set visibility's denominator) plus each load, then closes
/// bucket `bucket_index`.
fn run_bucket(detector: &mut SignalDetector, bucket_index: i64, loads: &[TermLoad<'_>]) -> BucketSignals {
    let bucket_start = bucket_index * HOUR_MS;
    let no_terms: Vec<String> = Vec::new();
    for post in 0..BACKGROUND_POSTS {
        detector.observe(&SignalObservation {
            author: 1_000_000 + (post % 997) as u32,
            channel: "background",
            community: None,
            language: Language::English,
            created_at: bucket_start,
            terms: &no_terms,
        });
    }
    for load in loads {
        let terms = vec![load.term.to_string()];
        for post in 0..load.posts {
            let channel = format!("channel-{}", post % load.channels.max(1));
            detector.observe(&SignalObservation {
                author: (post % load.authors.max(1)) as u32,
                channel: &channel,
                community: Some(post % load.channels.max(1)),
                language: Language::French,
                created_at: bucket_start + post as i64,
                terms: &terms,
            });
        }
    }
    detector.close_bucket(bucket_start, bucket_start + HOUR_MS)
}

fn fired<'a>(signals: &'a BucketSignals, term: &str) -> Option<&'a TermSignal> {
    signals.signals.iter().find(|signal| signal.term == term)
}

#[test]
fn rising_rare_spreading_term_is_a_weak_signal() {
    let mut detector = SignalDetector::new(SignalConfig::default());
    for bucket in 0..6 {
        let outcome = run_bucket(&mut detector, bucket, &[]);
        assert!(outcome.signals.is_empty());
    }
    // 1, 2, 4, 8, 16 posts, each bucket spread over one more channel.
    let mut first_weak_bucket = None;
    for (step, posts) in [1u64, 2, 4, 8, 16].into_iter().enumerate() {
        let bucket = 6 + step as i64;
        let load = TermLoad { term: "#greve", posts, authors: posts, channels: step as u64 + 1 };
        let outcome = run_bucket(&mut detector, bucket, &[load]);
        if let Some(signal) = fired(&outcome, "#greve") {
            assert_eq!(signal.class, SignalClass::Weak);
            assert!(signal.is_weak_signal);
            assert!(signal.distinct_authors >= 5);
            assert!(signal.significance >= 3.0);
            assert!(!signal.spreading_to_channels.is_empty());
            assert_eq!(signal.language, Language::French);
            first_weak_bucket.get_or_insert(bucket);
        }
    }
    // 8 posts by 8 authors in 4 channels is the first bucket that meets the floor of 5 authors.
    assert_eq!(first_weak_bucket, Some(9));
}

#[test]
fn already_popular_rising_term_is_strong_and_escalates_an_earlier_weak_signal() {
    let mut detector = SignalDetector::new(SignalConfig::default());
    for bucket in 0..8 {
        run_bucket(&mut detector, bucket, &[TermLoad { term: "election", posts: 500, authors: 400, channels: 5 }]);
    }
    // 700: significant but +40% only (below the growth threshold); then 1000: growth
    // (1000 − mean(500, 500, 700)) / 566.67 = 0.765, and the previous bucket was already significant.
    run_bucket(&mut detector, 8, &[TermLoad { term: "election", posts: 700, authors: 600, channels: 5 }]);
    let outcome =
        run_bucket(&mut detector, 9, &[TermLoad { term: "election", posts: 1_000, authors: 800, channels: 5 }]);
    let signal = fired(&outcome, "election").expect("popular rising term fires");
    // visibility 1000/6000 ≈ 0.167 ≥ 0.01.
    assert_eq!(signal.class, SignalClass::Strong);
    assert!((signal.growth - (1000.0 - 1700.0 / 3.0) / (1700.0 / 3.0)).abs() < 1e-9);
    assert!(!signal.is_weak_signal);
    assert!(!signal.was_weak_before);

    // A term that fired weak and then becomes visible is reported as an escalation.
    let mut escalating = SignalDetector::new(SignalConfig::default());
    for bucket in 0..6 {
        run_bucket(&mut escalating, bucket, &[]);
    }
    let mut classes = Vec::new();
    for (step, posts) in [3u64, 8, 30, 200].into_iter().enumerate() {
        let load = TermLoad { term: "pénurie", posts, authors: posts, channels: step as u64 + 2 };
        let outcome = run_bucket(&mut escalating, 6 + step as i64, &[load]);
        if let Some(signal) = fired(&outcome, "pénurie") {
            classes.push((signal.class, signal.was_weak_before));
        }
    }
    assert_eq!(classes.first(), Some(&(SignalClass::Weak, false)));
    assert_eq!(classes.last(), Some(&(SignalClass::Strong, true)));
}

#[test]
fn flat_rare_term_is_latent_and_never_fires() {
    let mut detector = SignalDetector::new(SignalConfig::default());
    for bucket in 0..12 {
        let outcome =
            run_bucket(&mut detector, bucket, &[TermLoad { term: "tisane", posts: 6, authors: 6, channels: 2 }]);
        assert!(fired(&outcome, "tisane").is_none(), "bucket {bucket}");
    }
    let assessment = detector.explain("tisane").expect("tracked");
    assert_eq!(assessment.class, SignalClass::Latent);
    assert!(assessment.growth.abs() < 1e-9);
    // The bias-corrected baseline has caught up with a flat series: nothing significant.
    assert!(assessment.significance.abs() < 0.5, "{}", assessment.significance);
}

#[test]
fn popular_declining_term_is_fading() {
    let mut detector = SignalDetector::new(SignalConfig::default());
    for bucket in 0..6 {
        run_bucket(&mut detector, bucket, &[TermLoad { term: "canicule", posts: 1_000, authors: 700, channels: 5 }]);
    }
    let outcome = run_bucket(&mut detector, 6, &[TermLoad { term: "canicule", posts: 600, authors: 500, channels: 5 }]);
    assert!(fired(&outcome, "canicule").is_none());
    let assessment = detector.explain("canicule").expect("tracked");
    // visibility 600/5600 ≈ 0.107; growth (600 − 1000)/1000 = −0.4.
    assert_eq!(assessment.class, SignalClass::Fading);
    assert!((assessment.growth + 0.4).abs() < 1e-9);
}

#[test]
fn one_author_spamming_never_fires() {
    let mut detector = SignalDetector::new(SignalConfig::default());
    for bucket in 0..6 {
        run_bucket(&mut detector, bucket, &[]);
    }
    for (step, posts) in [5u64, 20, 80].into_iter().enumerate() {
        let load = TermLoad { term: "buy-now", posts, authors: 1, channels: step as u64 + 2 };
        let outcome = run_bucket(&mut detector, 6 + step as i64, &[load]);
        assert!(fired(&outcome, "buy-now").is_none());
    }
    assert_eq!(detector.explain("buy-now").map(|signal| signal.distinct_authors), Some(1));
}

#[test]
fn rising_term_confined_to_one_place_is_not_diffusing() {
    let mut detector = SignalDetector::new(SignalConfig::default());
    for bucket in 0..6 {
        run_bucket(&mut detector, bucket, &[]);
    }
    for (step, posts) in [2u64, 6, 12, 24].into_iter().enumerate() {
        let load = TermLoad { term: "local joke", posts, authors: posts, channels: 1 };
        let outcome = run_bucket(&mut detector, 6 + step as i64, &[load]);
        assert!(fired(&outcome, "local joke").is_none());
    }
    let assessment = detector.explain("local joke").expect("tracked");
    assert_eq!(assessment.class, SignalClass::Weak);
    assert!(assessment.significance >= 3.0);
}

#[test]
fn tracked_set_stays_bounded_with_a_huge_vocabulary() {
    let config = SignalConfig { max_tracked_terms: 500, sketch_width: 1 << 12, ..SignalConfig::default() };
    let mut detector = SignalDetector::new(config);
    for bucket in 0..4 {
        for post in 0..20_000u32 {
            // Each term appears 3 times within the bucket: significant against an empty baseline, so every
            // one of them asks for promotion.
            let terms = vec![format!("term-{}-{}", bucket, post / 3)];
            detector.observe(&SignalObservation {
                author: post,
                channel: "c",
                community: None,
                language: Language::Unknown,
                created_at: 0,
                terms: &terms,
            });
            assert!(detector.tracked_term_count() <= 500);
        }
        detector.close_bucket(bucket * HOUR_MS, (bucket + 1) * HOUR_MS);
    }
    assert!(detector.tracked_term_count() <= 500);
    assert!(detector.tracked_term_count() > 0);
}
