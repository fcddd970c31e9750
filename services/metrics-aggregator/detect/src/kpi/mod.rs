//! KPIs per community and per channel for one window, as ARCHITECTURE.md defines them.
//!
//! The caller gives the window's posts ([`PostRecord`], every channel), the current partition
//! (actor → community) and a [`PreviousWindow`] summary; [`compute_window_kpis`] returns a
//! [`CommunityKpis`] per community and a [`ChannelKpis`] per channel. The formulas (also in each field's
//! docs; *members* always excludes the configured owned brand accounts):
//!
//! - **size** = members of the community in the current partition (owned accounts excluded);
//! - **active participation rate** = members who posted in the window / size;
//! - **engagement rate** = mean over the members' posts of `(replies + reactions + forwards) / audience`,
//!   audience = the post's channel audience (subscribers) when known and > 0, else the community size
//!   (for a channel: its distinct authors in the window);
//! - **member-to-member ratio** = replies between two members, neither being the creator / all replies
//!   written by members (self-replies are not replies); `None` without replies;
//! - **reciprocity** = share of directed member→member edges (reply or mention) whose reverse edge exists;
//! - **density** = `2·E / (n·(n − 1))` over the undirected member graph (E distinct member pairs linked by a
//!   reply or mention, n = size);
//! - **thread depth** of a post = its distance to the thread root (root 0, reply to root 1, …; a reply whose
//!   parent is outside the window counts its known chain + 1); mean and p90 (nearest rank) over the
//!   members' posts;
//! - **retention** = members active in W−1 (in the W−1 partition) who are members and active in W /
//!   members active in W−1; `None` when nobody was active in W−1;
//! - **growth** = `(size_W − size_{W−1}) / size_{W−1}`; `None` when the community had no members in W−1;
//! - **new-member rate** = members not members of this community in W−1 / size;
//! - **organic growth** = new members whose first interaction in the window (reply or mention, earliest
//!   post) targeted an existing member (member in both windows, not an owned account) / new members;
//!   `None` without new members;
//! - **UGC ratio** = members' posts / (owned-account posts in the community's threads + members' posts),
//!   the community's threads being those where a member posted; `None` without any of those posts;
//! - **sentiment** = mean compound score of the members' scored posts, share ≥ `positive_threshold` (0.05),
//!   share ≤ `negative_threshold` (−0.05), trend = mean_W − mean_{W−1} (see also [`sentiment_slope`]);
//! - **Time To Sentiment** = for each owned-account post in scope, the time to its first direct reply by a
//!   member with compound ≥ `positive_threshold`; median over the posts that got one (mean of the two middle
//!   values for an even count);
//! - **roles**, **themes** and the **emergence score**: see [`roles`], [`themes`] and [`emergence`].

pub mod emergence;
mod group;
pub mod roles;
pub mod themes;

use std::collections::{BTreeMap, HashMap, HashSet};

pub use emergence::{emergence_score, EmergenceConfig, EmergenceInputs};
pub use roles::{MemberRoles, Role};
pub use themes::class_tf_idf;

use crate::types::{ActorId, CommunityId, TimestampMs};

/// One post of the window, as the KPIs need it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PostRecord {
    /// Globally unique post id (`platform:native_id`).
    pub post_id: String,
    /// Author.
    pub author: ActorId,
    /// Parent post id when the post replies to another.
    pub parent_post_id: Option<String>,
    /// Author of the parent post, when known.
    pub parent_author: Option<ActorId>,
    /// Thread root id (the post's own id when absent).
    pub root_post_id: Option<String>,
    /// Actors mentioned.
    pub mentions: Vec<ActorId>,
    /// Channel (`Post.channel`).
    pub channel: String,
    /// Creation time.
    pub created_at: TimestampMs,
    /// Compound sentiment in [−1, 1] when scored.
    pub sentiment: Option<f64>,
    /// Replies counter exposed by the platform.
    pub replies: u64,
    /// Reactions (likes, favourites, score) exposed by the platform.
    pub reactions: u64,
    /// Forwards / boosts / reblogs exposed by the platform.
    pub forwards: u64,
    /// Subscribers of the channel when the platform exposes it.
    pub channel_audience: Option<u64>,
    /// Platform moderator flag (Reddit distinguished, Telegram admin) when exposed.
    pub author_is_moderator: bool,
    /// Terms of the post (from [`crate::terms::TermExtractor`]), for themes.
    pub terms: Vec<String>,
}

