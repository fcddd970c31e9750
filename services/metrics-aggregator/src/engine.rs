//! The live detection engine: feeds stored posts to the detection core (`murmur-detect`) in event
//! time and says what changed.
//!
//! Time is the posts' own `created_at` (event time), so a replay of last week's stream gives the
//! same communities, KPIs, signals and alert ids as the live run did. The engine keeps a
//! *watermark* = latest `created_at` seen − allowed lateness:
//! - the weak-signal bucket `[b, b + bucket)` closes once the watermark passes `b + bucket`
//!   (empty buckets in between are closed too, so baselines see the silence);
//! - communities and KPIs are recomputed once per *detection window* `[w, w + interval)` when the
//!   watermark passes `w + interval`: graph snapshot at the window's end → Leiden warm-started from
//!   the tracked partition → Jaccard tracking → KPIs of the window's posts → alert decisions.
//!
//! Everything here is synchronous and does no I/O; the service persists what it returns. The
//! long-lived state ([`DetectorState`]) serialises to a compact snapshot so a restart resumes
//! with the same community ids and signal baselines.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use murmur_detect::alerts::{
    Alert as DetectedAlert, AlertConfig, AlertDecider, AlertWindow, CommunityChange, LifecycleStatus,
    SentimentObservation,
};
use murmur_detect::graph::{GraphConfig, InteractionGraph, InteractionKind};
use murmur_detect::kpi::{
    compute_window_kpis, ChannelKpis, CommunityKpis, KpiConfig, KpiInput, MemberRoles, PostRecord, PreviousWindow,
};
use murmur_detect::leiden::{Leiden, LeidenConfig, WarmStart};
use murmur_detect::signals::{SignalConfig, SignalDetector, SignalObservation, TermSignal};
use murmur_detect::terms::{Language, TermExtractor};
use murmur_detect::tracking::{CommunityTracker, LifecycleEventKind, TrackerConfig};
use murmur_detect::types::{ActorId, CommunityId, TimestampMs};
use serde::{Deserialize, Serialize};

/// Settings of the engine (built from the service's flags).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Graph decay and window.
    pub graph: GraphConfig,
    /// Leiden objective and seed.
    pub leiden: LeidenConfig,
    /// Tracking thresholds and the micro-community band.
    pub tracker: TrackerConfig,
    /// Weak-signal detector.
    pub signals: SignalConfig,
    /// Alert thresholds.
    pub alerts: AlertConfig,
    /// Owned brand accounts (pseudonymous ids, as in `Post.author_id`).
    pub owned_accounts: Vec<String>,
    /// Weak-signal bucket length.
    pub bucket_ms: i64,
    /// Detection window length (communities and KPIs are recomputed once per window).
    pub detection_interval_ms: i64,
    /// How late a post may arrive (behind the newest one) and still count in its bucket.
    pub allowed_lateness_ms: i64,
    /// Posts kept for the KPIs of the open window; further posts are stored but not in its KPIs.
    pub max_window_posts: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            graph: GraphConfig::default(),
            leiden: LeidenConfig::default(),
            tracker: TrackerConfig::default(),
            signals: SignalConfig::default(),
            alerts: AlertConfig::default(),
            owned_accounts: Vec::new(),
            bucket_ms: 3_600_000,
            detection_interval_ms: 3_600_000,
            allowed_lateness_ms: 300_000,
            max_window_posts: 2_000_000,
        }
    }
}

/// A stored post as the engine needs it (the service builds it from a `ScoredPost`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PostInput {
    /// `platform:native_id`.
    pub id: String,
    /// `murmur.events.v1.Platform` value.
    pub platform: i32,
    /// Channel key `platform:channel` (the Kafka key), unique across platforms.
    pub channel_key: String,
    /// Pseudonymous author (empty when deleted).
    pub author: String,
    /// Parent post id.
    pub parent_id: Option<String>,
    /// Author of the parent when known (resolved from the store).
    pub parent_author: Option<String>,
    /// Thread root id.
    pub root_id: Option<String>,
    /// Pseudonymous mentions.
    pub mentions: Vec<String>,
    /// Hashtags (lowercase, no `#`).
    pub hashtags: Vec<String>,
    /// Title and text.
    pub text: String,
    /// Event time.
    pub created_at: TimestampMs,
    /// Compound sentiment when scored.
    pub sentiment: Option<f64>,
    /// Replies counter.
    pub replies: u64,
    /// Reactions (score, likes).
    pub reactions: u64,
    /// Forwards, boosts.
    pub forwards: u64,
    /// Channel audience when known.
    pub channel_audience: Option<u64>,
    /// Platform moderator flag.
    pub author_is_moderator: bool,
    /// ISO 639-1 or `und`.
    pub language: String,
    /// Telegram: channel key this message was forwarded from.
    pub forwarded_from_key: Option<String>,
}

