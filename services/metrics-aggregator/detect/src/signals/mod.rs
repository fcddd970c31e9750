//! Weak-signal detector: which terms are rising, where, and how confidently.
//!
//! Per term and time bucket the detector counts posts, distinct authors, distinct channels and distinct
//! communities. Memory is bounded whatever the vocabulary:
//! - every term goes into a [`HashedBaselines`] count-min sketch (conservative update) whose cells carry a
//!   SigniTrend EWMA/EWMVar baseline, so even an untracked term has an (upper-bound) count and a baseline;
//! - a term whose hashed count is significant (or simply heavy) is **promoted** into an exact tracked set of
//!   at most `max_tracked_terms`, evicting the least significant tenth when full; idle, baseline-less terms
//!   leave by themselves. Tracked terms get exact counts, author/channel/community sets and their own
//!   baseline (seeded from the sketch at promotion).
//!
//! At the end of a bucket ([`SignalDetector::close_bucket`]) each tracked term is assessed:
//! - **significance** (SigniTrend, Schubert, Weiler & Kriegel 2014): `z = (x − EWMA) / max(sqrt(EWMVar), β)`
//!   against the baseline *before* this bucket is folded in; EWMA/EWMVar then absorb `x` with
//!   `α = 1 − 2^(−1/half_life_buckets)`;
//! - **floor**: at least `min_distinct_authors` distinct authors in the bucket (Mastodon's trends use 5), so
//!   one account spamming a term never fires;
//! - **quadrant** of Yoon's keyword emergence map (see [`classify`]): visibility = share of the bucket's
//!   posts containing the term, growth = increase over the mean of the previous `growth_lookback_buckets`;
//! - **persistence**: its significance was already ≥ `min_previous_significance` in the previous bucket (a
//!   trend rises over consecutive buckets; a one-bucket Poisson spike of a rare term does not);
//! - **diffusion**: the term reached at least one channel or community it had never been seen in, and now
//!   spans at least `min_places_for_diffusion` channels or communities in the bucket.
//!
//! A term *fires* when, after `warmup_buckets`, it is significant (`z ≥ significance_threshold`), meets the
//! author floor, is persistent, and is either a **weak** signal (low visibility, high growth, diffusing) or
//! **strong** (high visibility, high growth; reported so the alerting can escalate an earlier weak signal). Every fired
//! [`TermSignal`] carries its explanation: count, baseline mean/std, significance, distinct
//! authors/channels/communities, first seen, where it spreads, growth and visibility.
//!
//! Known approximations, by design: posts of a term before its promotion are counted by the sketch (an upper
//! bound) but their authors, channels and communities are not known, so distinct counts start at promotion
//! (under-counting keeps the author floor conservative); `first_seen` is the first post seen by the exact
//! tracker, which for a rising term is within the bucket of its first burst.

pub mod classify;
pub mod sketch;
pub mod synthetic;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

pub use classify::{classify, growth_rate, visibility, QuadrantThresholds, SignalClass};
pub use sketch::{alpha_from_half_life, stable_hash64, CountMinSketch, HashedBaselines, MovingBaseline};

use crate::terms::Language;
use crate::types::{ActorId, CommunityId, TimestampMs};