impl PostRecord {
    /// The thread this post belongs to: its root id, or its own id for a thread starter.
    pub fn thread_id(&self) -> &str {
        self.root_post_id.as_deref().unwrap_or(&self.post_id)
    }
}

/// Settings of the KPI computation.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiConfig {
    /// Brand accounts (owned); never members, used by UGC ratio and Time To Sentiment.
    pub owned_accounts: HashSet<ActorId>,
    /// Compound at or above which a post is positive (default 0.05, VADER's convention).
    pub positive_threshold: f64,
    /// Compound at or below which a post is negative (default −0.05).
    pub negative_threshold: f64,
    /// Themes kept per community (default 10).
    pub themes_top_k: usize,
    /// Role thresholds.
    pub roles: roles::RoleConfig,
    /// Emergence score settings.
    pub emergence: EmergenceConfig,
}

impl Default for KpiConfig {
    fn default() -> Self {
        KpiConfig {
            owned_accounts: HashSet::new(),
            positive_threshold: 0.05,
            negative_threshold: -0.05,
            themes_top_k: 10,
            roles: roles::RoleConfig::default(),
            emergence: EmergenceConfig::default(),
        }
    }
}

/// What the KPIs need from the previous window (build it with [`PreviousWindow::from_window`]).
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PreviousWindow {
    /// Partition of W−1 (same stable community ids as the tracker's).
    pub membership: HashMap<ActorId, CommunityId>,
    /// Actors who posted in W−1.
    pub active_authors: HashSet<ActorId>,
    /// Mean sentiment per community in W−1.
    pub community_sentiment_mean: HashMap<CommunityId, f64>,
    /// Distinct non-owned authors per channel in W−1.
    pub channel_authors: HashMap<String, HashSet<ActorId>>,
    /// Mean sentiment per channel in W−1.
    pub channel_sentiment_mean: HashMap<String, f64>,
}

impl PreviousWindow {
    /// The summary of a computed window, to pass as the previous window of the next one.
    pub fn from_window(input: &KpiInput<'_>, kpis: &WindowKpis, config: &KpiConfig) -> PreviousWindow {
        let mut channel_authors: HashMap<String, HashSet<ActorId>> = HashMap::new();
        for post in input.posts.iter().filter(|post| !config.owned_accounts.contains(&post.author)) {
            channel_authors.entry(post.channel.clone()).or_default().insert(post.author);
        }
        PreviousWindow {
            membership: input.membership.clone(),
            active_authors: input.posts.iter().map(|post| post.author).collect(),
            community_sentiment_mean: kpis
                .communities
                .iter()
                .filter_map(|(community, community_kpis)| {
                    community_kpis.group.sentiment.mean.map(|mean| (*community, mean))
                })
                .collect(),
            channel_authors,
            channel_sentiment_mean: kpis
                .channels
                .iter()
                .filter_map(|(channel, channel_kpis)| {
                    channel_kpis.group.sentiment.mean.map(|mean| (channel.clone(), mean))
                })
                .collect(),
        }
    }
}

/// Everything one window's KPIs are computed from.
#[derive(Debug, Clone)]
pub struct KpiInput<'a> {
    /// Window start (inclusive).
    pub window_start: TimestampMs,
    /// Window end (exclusive); the "now" of recency.
    pub window_end: TimestampMs,
    /// Posts created in the window, all channels.
    pub posts: &'a [PostRecord],
    /// Current partition.
    pub membership: &'a HashMap<ActorId, CommunityId>,
    /// Summary of W−1.
    pub previous: &'a PreviousWindow,
    /// When each community was born (first seen by the tracker), for the emergence score's recency.
    pub community_born_at: &'a HashMap<CommunityId, TimestampMs>,
}