/// A reply found after the fact: its parent arrived later than the reply.
#[derive(Debug, Clone, PartialEq)]
pub struct LateReply {
    /// Author of the reply.
    pub source: String,
    /// Author of the parent.
    pub target: String,
    /// The reply's time.
    pub at: TimestampMs,
}

/// The long-lived state, serialised into the snapshot.
#[derive(Debug, Serialize, Deserialize)]
pub struct DetectorState {
    graph: InteractionGraph,
    tracker: CommunityTracker,
    signals: SignalDetector,
    previous: PreviousWindow,
    /// First window end at which each community was seen.
    community_born_at: HashMap<CommunityId, TimestampMs>,
    /// Mean and sample size of each community's sentiment in the previous window.
    previous_sentiment: HashMap<CommunityId, (f64, u64)>,
    latest_event: Option<TimestampMs>,
    bucket_start: Option<TimestampMs>,
    window_start: Option<TimestampMs>,
    /// Posts later than the open bucket or window, in time order: the watermark is held back by a
    /// slower partition, so their period is not open yet. They are counted when it opens (a post
    /// added early would be counted in the wrong bucket).
    #[serde(default)]
    held: VecDeque<PostInput>,
    /// Highest store sequence number fed to the engine.
    pub last_seq: i64,
}

/// A member of a community with its roles, by pseudonymous id.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRecord {
    /// Pseudonymous actor id.
    pub actor: String,
    /// Roles held (empty: plain member).
    pub roles: Vec<murmur_detect::kpi::Role>,
    /// Posts in the window.
    pub posts: u64,
    /// Distinct actors interacting towards this one in the window.
    pub in_degree: u64,
}

/// One community after a detection run.
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityRecord {
    /// Stable id.
    pub id: CommunityId,
    /// Lifecycle status after this run.
    pub status: LifecycleStatus,
    /// Window end at which it was first seen.
    pub born_at: TimestampMs,
    /// Within the micro-community band.
    pub is_micro: bool,
    /// Every member (roles where held).
    pub members: Vec<MemberRecord>,
    /// KPIs of the window.
    pub kpis: CommunityKpis,
    /// Channel keys of the members' posts in the window, most active first.
    pub channels: Vec<String>,
    /// Platforms of those channels.
    pub platforms: Vec<i32>,
}

/// A lifecycle event of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleRecord {
    /// Community.
    pub community: CommunityId,
    /// Status it moved to.
    pub status: LifecycleStatus,
    /// Size now.
    pub size: u64,
    /// Size before.
    pub previous_size: u64,
    /// Merged or split partners.
    pub related: Vec<CommunityId>,
}

/// What a detection run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionOutput {
    /// The window.
    pub window_start: TimestampMs,
    /// Its end (exclusive).
    pub window_end: TimestampMs,
    /// Live communities.
    pub communities: Vec<CommunityRecord>,
    /// Communities dissolved in this run.
    pub dissolved: Vec<CommunityId>,
    /// Lifecycle events other than "stable".
    pub events: Vec<LifecycleRecord>,
    /// KPIs per channel key.
    pub channels: Vec<(i32, ChannelKpis)>,
    /// Alerts decided.
    pub alerts: Vec<DetectedAlert>,
}

/// What closing a weak-signal bucket produced.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketOutput {
    /// Bucket start.
    pub bucket_start: TimestampMs,
    /// Bucket end (exclusive).
    pub bucket_end: TimestampMs,
    /// Tracked terms with posts in the bucket (for term trends).
    pub term_stats: Vec<TermSignal>,
    /// Terms that fired (weak or strong).
    pub fired: Vec<TermSignal>,
    /// Alerts decided.
    pub alerts: Vec<DetectedAlert>,
}