/// Settings of the weak-signal detector. Defaults suit hourly buckets.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SignalConfig {
    /// Half-life of the EWMA/EWMVar baseline, in buckets (default 24: one day of hourly buckets).
    pub half_life_buckets: f64,
    /// SigniTrend's β: the standard deviation floor in the significance denominator (default 1.0 post).
    pub beta: f64,
    /// z at or above which a term is significant (default 3.0).
    pub significance_threshold: f64,
    /// Minimum distinct authors in the bucket (default 5, as Mastodon's trends).
    pub min_distinct_authors: u64,
    /// Channels or communities a term must span in the bucket to count as diffusing (default 2).
    pub min_places_for_diffusion: usize,
    /// Visibility and growth thresholds of the emergence map.
    pub quadrants: QuadrantThresholds,
    /// Previous buckets averaged by the growth rate (default 3).
    pub growth_lookback_buckets: usize,
    /// Buckets closed before anything may fire: every term looks new at start-up and the variance needs a
    /// few samples (default 6).
    pub warmup_buckets: u64,
    /// Persistence: a weak or strong signal must already have had `z ≥` this in the previous bucket (default 1.5). A
    /// one-bucket Poisson spike of a rare term looks exactly like an emerging term; a trend rises twice.
    pub min_previous_significance: f64,
    /// Columns of the count-min sketch (default 2^17).
    pub sketch_width: usize,
    /// Rows of the count-min sketch (default 4: failure probability e^-4 ≈ 1.8%).
    pub sketch_depth: usize,
    /// Upper bound of exactly tracked terms (default 20 000).
    pub max_tracked_terms: usize,
    /// Hashed significance at which an untracked term is promoted (default 2.0).
    pub promotion_significance: f64,
    /// Hashed count in the bucket required with `promotion_significance` (default 3).
    pub promotion_min_count: u32,
    /// Hashed count in the bucket that promotes regardless of significance: heavy hitters (default 50).
    pub heavy_hitter_min_count: u32,
    /// A tracked term idle this many buckets with a near-zero baseline is dropped (default 48).
    pub idle_buckets_before_eviction: u64,
    /// Cap on the per-bucket distinct authors remembered per term (bounded memory; default 1024).
    pub max_distinct_authors_per_term: usize,
    /// Cap on the channels/communities remembered per term for diffusion (default 512).
    pub max_known_places_per_term: usize,
    /// A strong signal counts as an escalation if the term fired weak within this many buckets (default 72).
    pub escalation_memory_buckets: u64,
}

impl Default for SignalConfig {
    fn default() -> Self {
        SignalConfig {
            half_life_buckets: 24.0,
            beta: 1.0,
            significance_threshold: 3.0,
            min_distinct_authors: 5,
            min_places_for_diffusion: 2,
            quadrants: QuadrantThresholds::default(),
            growth_lookback_buckets: 3,
            warmup_buckets: 6,
            min_previous_significance: 1.5,
            sketch_width: 1 << 17,
            sketch_depth: 4,
            max_tracked_terms: 20_000,
            promotion_significance: 2.0,
            promotion_min_count: 3,
            heavy_hitter_min_count: 50,
            idle_buckets_before_eviction: 48,
            max_distinct_authors_per_term: 1024,
            max_known_places_per_term: 512,
            escalation_memory_buckets: 72,
        }
    }
}

/// One post as the detector sees it: its terms (from [`crate::terms::TermExtractor`]) and where it was said.
#[derive(Debug, Clone, Copy)]
pub struct SignalObservation<'a> {
    /// Pseudonymous author.
    pub author: ActorId,
    /// Channel (subreddit, Telegram channel, hashtag, instance) as the `Post.channel` string.
    pub channel: &'a str,
    /// Community of the author in the current partition, if any.
    pub community: Option<CommunityId>,
    /// Language of the post.
    pub language: Language,
    /// Creation time of the post.
    pub created_at: TimestampMs,
    /// Deduplicated terms of the post.
    pub terms: &'a [String],
}