/// Sentiment figures of a group of posts.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SentimentKpis {
    /// Posts with a score.
    pub scored_posts: u64,
    /// Mean compound; `None` without scored posts.
    pub mean: Option<f64>,
    /// Share of scored posts with compound ≥ positive threshold.
    pub positive_share: f64,
    /// Share of scored posts with compound ≤ negative threshold.
    pub negative_share: f64,
    /// mean_W − mean_{W−1}; `None` when either is missing.
    pub trend: Option<f64>,
}

/// Figures shared by communities and channels (see the module docs for each formula).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupKpis {
    /// Members (community) or distinct non-owned authors (channel).
    pub size: u64,
    /// Members who posted in the window.
    pub active_members: u64,
    /// active_members / size.
    pub active_participation_rate: f64,
    /// Posts by members in the window.
    pub member_posts: u64,
    /// Owned-account posts in scope.
    pub owned_posts: u64,
    /// Mean over member posts of (replies + reactions + forwards) / audience.
    pub engagement_rate: f64,
    /// Replies written by members (to someone else).
    pub replies: u64,
    /// Replies between members, neither being the creator / all replies.
    pub member_to_member_ratio: Option<f64>,
    /// Share of directed member edges that are reciprocated.
    pub reciprocity: f64,
    /// 2E / (n(n−1)) on the undirected member graph.
    pub density: f64,
    /// Mean depth of member posts in their reply trees.
    pub thread_depth_mean: f64,
    /// p90 (nearest rank) of those depths.
    pub thread_depth_p90: u32,
    /// member posts / (owned posts in scope + member posts).
    pub ugc_ratio: Option<f64>,
    /// Sentiment of member posts.
    pub sentiment: SentimentKpis,
    /// Median Time To Sentiment in milliseconds.
    pub time_to_sentiment_median_ms: Option<i64>,
    /// Owned posts that got a positive member reply (the TTS sample).
    pub time_to_sentiment_samples: u64,
    /// Retention (see module docs).
    pub retention: Option<f64>,
    /// Growth (see module docs).
    pub growth: Option<f64>,
    /// Size in W−1.
    pub previous_size: u64,
}

/// KPIs of one community in one window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommunityKpis {
    /// Community id.
    pub community_id: CommunityId,
    /// Figures shared with channels.
    pub group: GroupKpis,
    /// Members not in this community in W−1.
    pub new_members: u64,
    /// new_members / size.
    pub new_member_rate: f64,
    /// Share of new members whose first interaction targeted an existing member.
    pub organic_growth: Option<f64>,
    /// The creator (see [`roles`]).
    pub creator: Option<ActorId>,
    /// Members holding at least one role, by actor id.
    pub roles: Vec<MemberRoles>,
    /// c-TF-IDF themes, best first.
    pub themes: Vec<(String, f64)>,
    /// Emergence score in [0, 1].
    pub emergence_score: f64,
}

/// KPIs of one channel in one window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelKpis {
    /// Channel name.
    pub channel: String,
    /// Figures shared with communities (members = the channel's non-owned authors in the window).
    pub group: GroupKpis,
}

/// All KPIs of a window, ordered by id/name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WindowKpis {
    /// Per community.
    pub communities: BTreeMap<CommunityId, CommunityKpis>,
    /// Per channel.
    pub channels: BTreeMap<String, ChannelKpis>,
}