/// Results of feeding a batch, in event-time order.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineOutput {
    /// A closed weak-signal bucket.
    Bucket(BucketOutput),
    /// A detection run.
    Detection(DetectionOutput),
}

/// The engine: state plus the helpers that are rebuilt from the configuration.
pub struct Engine {
    config: EngineConfig,
    state: DetectorState,
    extractor: TermExtractor,
    leiden: Leiden,
    kpi_config: KpiConfig,
    decider: AlertDecider,
    window_posts: Vec<PostRecord>,
    platform_of_channel: HashMap<String, i32>,
    window_overflow: u64,
}

/// Start of the period of length `period` containing `time`.
fn floor_to(time: TimestampMs, period: i64) -> TimestampMs {
    time.div_euclid(period) * period
}

/// Most periods closed in one go: after a longer silence (or a clock jumping ahead) the baselines
/// continue as if the silence had lasted this many periods. Closing a bucket touches the whole
/// count-min sketch, so this bounds the work one post can cause.
const MAX_CATCH_UP_PERIODS: i64 = 256;

impl Engine {
    /// A fresh engine.
    pub fn new(config: EngineConfig) -> Engine {
        let state = DetectorState {
            graph: InteractionGraph::new(config.graph.clone()),
            tracker: CommunityTracker::new(config.tracker.clone()),
            signals: SignalDetector::new(config.signals.clone()),
            previous: PreviousWindow::default(),
            community_born_at: HashMap::new(),
            previous_sentiment: HashMap::new(),
            latest_event: None,
            bucket_start: None,
            window_start: None,
            held: VecDeque::new(),
            last_seq: 0,
        };
        Engine::with_state(config, state)
    }

    /// An engine resuming from a snapshot (see [`Engine::snapshot`]).
    pub fn restore(config: EngineConfig, snapshot: &[u8]) -> anyhow::Result<Engine> {
        let state: DetectorState = bincode::deserialize(snapshot)
            .map_err(|error| anyhow::anyhow!("the detector snapshot does not decode: {error}"))?;
        Ok(Engine::with_state(config, state))
    }

    fn with_state(config: EngineConfig, mut state: DetectorState) -> Engine {
        let mut kpi_config = KpiConfig::default();
        for owned in &config.owned_accounts {
            let id = state.graph.actor(owned, state.latest_event.unwrap_or_default());
            kpi_config.owned_accounts.insert(id);
        }
        Engine {
            extractor: TermExtractor::default(),
            leiden: Leiden::new(config.leiden.clone()),
            decider: AlertDecider::new(config.alerts.clone()),
            kpi_config,
            config,
            state,
            window_posts: Vec::new(),
            platform_of_channel: HashMap::new(),
            window_overflow: 0,
        }
    }

    /// The compact snapshot of the long-lived state (bincode).
    pub fn snapshot(&self) -> anyhow::Result<Vec<u8>> {
        bincode::serialize(&self.state).map_err(|error| anyhow::anyhow!("cannot encode the detector snapshot: {error}"))
    }

    /// Highest store sequence number fed so far.
    pub fn last_seq(&self) -> i64 {
        self.state.last_seq
    }

    /// Records that posts up to `seq` were fed.
    pub fn set_last_seq(&mut self, seq: i64) {
        self.state.last_seq = self.state.last_seq.max(seq);
    }

    /// Start of the open detection window, if any post was seen.
    pub fn window_start(&self) -> Option<TimestampMs> {
        self.state.window_start
    }

    /// Latest event time seen.
    pub fn latest_event(&self) -> Option<TimestampMs> {
        self.state.latest_event
    }

    /// Posts left out of a window's KPIs because the window buffer was full (for metrics).
    pub fn window_overflow(&self) -> u64 {
        self.window_overflow
    }

    /// Live actors and pairs of the graph (for metrics).
    pub fn graph_size(&self) -> (usize, usize) {
        (self.state.graph.live_actor_count(), self.state.graph.pair_count())
    }

    /// Re-adds a post of the open window to the KPI buffer only (after a restart: the snapshot holds
    /// the graph and baselines, the window's posts come back from the store).
    pub fn reload_window_post(&mut self, post: &PostInput) {
        let record = self.record(post);
        self.push_window_post(record);
    }