/// A term's assessment in one bucket with everything needed to explain it (mirrors the proto's
/// `WeakSignal`).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TermSignal {
    /// The term (`#tag` or a normalised n-gram).
    pub term: String,
    /// Quadrant of the emergence map.
    pub class: SignalClass,
    /// Whether it passes every weak-signal test (significant, author floor, weak quadrant, diffusing).
    pub is_weak_signal: bool,
    /// Whether it fired as a weak signal within `escalation_memory_buckets` before this bucket.
    pub was_weak_before: bool,
    /// Start of the bucket assessed.
    pub bucket_start: TimestampMs,
    /// End (exclusive) of the bucket assessed.
    pub bucket_end: TimestampMs,
    /// Posts with the term in the bucket.
    pub count: u64,
    /// Baseline EWMA before this bucket.
    pub baseline_mean: f64,
    /// Baseline standard deviation (sqrt EWMVar) before this bucket.
    pub baseline_std: f64,
    /// `(count − baseline_mean) / max(baseline_std, β)`.
    pub significance: f64,
    /// Distinct authors in the bucket (capped by `max_distinct_authors_per_term`).
    pub distinct_authors: u64,
    /// Distinct channels in the bucket.
    pub distinct_channels: u64,
    /// Distinct communities in the bucket.
    pub distinct_communities: u64,
    /// First post of the term seen by the exact tracker.
    pub first_seen: TimestampMs,
    /// Channels where the term appeared for the first time in this bucket (sorted).
    pub spreading_to_channels: Vec<String>,
    /// Communities where the term appeared for the first time in this bucket (sorted).
    pub spreading_to_communities: Vec<CommunityId>,
    /// Channels where the term appeared in this bucket (sorted).
    pub channels: Vec<String>,
    /// Majority language of the posts carrying the term.
    pub language: Language,
    /// Growth rate against the previous buckets (see [`growth_rate`]).
    pub growth: f64,
    /// Share of the bucket's posts containing the term.
    pub visibility: f64,
}

/// What one closed bucket produced.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketSignals {
    /// Start of the bucket.
    pub bucket_start: TimestampMs,
    /// End (exclusive) of the bucket.
    pub bucket_end: TimestampMs,
    /// Posts observed in the bucket.
    pub posts_in_bucket: u64,
    /// Fired signals: weak first, then strong; by significance (descending), then term.
    pub signals: Vec<TermSignal>,
}

#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct TrackedTerm {
    first_seen: TimestampMs,
    baseline: MovingBaseline,
    count: u64,
    authors: HashSet<ActorId>,
    channels: BTreeSet<u32>,
    communities: BTreeSet<CommunityId>,
    known_channels: HashSet<u32>,
    known_communities: HashSet<CommunityId>,
    recent_counts: VecDeque<u64>,
    /// Votes for English, French, unknown.
    language_votes: [u32; 3],
    retention_score: f64,
    last_active_bucket: u64,
    last_weak_bucket: Option<u64>,
    /// Significance in the previous bucket (the hashed one at promotion).
    previous_significance: f64,
    last_assessment: Option<TermSignal>,
}

/// The weak-signal detector state. Feed posts with [`SignalDetector::observe`], close each bucket (empty
/// ones too, so baselines see the silence) with [`SignalDetector::close_bucket`].
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SignalDetector {
    config: SignalConfig,
    alpha: f64,
    hashed: HashedBaselines,
    tracked: HashMap<String, TrackedTerm>,
    channel_ids: HashMap<String, u32>,
    channel_names: Vec<String>,
    posts_in_bucket: u64,
    buckets_closed: u64,
}