/// Computes every community's and channel's KPIs for the window.
pub fn compute_window_kpis(input: &KpiInput<'_>, config: &KpiConfig) -> WindowKpis {
    let context = group::WindowContext::new(input, config);
    let mut members_by_community: BTreeMap<CommunityId, HashSet<ActorId>> = BTreeMap::new();
    for (actor, community) in input.membership {
        if !config.owned_accounts.contains(actor) {
            members_by_community.entry(*community).or_default().insert(*actor);
        }
    }
    let mut previous_members_by_community: HashMap<CommunityId, HashSet<ActorId>> = HashMap::new();
    for (actor, community) in &input.previous.membership {
        if !config.owned_accounts.contains(actor) {
            previous_members_by_community.entry(*community).or_default().insert(*actor);
        }
    }
    let empty_members: HashSet<ActorId> = HashSet::new();

    let mut communities: BTreeMap<CommunityId, CommunityKpis> = BTreeMap::new();
    let mut terms_by_community: BTreeMap<CommunityId, HashMap<String, u64>> = BTreeMap::new();
    for (community, members) in &members_by_community {
        let previous_members = previous_members_by_community.get(community).unwrap_or(&empty_members);
        let creator = roles::find_creator(&context, members);
        let scope = group::GroupScope::for_community(&context, members, creator);
        let mut group_kpis = group::compute_group(&context, &scope, config);
        group_kpis.sentiment.trend =
            trend(group_kpis.sentiment.mean, input.previous.community_sentiment_mean.get(community));
        let previous_active: HashSet<ActorId> =
            previous_members.iter().filter(|actor| input.previous.active_authors.contains(actor)).copied().collect();
        group_kpis.retention = group::retention(&previous_active, &scope.active_members);
        group_kpis.previous_size = previous_members.len() as u64;
        group_kpis.growth = group::growth(members.len() as u64, previous_members.len() as u64);
        let (new_members, organic_growth) =
            group::new_and_organic(&context, members, previous_members, &config.owned_accounts);
        let size = members.len() as u64;
        let member_roles = roles::assign_roles(&context, members, *community, creator, &config.roles);
        let mut term_counts: HashMap<String, u64> = HashMap::new();
        for post in &scope.member_posts {
            for term in &post.terms {
                *term_counts.entry(term.clone()).or_default() += 1;
            }
        }
        terms_by_community.insert(*community, term_counts);
        let emergence_inputs = EmergenceInputs {
            growth: group_kpis.growth,
            size,
            member_to_member_ratio: group_kpis.member_to_member_ratio,
            density: group_kpis.density,
            age_ms: input.community_born_at.get(community).map(|born_at| input.window_end.saturating_sub(*born_at)),
        };
        let kpis = CommunityKpis {
            community_id: *community,
            new_members,
            new_member_rate: ratio(new_members, size),
            organic_growth,
            creator,
            roles: member_roles,
            themes: Vec::new(),
            emergence_score: emergence_score(&emergence_inputs, &config.emergence),
            group: group_kpis,
        };
        communities.insert(*community, kpis);
    }
    for (community, themes) in class_tf_idf(&terms_by_community, config.themes_top_k) {
        if let Some(kpis) = communities.get_mut(&community) {
            kpis.themes = themes;
        }
    }

    let mut channels: BTreeMap<String, ChannelKpis> = BTreeMap::new();
    for channel in context.channel_names() {
        let scope = group::GroupScope::for_channel(&context, channel);
        let mut group_kpis = group::compute_group(&context, &scope, config);
        group_kpis.sentiment.trend =
            trend(group_kpis.sentiment.mean, input.previous.channel_sentiment_mean.get(channel));
        let previous_authors = input.previous.channel_authors.get(channel).unwrap_or(&empty_members);
        group_kpis.retention = group::retention(previous_authors, &scope.active_members);
        group_kpis.previous_size = previous_authors.len() as u64;
        group_kpis.growth = group::growth(group_kpis.size, previous_authors.len() as u64);
        channels.insert(channel.to_string(), ChannelKpis { channel: channel.to_string(), group: group_kpis });
    }
    WindowKpis { communities, channels }
}

/// Least-squares slope of a series of window means (per window), the "slope over windows" variant of the
/// sentiment trend; 0 with fewer than two points.
pub fn sentiment_slope(window_means: &[f64]) -> f64 {
    let count = window_means.len();
    if count < 2 {
        return 0.0;
    }
    let mean_x = (count - 1) as f64 / 2.0;
    let mean_y = window_means.iter().sum::<f64>() / count as f64;
    let mut covariance = 0.0;
    let mut variance = 0.0;
    for (index, value) in window_means.iter().enumerate() {
        let dx = index as f64 - mean_x;
        covariance += dx * (value - mean_y);
        variance += dx * dx;
    }
    covariance / variance
}

fn trend(current: Option<f64>, previous: Option<&f64>) -> Option<f64> {
    match (current, previous) {
        (Some(current_mean), Some(previous_mean)) => Some(current_mean - previous_mean),
        _ => None,
    }
}

/// `numerator / denominator`, 0 for an empty denominator.
pub(crate) fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        return 0.0;
    }
    numerator as f64 / denominator as f64
}

#[cfg(test)]
mod tests;
