//! Seeded synthetic stream for evaluating the weak-signal detector (used by `signals-eval` and a unit test).
//!
//! - **background terms** keep a stable Poisson volume (each its own mean, drawn once in a range) spread over
//!   a fixed random subset of channels — they must never fire;
//! - **filler posts** without terms make up the rest of the traffic (visibility's denominator);
//! - **planted terms** are silent until their onset bucket, then rise geometrically from a rare start
//!   (`planted_initial_rate · planted_growth^k`, capped) and spread from one channel to one more every
//!   `planted_spread_every` buckets — they should fire as weak signals soon after onset.
//!
//! Communities are the channels' indices (each channel stands for one community), so diffusion is visible on
//! both axes. Randomness is SplitMix64 from the seed: same seed, same stream, same figures.

use std::collections::{BTreeMap, BTreeSet};

use super::{SignalConfig, SignalDetector, SignalObservation};
use crate::terms::Language;
use crate::types::TimestampMs;

/// Shape of the synthetic stream.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticStreamConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Buckets generated.
    pub buckets: u32,
    /// Bucket length.
    pub bucket_ms: TimestampMs,
    /// Channels (= communities).
    pub channels: u32,
    /// Background terms.
    pub background_terms: u32,
    /// Range of background means (posts per bucket).
    pub background_mean_range: (f64, f64),
    /// Term-less posts per bucket.
    pub filler_posts_per_bucket: u32,
    /// Planted rising terms.
    pub planted_terms: u32,
    /// Range of onset buckets of planted terms.
    pub planted_onset_range: (u32, u32),
    /// Expected posts of a planted term in its onset bucket.
    pub planted_initial_rate: f64,
    /// Per-bucket multiplication of a planted term's rate.
    pub planted_growth: f64,
    /// Cap of a planted term's rate.
    pub planted_max_rate: f64,
    /// A planted term reaches one more channel every this many buckets.
    pub planted_spread_every: u32,
    /// Size of the author pool.
    pub authors: u32,
}

impl Default for SyntheticStreamConfig {
    fn default() -> Self {
        SyntheticStreamConfig {
            seed: 42,
            buckets: 120,
            bucket_ms: 3_600_000,
            channels: 16,
            background_terms: 400,
            background_mean_range: (1.0, 60.0),
            filler_posts_per_bucket: 20_000,
            planted_terms: 10,
            planted_onset_range: (24, 90),
            planted_initial_rate: 1.0,
            planted_growth: 1.4,
            planted_max_rate: 400.0,
            planted_spread_every: 2,
            authors: 50_000,
        }
    }
}

/// Figures of one evaluation run.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationReport {
    /// Planted terms.
    pub planted_terms: u32,
    /// Planted terms that fired as weak signals.
    pub planted_detected: u32,
    /// Distinct terms that fired as weak signals.
    pub weak_signal_terms: u32,
    /// planted_detected / weak_signal_terms (1 when nothing fired).
    pub precision: f64,
    /// planted_detected / planted_terms.
    pub recall: f64,
    /// Buckets from onset to first weak detection, per detected planted term (sorted).
    pub detection_delays_buckets: Vec<u32>,
    /// Posts of the planted term in its detection bucket, per detected planted term (same order as terms).
    pub counts_at_detection: Vec<u64>,
    /// Background terms that fired at all (weak or strong).
    pub background_false_positives: Vec<String>,
    /// One line per background firing: bucket and the signal's explanation.
    pub background_false_positive_details: Vec<String>,
    /// Posts generated.
    pub posts: u64,
    /// Term occurrences generated.
    pub term_occurrences: u64,
    /// Tracked terms at the end.
    pub tracked_terms: usize,
    /// Approximate bytes of the detector state at the end.
    pub memory_bytes: usize,
}