    /// Feeds posts and replies whose parent arrived later; returns the buckets and detection runs
    /// the watermark passed, in time order. The batch is processed in event-time order; `cap`
    /// holds the watermark back (the pipeline passes the slowest partition's event time, so a
    /// partition read ahead of the others does not close windows the others still feed).
    pub fn ingest(
        &mut self,
        posts: &[PostInput],
        late_replies: &[LateReply],
        cap: Option<TimestampMs>,
    ) -> Vec<EngineOutput> {
        let mut outputs = Vec::new();
        let mut order: Vec<&PostInput> = posts.iter().collect();
        order.sort_by_key(|post| post.created_at);
        for post in order {
            // While adding the batch in time order, nothing at or after this post's time may close:
            // the batch's later posts (other partitions included, which the cap counts) are not in yet.
            let cap_here = cap.map_or(post.created_at, |cap| cap.min(post.created_at));
            self.advance(post.created_at, Some(cap_here), &mut outputs);
            if self.fits_open_periods(post.created_at) {
                self.add_post(post);
            } else {
                self.hold(post.clone());
            }
        }
        outputs.extend(self.advance_watermark(cap));
        for reply in late_replies {
            // A rejected interaction (self-reply, outside the window) is simply not an edge.
            let _ = self.state.graph.add_named_interaction(
                &reply.source,
                &reply.target,
                InteractionKind::Reply,
                1.0,
                reply.at,
            );
        }
        outputs
    }

    /// Moves event time to `time` and closes what the watermark passed.
    fn advance(&mut self, time: TimestampMs, cap: Option<TimestampMs>, outputs: &mut Vec<EngineOutput>) {
        let state = &mut self.state;
        let latest = state.latest_event.map_or(time, |latest| latest.max(time));
        state.latest_event = Some(latest);
        if state.bucket_start.is_none() {
            state.bucket_start = Some(floor_to(time, self.config.bucket_ms));
        }
        if state.window_start.is_none() {
            state.window_start = Some(floor_to(time, self.config.detection_interval_ms));
        }
        let watermark = latest.saturating_sub(self.config.allowed_lateness_ms);
        self.catch_up(cap.map_or(watermark, |cap| watermark.min(cap)), outputs);
    }

    /// Closes what a watermark of `min(latest − lateness, cap)` passed, without a new post (the
    /// pipeline calls it when a slow partition caught up or went idle).
    pub fn advance_watermark(&mut self, cap: Option<TimestampMs>) -> Vec<EngineOutput> {
        let mut outputs = Vec::new();
        if let Some(latest) = self.state.latest_event {
            let watermark = latest.saturating_sub(self.config.allowed_lateness_ms);
            self.catch_up(cap.map_or(watermark, |cap| watermark.min(cap)), &mut outputs);
        }
        outputs
    }

    /// Whether a post at `time` belongs to the open bucket and window (or an earlier one: late
    /// posts count in the open period, as before).
    fn fits_open_periods(&self, time: TimestampMs) -> bool {
        let bucket_end = self.state.bucket_start.map(|start| start + self.config.bucket_ms);
        let window_end = self.state.window_start.map(|start| start + self.config.detection_interval_ms);
        bucket_end.is_none_or(|end| time < end) && window_end.is_none_or(|end| time < end)
    }

    fn hold(&mut self, post: PostInput) {
        let at = self.state.held.partition_point(|held| held.created_at <= post.created_at);
        self.state.held.insert(at, post);
    }

    /// Adds the held posts whose periods are now open.
    fn release_held(&mut self) {
        while let Some(post) = self.state.held.front() {
            if !self.fits_open_periods(post.created_at) {
                break;
            }
            let post = self.state.held.pop_front().unwrap_or_default();
            self.add_post(&post);
        }
    }

    /// Posts waiting for their period to open.
    pub fn held_posts(&self) -> usize {
        self.state.held.len()
    }