impl SignalDetector {
    /// An empty detector.
    pub fn new(config: SignalConfig) -> SignalDetector {
        let alpha = alpha_from_half_life(config.half_life_buckets);
        let hashed = HashedBaselines::new(config.sketch_width, config.sketch_depth);
        SignalDetector {
            config,
            alpha,
            hashed,
            tracked: HashMap::new(),
            channel_ids: HashMap::new(),
            channel_names: Vec::new(),
            posts_in_bucket: 0,
            buckets_closed: 0,
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &SignalConfig {
        &self.config
    }

    /// Number of exactly tracked terms (≤ `max_tracked_terms`).
    pub fn tracked_term_count(&self) -> usize {
        self.tracked.len()
    }

    /// Buckets closed so far.
    pub fn buckets_closed(&self) -> u64 {
        self.buckets_closed
    }

    /// Counts one post in the current bucket.
    pub fn observe(&mut self, observation: &SignalObservation<'_>) {
        self.posts_in_bucket += 1;
        let channel_id = self.intern_channel(observation.channel);
        let current_bucket = self.buckets_closed;
        for term in observation.terms {
            let hash = stable_hash64(term.as_bytes());
            // Tracked terms feed the sketch too, so their cells' baselines stay right if they are evicted.
            let hashed_count = self.hashed.increment_hash(hash);
            if let Some(tracked) = self.tracked.get_mut(term.as_str()) {
                tracked.record(observation, channel_id, current_bucket, &self.config);
                continue;
            }
            let (_, hashed_baseline) = self.hashed.estimate_hash(hash);
            let hashed_significance = hashed_baseline.significance(f64::from(hashed_count), self.config.beta);
            let is_significant = hashed_count >= self.config.promotion_min_count
                && hashed_significance >= self.config.promotion_significance;
            let is_heavy = hashed_count >= self.config.heavy_hitter_min_count;
            if !is_significant && !is_heavy {
                continue;
            }
            if self.tracked.len() >= self.config.max_tracked_terms {
                self.evict_least_significant();
            }
            let mut promoted = TrackedTerm {
                first_seen: observation.created_at,
                baseline: hashed_baseline,
                // The sketch's count (an upper bound) stands in for the posts seen before promotion; the
                // current post is recorded below.
                count: u64::from(hashed_count.saturating_sub(1)),
                authors: HashSet::new(),
                channels: BTreeSet::new(),
                communities: BTreeSet::new(),
                known_channels: HashSet::new(),
                known_communities: HashSet::new(),
                recent_counts: VecDeque::new(),
                language_votes: [0; 3],
                retention_score: hashed_significance.max(0.0),
                last_active_bucket: current_bucket,
                last_weak_bucket: None,
                previous_significance: hashed_significance,
                last_assessment: None,
            };
            promoted.record(observation, channel_id, current_bucket, &self.config);
            self.tracked.insert(term.clone(), promoted);
        }
    }

    /// Ends the current bucket `[bucket_start, bucket_end)`: assesses every tracked term, returns those that
    /// fire, folds the bucket into the baselines and starts the next bucket.
    pub fn close_bucket(&mut self, bucket_start: TimestampMs, bucket_end: TimestampMs) -> BucketSignals {
        let bucket_index = self.buckets_closed;
        let is_warm = bucket_index >= self.config.warmup_buckets;
        let posts_in_bucket = self.posts_in_bucket;
        let mut fired: Vec<TermSignal> = Vec::new();
        let mut idle_terms: Vec<String> = Vec::new();
        for (term, tracked) in self.tracked.iter_mut() {
            let assessment =
                tracked.assess(term, bucket_start, bucket_end, posts_in_bucket, &self.config, &self.channel_names);
            let passes_gate = is_warm
                && assessment.count > 0
                && assessment.significance >= self.config.significance_threshold
                && assessment.distinct_authors >= self.config.min_distinct_authors;
            let is_diffusing = !(assessment.spreading_to_channels.is_empty()
                && assessment.spreading_to_communities.is_empty())
                && (assessment.distinct_channels as usize >= self.config.min_places_for_diffusion
                    || assessment.distinct_communities as usize >= self.config.min_places_for_diffusion);
            let was_weak_before = tracked.last_weak_bucket.is_some_and(|weak_bucket| {
                bucket_index.saturating_sub(weak_bucket) <= self.config.escalation_memory_buckets
            });
            let mut assessment = assessment;
            assessment.was_weak_before = was_weak_before;
            let is_persistent = tracked.previous_significance >= self.config.min_previous_significance;
            assessment.is_weak_signal =
                passes_gate && is_persistent && assessment.class == SignalClass::Weak && is_diffusing;
            let fires_strong = passes_gate && is_persistent && assessment.class == SignalClass::Strong;
            if assessment.is_weak_signal {
                tracked.last_weak_bucket = Some(bucket_index);
            } else if fires_strong && was_weak_before {
                // One escalation per weak episode: later strong buckets are not escalations again.
                tracked.last_weak_bucket = None;
            }
            if assessment.is_weak_signal || fires_strong {
                fired.push(assessment.clone());
            }
            tracked.fold_bucket(&assessment, self.alpha, &self.config);
            tracked.last_assessment = Some(assessment);
            let idle_for = bucket_index.saturating_sub(tracked.last_active_bucket);
            if idle_for >= self.config.idle_buckets_before_eviction && tracked.baseline.corrected_mean() < 0.05 {
                idle_terms.push(term.clone());
            }
        }
        for term in idle_terms {
            self.tracked.remove(&term);
        }
        self.hashed.close_bucket(self.alpha);
        self.posts_in_bucket = 0;
        self.buckets_closed += 1;
        fired.sort_by(|left, right| {
            let class_rank = |signal: &TermSignal| u8::from(signal.class != SignalClass::Weak);
            class_rank(left)
                .cmp(&class_rank(right))
                .then(right.significance.total_cmp(&left.significance))
                .then(left.term.cmp(&right.term))
        });
        BucketSignals { bucket_start, bucket_end, posts_in_bucket, signals: fired }
    }

    /// The last assessment of a tracked term (whether it fired or not), e.g. to show a term's trend or its
    /// latent/fading class. `None` when the term is not tracked or no bucket closed since its promotion.
    pub fn explain(&self, term: &str) -> Option<&TermSignal> {
        self.tracked.get(term).and_then(|tracked| tracked.last_assessment.as_ref())
    }

    /// The latest assessment of every tracked term (fired or not), e.g. to store each term's per-bucket
    /// counts after [`SignalDetector::close_bucket`]; terms are in no particular order.
    pub fn assessments(&self) -> impl Iterator<Item = &TermSignal> + '_ {
        self.tracked.values().filter_map(|tracked| tracked.last_assessment.as_ref())
    }

    /// Approximate bytes held by the state (sketch, tracked terms with their sets, channel names).
    pub fn memory_bytes(&self) -> usize {
        let sketch_bytes = self.hashed.memory_bytes();
        let tracked_bytes: usize = self
            .tracked
            .iter()
            .map(|(term, tracked)| {
                std::mem::size_of::<TrackedTerm>()
                    + std::mem::size_of::<String>()
                    + term.capacity()
                    + tracked.authors.capacity() * (std::mem::size_of::<ActorId>() + 1)
                    + tracked.channels.len() * 16
                    + tracked.communities.len() * 24
                    + tracked.known_channels.capacity() * (std::mem::size_of::<u32>() + 1)
                    + tracked.known_communities.capacity() * (std::mem::size_of::<CommunityId>() + 1)
                    + tracked.recent_counts.capacity() * std::mem::size_of::<u64>()
                    + tracked.last_assessment.as_ref().map_or(0, assessment_heap_bytes)
            })
            .sum();
        let channel_bytes: usize = self.channel_names.iter().map(|name| 2 * name.capacity() + 48).sum();
        sketch_bytes + tracked_bytes + channel_bytes
    }

    fn intern_channel(&mut self, channel: &str) -> u32 {
        if let Some(channel_id) = self.channel_ids.get(channel) {
            return *channel_id;
        }
        let channel_id = u32::try_from(self.channel_names.len()).unwrap_or(u32::MAX);
        self.channel_names.push(channel.to_string());
        self.channel_ids.insert(channel.to_string(), channel_id);
        channel_id
    }

    /// Drops the least significant tenth of the tracked set (at least one term). Sorting once per batch
    /// keeps promotion amortised O(log n) instead of a full scan per promoted term.
    fn evict_least_significant(&mut self) {
        let mut ranked: Vec<(f64, f64, String)> = self
            .tracked
            .iter()
            .map(|(term, tracked)| (tracked.retention_score, tracked.baseline.corrected_mean(), term.clone()))
            .collect();
        ranked.sort_by(|left, right| {
            left.0.total_cmp(&right.0).then(left.1.total_cmp(&right.1)).then(left.2.cmp(&right.2))
        });
        let evict_count = (self.config.max_tracked_terms / 10).max(1);
        for (_, _, term) in ranked.into_iter().take(evict_count) {
            self.tracked.remove(&term);
        }
    }
}

fn assessment_heap_bytes(assessment: &TermSignal) -> usize {
    std::mem::size_of::<TermSignal>()
        + assessment.term.capacity()
        + assessment
            .channels
            .iter()
            .chain(assessment.spreading_to_channels.iter())
            .map(|name| name.capacity() + 24)
            .sum::<usize>()
        + assessment.spreading_to_communities.capacity() * 8
}

impl TrackedTerm {
    fn record(&mut self, observation: &SignalObservation<'_>, channel_id: u32, bucket: u64, config: &SignalConfig) {
        self.count += 1;
        self.last_active_bucket = bucket;
        if self.authors.len() < config.max_distinct_authors_per_term {
            self.authors.insert(observation.author);
        }
        if self.channels.len() < config.max_known_places_per_term {
            self.channels.insert(channel_id);
        }
        if let Some(community) = observation.community {
            if self.communities.len() < config.max_known_places_per_term {
                self.communities.insert(community);
            }
        }
        let language_slot = match observation.language {
            Language::English => 0,
            Language::French => 1,
            Language::Unknown => 2,
        };
        self.language_votes[language_slot] = self.language_votes[language_slot].saturating_add(1);
        self.first_seen = self.first_seen.min(observation.created_at);
    }