/// SplitMix64: tiny, seedable, good enough for synthetic data.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, bound) (0 when bound is 0).
    pub fn below(&mut self, bound: u32) -> u32 {
        if bound == 0 {
            return 0;
        }
        (self.next_u64() % u64::from(bound)) as u32
    }

    /// Poisson draw: Knuth's product method below 30, a rounded normal approximation above.
    pub fn poisson(&mut self, mean: f64) -> u64 {
        if mean <= 0.0 {
            return 0;
        }
        if mean < 30.0 {
            let limit = (-mean).exp();
            let mut product = self.next_f64();
            let mut count = 0u64;
            while product > limit {
                product *= self.next_f64();
                count += 1;
            }
            return count;
        }
        // Box–Muller.
        let uniform_one = self.next_f64().max(f64::MIN_POSITIVE);
        let uniform_two = self.next_f64();
        let normal = (-2.0 * uniform_one.ln()).sqrt() * (std::f64::consts::TAU * uniform_two).cos();
        (mean + normal * mean.sqrt()).round().max(0.0) as u64
    }
}

struct BackgroundTerm {
    term: String,
    mean: f64,
    channels: Vec<u32>,
}

struct PlantedTerm {
    term: String,
    onset: u32,
    channel_order: Vec<u32>,
}

/// Generates the stream, runs the detector with `detector_config` and scores it.
pub fn evaluate(stream: &SyntheticStreamConfig, detector_config: SignalConfig) -> EvaluationReport {
    let mut random = SplitMix64::new(stream.seed);
    let channel_count = stream.channels.max(1);
    let channel_names: Vec<String> = (0..channel_count).map(|index| format!("channel-{index:02}")).collect();
    let background: Vec<BackgroundTerm> = (0..stream.background_terms)
        .map(|index| {
            let (low, high) = stream.background_mean_range;
            let mean = low + (high - low) * random.next_f64();
            let subset_size = 2 + random.below(channel_count.saturating_sub(1));
            let mut channels: Vec<u32> = shuffled(channel_count, &mut random);
            channels.truncate(subset_size as usize);
            BackgroundTerm { term: format!("background {index}"), mean, channels }
        })
        .collect();
    let planted: Vec<PlantedTerm> = (0..stream.planted_terms)
        .map(|index| {
            let (first, last) = stream.planted_onset_range;
            let onset = first + random.below(last.saturating_sub(first).max(1));
            PlantedTerm { term: format!("#planted{index}"), onset, channel_order: shuffled(channel_count, &mut random) }
        })
        .collect();

    let mut detector = SignalDetector::new(detector_config);
    let mut first_weak_bucket: BTreeMap<String, (u32, u64)> = BTreeMap::new();
    let mut fired_background: BTreeSet<String> = BTreeSet::new();
    let mut false_positive_details: Vec<String> = Vec::new();
    let mut weak_terms: BTreeSet<String> = BTreeSet::new();
    let mut posts = 0u64;
    let mut term_occurrences = 0u64;
    let no_terms: Vec<String> = Vec::new();
    for bucket in 0..stream.buckets {
        let bucket_start = i64::from(bucket) * stream.bucket_ms;
        for _ in 0..stream.filler_posts_per_bucket {
            let channel = random.below(channel_count);
            detector.observe(&SignalObservation {
                author: random.below(stream.authors),
                channel: &channel_names[channel as usize],
                community: Some(u64::from(channel)),
                language: Language::English,
                created_at: bucket_start,
                terms: &no_terms,
            });
            posts += 1;
        }
        let mut emissions: Vec<(String, u32)> = Vec::new();
        for term in &background {
            for _ in 0..random.poisson(term.mean) {
                let channel = term.channels[random.below(term.channels.len() as u32) as usize];
                emissions.push((term.term.clone(), channel));
            }
        }
        for term in planted.iter().filter(|term| bucket >= term.onset) {
            let age = bucket - term.onset;
            let rate =
                (stream.planted_initial_rate * stream.planted_growth.powi(age as i32)).min(stream.planted_max_rate);
            let reached = (1 + age / stream.planted_spread_every.max(1)).min(channel_count) as usize;
            for _ in 0..random.poisson(rate) {
                let channel = term.channel_order[random.below(reached as u32) as usize];
                emissions.push((term.term.clone(), channel));
            }
        }
        for (term, channel) in emissions {
            let terms = vec![term];
            detector.observe(&SignalObservation {
                author: random.below(stream.authors),
                channel: &channel_names[channel as usize],
                community: Some(u64::from(channel)),
                language: Language::English,
                created_at: bucket_start
                    + i64::from(random.below(stream.bucket_ms.clamp(1, i64::from(u32::MAX)) as u32)),
                terms: &terms,
            });
            posts += 1;
            term_occurrences += 1;
        }
        let outcome = detector.close_bucket(bucket_start, bucket_start + stream.bucket_ms);
        for signal in &outcome.signals {
            if signal.term.starts_with("background") {
                fired_background.insert(signal.term.clone());
                false_positive_details.push(format!(
                    "bucket {bucket} '{}' {:?} count {} mean {:.2} std {:.2} z {:.2} growth {:.2} authors {} \
                     channels {} spreading {:?}",
                    signal.term,
                    signal.class,
                    signal.count,
                    signal.baseline_mean,
                    signal.baseline_std,
                    signal.significance,
                    signal.growth,
                    signal.distinct_authors,
                    signal.distinct_channels,
                    signal.spreading_to_channels
                ));
            }
            if signal.is_weak_signal {
                weak_terms.insert(signal.term.clone());
                first_weak_bucket.entry(signal.term.clone()).or_insert((bucket, signal.count));
            }
        }
    }

    let mut detection_delays_buckets = Vec::new();
    let mut counts_at_detection = Vec::new();
    let mut planted_detected = 0u32;
    for term in &planted {
        if let Some((bucket, count)) = first_weak_bucket.get(&term.term) {
            planted_detected += 1;
            detection_delays_buckets.push(bucket.saturating_sub(term.onset));
            counts_at_detection.push(*count);
        }
    }
    detection_delays_buckets.sort_unstable();
    let weak_signal_terms = weak_terms.len() as u32;
    EvaluationReport {
        planted_terms: stream.planted_terms,
        planted_detected,
        weak_signal_terms,
        precision: if weak_signal_terms == 0 {
            1.0
        } else {
            f64::from(planted_detected) / f64::from(weak_signal_terms)
        },
        recall: if stream.planted_terms == 0 {
            1.0
        } else {
            f64::from(planted_detected) / f64::from(stream.planted_terms)
        },
        detection_delays_buckets,
        counts_at_detection,
        background_false_positives: fired_background.into_iter().collect(),
        background_false_positive_details: false_positive_details,
        posts,
        term_occurrences,
        tracked_terms: detector.tracked_term_count(),
        memory_bytes: detector.memory_bytes(),
    }
}