    fn catch_up(&mut self, watermark: TimestampMs, outputs: &mut Vec<EngineOutput>) {
        let bucket = self.config.bucket_ms;
        let interval = self.config.detection_interval_ms;
        // Skip ahead over a long silence instead of closing millions of empty periods.
        for (start, period) in [(&mut self.state.bucket_start, bucket), (&mut self.state.window_start, interval)] {
            if let Some(start) = start {
                if watermark.saturating_sub(*start) > MAX_CATCH_UP_PERIODS.saturating_mul(period) {
                    *start = floor_to(watermark, period) - MAX_CATCH_UP_PERIODS * period;
                }
            }
        }
        loop {
            let next_bucket_end = self.state.bucket_start.map(|start| start + bucket);
            let next_window_end = self.state.window_start.map(|start| start + interval);
            let bucket_due = next_bucket_end.filter(|end| *end <= watermark);
            let window_due = next_window_end.filter(|end| *end <= watermark);
            match (bucket_due, window_due) {
                (None, None) => break,
                // Close whichever period ends first; a bucket before a window ending at the same time, so
                // the window's run sees the bucket's baselines.
                (Some(bucket_end), Some(window_end)) if bucket_end <= window_end => self.close_bucket(outputs),
                (Some(_), None) => self.close_bucket(outputs),
                _ => self.run_detection(outputs),
            }
            self.release_held();
        }
    }

    fn record(&mut self, post: &PostInput) -> PostRecord {
        // The key is copied only for a channel seen for the first time, not for every post.
        if !self.platform_of_channel.contains_key(&post.channel_key) {
            self.platform_of_channel.insert(post.channel_key.clone(), post.platform);
        }
        let language = Language::from_hint(&post.language);
        let terms = self.extractor.extract(&post.text, &post.hashtags, language);
        let graph = &mut self.state.graph;
        let author = graph.actor(&post.author, post.created_at);
        let parent_author = post.parent_author.as_deref().map(|name| graph.actor(name, post.created_at));
        let mentions = post.mentions.iter().map(|name| graph.actor(name, post.created_at)).collect();
        PostRecord {
            post_id: post.id.clone(),
            author,
            parent_post_id: post.parent_id.clone(),
            parent_author,
            root_post_id: post.root_id.clone(),
            mentions,
            channel: post.channel_key.clone(),
            created_at: post.created_at,
            sentiment: post.sentiment,
            replies: post.replies,
            reactions: post.reactions,
            forwards: post.forwards,
            channel_audience: post.channel_audience,
            author_is_moderator: post.author_is_moderator,
            terms,
        }
    }

    fn push_window_post(&mut self, record: PostRecord) {
        let in_window = self.state.window_start.is_some_and(|start| record.created_at >= start);
        if !in_window {
            return;
        }
        if self.window_posts.len() >= self.config.max_window_posts {
            self.window_overflow += 1;
            return;
        }
        self.window_posts.push(record);
    }

    fn add_post(&mut self, post: &PostInput) {
        let record = self.record(post);
        let graph = &mut self.state.graph;
        // Rejections (self-replies, deleted authors, posts older than the window) are not edges.
        if !post.author.is_empty() {
            if let Some(parent) = post.parent_author.as_deref().filter(|parent| !parent.is_empty()) {
                let _ = graph.add_named_interaction(&post.author, parent, InteractionKind::Reply, 1.0, post.created_at);
            }
            for mention in &post.mentions {
                let _ =
                    graph.add_named_interaction(&post.author, mention, InteractionKind::Mention, 1.0, post.created_at);
            }
        }
        if let Some(source_channel) = &post.forwarded_from_key {
            let _ = graph.add_named_interaction(
                &format!("channel:{}", post.channel_key),
                &format!("channel:{source_channel}"),
                InteractionKind::Forward,
                1.0,
                post.created_at,
            );
        }
        let community = self.state.tracker.community_of_actor().get(&record.author).copied();
        self.state.signals.observe(&SignalObservation {
            author: record.author,
            channel: &record.channel,
            community,
            language: Language::from_hint(&post.language),
            created_at: post.created_at,
            terms: &record.terms,
        });
        self.push_window_post(record);
    }

    fn close_bucket(&mut self, outputs: &mut Vec<EngineOutput>) {
        let Some(bucket_start) = self.state.bucket_start else { return };
        let bucket_end = bucket_start + self.config.bucket_ms;
        let closed = self.state.signals.close_bucket(bucket_start, bucket_end);
        let alerts = self.decider.signal_alerts(&closed, bucket_end);
        let mut term_stats: Vec<TermSignal> = self
            .state
            .signals
            .assessments()
            .filter(|assessment| assessment.bucket_start == bucket_start && assessment.count > 0)
            .cloned()
            .collect();
        term_stats.sort_by(|left, right| left.term.cmp(&right.term));
        self.state.bucket_start = Some(bucket_end);
        outputs.push(EngineOutput::Bucket(BucketOutput {
            bucket_start,
            bucket_end,
            term_stats,
            fired: closed.signals,
            alerts,
        }));
    }