    fn assess(
        &self,
        term: &str,
        bucket_start: TimestampMs,
        bucket_end: TimestampMs,
        posts_in_bucket: u64,
        config: &SignalConfig,
        channel_names: &[String],
    ) -> TermSignal {
        let previous_counts: Vec<u64> = self.recent_counts.iter().copied().collect();
        let growth = growth_rate(self.count, &previous_counts);
        let visibility_share = visibility(self.count, posts_in_bucket);
        let channel_name = |channel_id: &u32| channel_names.get(*channel_id as usize).cloned().unwrap_or_default();
        let mut spreading_to_channels: Vec<String> =
            self.channels.iter().filter(|channel| !self.known_channels.contains(channel)).map(channel_name).collect();
        spreading_to_channels.sort();
        let spreading_to_communities: Vec<CommunityId> =
            self.communities.iter().filter(|community| !self.known_communities.contains(community)).copied().collect();
        let mut channels: Vec<String> = self.channels.iter().map(channel_name).collect();
        channels.sort();
        TermSignal {
            term: term.to_string(),
            class: classify(visibility_share, growth, &config.quadrants),
            is_weak_signal: false,
            was_weak_before: false,
            bucket_start,
            bucket_end,
            count: self.count,
            baseline_mean: self.baseline.corrected_mean(),
            baseline_std: self.baseline.std_dev(),
            significance: self.baseline.significance(self.count as f64, config.beta),
            distinct_authors: self.authors.len() as u64,
            distinct_channels: self.channels.len() as u64,
            distinct_communities: self.communities.len() as u64,
            first_seen: self.first_seen,
            spreading_to_channels,
            spreading_to_communities,
            channels,
            language: self.majority_language(),
            growth,
            visibility: visibility_share,
        }
    }

    fn majority_language(&self) -> Language {
        let [english, french, unknown] = self.language_votes;
        if english > french && english >= unknown {
            Language::English
        } else if french > english && french >= unknown {
            Language::French
        } else {
            Language::Unknown
        }
    }

    fn fold_bucket(&mut self, assessment: &TermSignal, alpha: f64, config: &SignalConfig) {
        self.baseline.update(self.count as f64, alpha);
        self.recent_counts.push_back(self.count);
        while self.recent_counts.len() > config.growth_lookback_buckets {
            self.recent_counts.pop_front();
        }
        for channel in &self.channels {
            if self.known_channels.len() < config.max_known_places_per_term {
                self.known_channels.insert(*channel);
            }
        }
        for community in &self.communities {
            if self.known_communities.len() < config.max_known_places_per_term {
                self.known_communities.insert(*community);
            }
        }
        // Halving keeps a term that was significant recently ahead of one that was significant long ago.
        self.retention_score = (self.retention_score * 0.5).max(assessment.significance.max(0.0));
        self.previous_significance = assessment.significance;
        self.count = 0;
        self.authors.clear();
        self.channels.clear();
        self.communities.clear();
    }
}

#[cfg(test)]
mod tests;