/// A random permutation of `0..count` (Fisher–Yates).
fn shuffled(count: u32, random: &mut SplitMix64) -> Vec<u32> {
    let mut values: Vec<u32> = (0..count).collect();
    for index in (1..values.len()).rev() {
        let other = random.below(index as u32 + 1) as usize;
        values.swap(index, other);
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_never_fires_and_planted_terms_do() {
        let stream = SyntheticStreamConfig {
            seed: 7,
            buckets: 48,
            channels: 8,
            background_terms: 80,
            filler_posts_per_bucket: 4_000,
            planted_terms: 4,
            planted_onset_range: (16, 30),
            authors: 20_000,
            ..SyntheticStreamConfig::default()
        };
        let detector_config = SignalConfig { sketch_width: 1 << 12, ..SignalConfig::default() };
        let report = evaluate(&stream, detector_config);
        assert!(report.background_false_positives.is_empty(), "{:?}", report.background_false_positive_details);
        assert_eq!(report.planted_detected, 4);
        assert!((report.precision - 1.0).abs() < 1e-12);
        // Onset at rate 1, ×1.4 per bucket: the author floor (5) is met around 5 buckets in.
        assert!(
            report.detection_delays_buckets.iter().all(|delay| *delay <= 10),
            "{:?}",
            report.detection_delays_buckets
        );
    }

    #[test]
    fn poisson_draws_have_the_right_mean() {
        let mut random = SplitMix64::new(1);
        for mean in [0.5, 4.0, 80.0] {
            let draws = 20_000;
            let total: u64 = (0..draws).map(|_| random.poisson(mean)).sum();
            let observed = total as f64 / f64::from(draws);
            assert!((observed - mean).abs() < 0.05 * mean + 0.05, "mean {mean}: {observed}");
        }
    }
}