    fn run_detection(&mut self, outputs: &mut Vec<EngineOutput>) {
        let Some(window_start) = self.state.window_start else { return };
        let window_end = window_start + self.config.detection_interval_ms;
        // Posts of later windows (read ahead of the watermark) wait for their own run.
        let (window_posts, later_posts): (Vec<PostRecord>, Vec<PostRecord>) =
            std::mem::take(&mut self.window_posts).into_iter().partition(|post| post.created_at < window_end);
        self.window_posts = later_posts;
        let state = &mut self.state;

        let snapshot = state.graph.snapshot(window_end);
        let labels = snapshot.warm_start_labels(state.tracker.community_of_actor());
        let outcome = self.leiden.run_warm(
            &snapshot.graph,
            &WarmStart { initial_membership: &labels, touched_nodes: &snapshot.touched_nodes },
        );
        let update = match state.tracker.update(&snapshot.node_actors, &outcome.membership) {
            Ok(update) => update,
            Err(error) => {
                // Cannot happen with a snapshot's own node list; keep the stream going regardless.
                tracing::error!(error = ?error, "community tracking rejected the partition");
                state.window_start = Some(window_end);
                return;
            }
        };
        let membership: HashMap<ActorId, CommunityId> = state.tracker.community_of_actor().clone();
        for community in &update.communities {
            state.community_born_at.entry(community.id).or_insert(window_end);
        }
        let kpi_input = KpiInput {
            window_start,
            window_end,
            posts: &window_posts,
            membership: &membership,
            previous: &state.previous,
            community_born_at: &state.community_born_at,
        };
        let kpis = compute_window_kpis(&kpi_input, &self.kpi_config);
        let next_previous = PreviousWindow::from_window(&kpi_input, &kpis, &self.kpi_config);

        // Status of each live community: its event of this run, else stable.
        let mut status_of: HashMap<CommunityId, (LifecycleStatus, Vec<CommunityId>, usize)> = HashMap::new();
        let mut events = Vec::new();
        let mut dissolved = Vec::new();
        for event in &update.events {
            let status = lifecycle_status(event.kind);
            if event.kind == LifecycleEventKind::Dissolved {
                dissolved.push(event.community);
            }
            status_of.insert(event.community, (status, event.related.clone(), event.previous_size));
            if event.kind != LifecycleEventKind::Stable {
                events.push(LifecycleRecord {
                    community: event.community,
                    status,
                    size: event.size as u64,
                    previous_size: event.previous_size as u64,
                    related: event.related.clone(),
                });
            }
        }

        // Posts per channel of each author, built once (not one scan of the window per community).
        let mut channels_of_author: HashMap<ActorId, BTreeMap<&str, u64>> = HashMap::new();
        for post in &window_posts {
            *channels_of_author.entry(post.author).or_default().entry(post.channel.as_str()).or_default() += 1;
        }
        let interner = state.graph.interner();
        let name = |actor: ActorId| interner.name(actor).unwrap_or_default().to_string();
        let mut communities = Vec::new();
        let mut changes = Vec::new();
        let mut sentiment_observations = Vec::new();
        for tracked in &update.communities {
            let community_kpis = kpis.communities.get(&tracked.id).cloned().unwrap_or_default();
            let (status, related, previous_size) = status_of.get(&tracked.id).cloned().unwrap_or((
                LifecycleStatus::Stable,
                Vec::new(),
                tracked.members.len(),
            ));
            let mut channel_posts: BTreeMap<&str, u64> = BTreeMap::new();
            for member in &tracked.members {
                for (channel, posts) in channels_of_author.get(member).into_iter().flatten() {
                    *channel_posts.entry(channel).or_default() += posts;
                }
            }
            let mut channels: Vec<(&str, u64)> = channel_posts.into_iter().collect();
            channels.sort_by(|left, right| right.1.cmp(&left.1).then(left.0.cmp(right.0)));
            let channels: Vec<String> = channels.into_iter().map(|(channel, _)| channel.to_string()).collect();
            let platforms: Vec<i32> = channels
                .iter()
                .filter_map(|channel| self.platform_of_channel.get(channel).copied())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let roles_of: HashMap<ActorId, &MemberRoles> =
                community_kpis.roles.iter().map(|roles| (roles.actor, roles)).collect();
            let members = tracked
                .members
                .iter()
                .map(|actor| {
                    let roles = roles_of.get(actor);
                    MemberRecord {
                        actor: name(*actor),
                        roles: roles.map(|roles| roles.roles.clone()).unwrap_or_default(),
                        posts: roles.map(|roles| roles.posts).unwrap_or_default(),
                        in_degree: roles
                            .map_or_else(|| u64::from(state.graph.in_degree(*actor)), |roles| roles.in_degree),
                    }
                })
                .collect();
            changes.push(CommunityChange {
                community_id: tracked.id,
                status,
                size: tracked.members.len() as u64,
                previous_size: previous_size as u64,
                related,
                emergence_score: community_kpis.emergence_score,
                member_to_member_ratio: community_kpis.group.member_to_member_ratio.unwrap_or(0.0),
                engagement_rate: community_kpis.group.engagement_rate,
                themes: community_kpis.themes.iter().take(5).map(|(term, _)| term.clone()).collect(),
                channels: channels.clone(),
            });
            let sentiment = community_kpis.group.sentiment;
            if let (Some(current), Some((previous_mean, previous_samples))) =
                (sentiment.mean, state.previous_sentiment.get(&tracked.id))
            {
                sentiment_observations.push(SentimentObservation {
                    community_id: tracked.id,
                    previous_mean: *previous_mean,
                    previous_sample_size: *previous_samples,
                    current_mean: current,
                    current_sample_size: sentiment.scored_posts,
                });
            }
            communities.push(CommunityRecord {
                id: tracked.id,
                status,
                born_at: state.community_born_at.get(&tracked.id).copied().unwrap_or(window_end),
                is_micro: tracked.is_micro,
                members,
                kpis: community_kpis,
                channels,
                platforms,
            });
        }
        for id in &dissolved {
            let previous_size = status_of.get(id).map(|(_, _, size)| *size).unwrap_or_default();
            changes.push(CommunityChange {
                community_id: *id,
                status: LifecycleStatus::Dissolved,
                size: 0,
                previous_size: previous_size as u64,
                related: Vec::new(),
                emergence_score: 0.0,
                member_to_member_ratio: 0.0,
                engagement_rate: 0.0,
                themes: Vec::new(),
                channels: Vec::new(),
            });
        }
        let window = AlertWindow { start: window_start, end: window_end };
        let mut alerts = self.decider.community_alerts(&changes, window, window_end);
        alerts.extend(self.decider.sentiment_alerts(&sentiment_observations, window, window_end));

        state.previous_sentiment = communities
            .iter()
            .filter_map(|community| {
                let sentiment = community.kpis.group.sentiment;
                sentiment.mean.map(|mean| (community.id, (mean, sentiment.scored_posts)))
            })
            .collect();
        for id in &dissolved {
            state.community_born_at.remove(id);
        }
        state.previous = next_previous;
        state.window_start = Some(window_end);
        let channels = kpis
            .channels
            .into_values()
            .map(|channel| (self.platform_of_channel.get(&channel.channel).copied().unwrap_or_default(), channel))
            .collect();
        outputs.push(EngineOutput::Detection(DetectionOutput {
            window_start,
            window_end,
            communities,
            dissolved,
            events,
            channels,
            alerts,
        }));
    }
}

fn lifecycle_status(kind: LifecycleEventKind) -> LifecycleStatus {
    match kind {
        LifecycleEventKind::Born => LifecycleStatus::Born,
        LifecycleEventKind::Growing => LifecycleStatus::Growing,
        LifecycleEventKind::Shrinking => LifecycleStatus::Shrinking,
        LifecycleEventKind::Stable => LifecycleStatus::Stable,
        LifecycleEventKind::Merged => LifecycleStatus::Merged,
        LifecycleEventKind::Split => LifecycleStatus::Split,
        LifecycleEventKind::Dissolved => LifecycleStatus::Dissolved,
    }
}

#[cfg(test)]
mod tests;
