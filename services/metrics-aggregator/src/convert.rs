//! Conversions between the wire types (`murmur-proto`), the detection core's types and the rows.

use murmur_detect::alerts::{
    Alert as DetectedAlert, AlertDetail, AlertKind as DetectedKind, LifecycleStatus, Severity,
};
use murmur_detect::kpi::{ChannelKpis, GroupKpis, Role as DetectedRole};
use murmur_detect::signals::{SignalClass as DetectedClass, TermSignal};
use murmur_detect::types::TimestampMs;
use murmur_proto::api::v1::{Metrics, Role};
use murmur_proto::events::v1::{
    alert, Alert, AlertKind, CommunityLifecycle, LifecycleStatus as ProtoStatus, Platform, Post, ScoredPost,
    SentimentShift, Severity as ProtoSeverity, SignalClass, WeakSignal,
};
use prost_types::Timestamp;

use crate::engine::{CommunityRecord, PostInput};

/// A post created more than this after it was observed has a wrong clock: its observation time is used.
const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// Milliseconds since the epoch of a protobuf timestamp.
pub fn timestamp_ms(timestamp: &Timestamp) -> TimestampMs {
    timestamp.seconds.saturating_mul(1000).saturating_add(i64::from(timestamp.nanos.clamp(0, 999_999_999) / 1_000_000))
}

/// Protobuf timestamp of milliseconds since the epoch.
pub fn timestamp(ms: TimestampMs) -> Timestamp {
    Timestamp { seconds: ms.div_euclid(1000), nanos: (ms.rem_euclid(1000) * 1_000_000) as i32 }
}

/// Event time of a post: its creation time, unless that is in the future of its observation.
pub fn clamp_created(created: TimestampMs, observed: TimestampMs) -> TimestampMs {
    if created > observed.saturating_add(MAX_CLOCK_SKEW_MS) {
        observed
    } else {
        created
    }
}

/// Lowercase platform name used in channel keys.
pub fn platform_name(platform: i32) -> &'static str {
    match Platform::try_from(platform).unwrap_or(Platform::Unspecified) {
        Platform::Reddit => "reddit",
        Platform::Telegram => "telegram",
        Platform::Mastodon => "mastodon",
        Platform::Bluesky => "bluesky",
        Platform::X => "x",
        Platform::Unspecified => "unknown",
    }
}

/// `platform:channel`, unique across platforms (the Kafka key of the post).
pub fn channel_key(platform: i32, channel: &str) -> String {
    format!("{}:{channel}", platform_name(platform))
}

/// `(platform, channel)` of a channel key.
pub fn split_channel_key(key: &str) -> (i32, String) {
    let (name, channel) = key.split_once(':').unwrap_or(("unknown", key));
    let platform = match name {
        "reddit" => Platform::Reddit,
        "telegram" => Platform::Telegram,
        "mastodon" => Platform::Mastodon,
        "bluesky" => Platform::Bluesky,
        "x" => Platform::X,
        _ => Platform::Unspecified,
    };
    (platform as i32, channel.to_string())
}

/// Title and text as one string for term extraction.
pub fn joined_text(title: &str, text: &str) -> String {
    match (title.is_empty(), text.is_empty()) {
        (true, _) => text.to_string(),
        (false, true) => title.to_string(),
        (false, false) => format!("{title}\n{text}"),
    }
}

/// Reactions for the engagement rate: the platform's reactions, or its score (Reddit) when larger.
pub fn reactions(reactions: i64, score: i64) -> u64 {
    reactions.max(score).max(0) as u64
}

/// The engine's view of a scored post (parent author left for the store to resolve).
pub fn post_input(item: &ScoredPost) -> PostInput {
    let no_post = Post::default();
    let post = item.post.as_ref().unwrap_or(&no_post);
    let engagement = post.engagement.unwrap_or_default();
    let created = post.created_at.as_ref().map(timestamp_ms);
    let observed = post.observed_at.as_ref().map(timestamp_ms).or(created).unwrap_or_default();
    let created = clamp_created(created.unwrap_or(observed), observed);
    PostInput {
        channel_key: channel_key(post.platform, &post.channel),
        platform: post.platform,
        author: post.author_id.clone(),
        parent_id: (!post.parent_id.is_empty()).then(|| post.parent_id.clone()),
        parent_author: None,
        root_id: (!post.root_id.is_empty()).then(|| post.root_id.clone()),
        // An empty mention names nobody (and is not stored: see `store::encode_post`).
        mentions: post.mentions.iter().filter(|mention| !mention.is_empty()).cloned().collect(),
        hashtags: post.hashtags.clone(),
        text: joined_text(&post.title, &post.text),
        created_at: created,
        sentiment: item.sentiment.as_ref().map(|sentiment| sentiment.compound).filter(|value| value.is_finite()),
        replies: engagement.replies.max(0) as u64,
        reactions: reactions(engagement.reactions, engagement.score),
        forwards: engagement.forwards.max(0) as u64,
        channel_audience: post.channel_audience.filter(|audience| *audience > 0).map(|audience| audience as u64),
        author_is_moderator: post.author_is_moderator,
        language: if item.language.is_empty() { "und".to_string() } else { item.language.clone() },
        forwarded_from_key: (!post.forwarded_from.is_empty()).then(|| channel_key(post.platform, &post.forwarded_from)),
        id: post.id.clone(),
    }
}

/// Proto lifecycle status.
pub fn lifecycle_status(status: LifecycleStatus) -> ProtoStatus {
    match status {
        LifecycleStatus::Born => ProtoStatus::Born,
        LifecycleStatus::Growing => ProtoStatus::Growing,
        LifecycleStatus::Stable => ProtoStatus::Stable,
        LifecycleStatus::Shrinking => ProtoStatus::Shrinking,
        LifecycleStatus::Merged => ProtoStatus::Merged,
        LifecycleStatus::Split => ProtoStatus::Split,
        LifecycleStatus::Dissolved => ProtoStatus::Dissolved,
    }
}

/// Proto role.
pub fn role(role: DetectedRole) -> Role {
    match role {
        DetectedRole::Creator => Role::Creator,
        DetectedRole::Moderator => Role::Moderator,
        DetectedRole::Bridge => Role::Bridge,
        DetectedRole::PowerUser => Role::PowerUser,
    }
}

/// Proto signal class.
pub fn signal_class(class: DetectedClass) -> SignalClass {
    match class {
        DetectedClass::Weak => SignalClass::Weak,
        DetectedClass::Strong => SignalClass::Strong,
        DetectedClass::Latent => SignalClass::Latent,
        DetectedClass::Fading => SignalClass::Fading,
    }
}

fn alert_kind(kind: DetectedKind) -> AlertKind {
    match kind {
        DetectedKind::CommunityBorn => AlertKind::CommunityBorn,
        DetectedKind::CommunityGrowing => AlertKind::CommunityGrowing,
        DetectedKind::CommunityShrinking => AlertKind::CommunityShrinking,
        DetectedKind::CommunityMerged => AlertKind::CommunityMerged,
        DetectedKind::CommunitySplit => AlertKind::CommunitySplit,
        DetectedKind::CommunityDissolved => AlertKind::CommunityDissolved,
        DetectedKind::WeakSignalDetected => AlertKind::WeakSignalDetected,
        DetectedKind::WeakSignalEscalated => AlertKind::WeakSignalEscalated,
        DetectedKind::SentimentShift => AlertKind::SentimentShift,
    }
}

fn severity(severity: Severity) -> ProtoSeverity {
    match severity {
        Severity::Info => ProtoSeverity::Info,
        Severity::Notice => ProtoSeverity::Notice,
        Severity::Warning => ProtoSeverity::Warning,
    }
}

/// The proto explanation of a fired term.
pub fn weak_signal(signal: &TermSignal) -> WeakSignal {
    let mut spreading_to: Vec<String> =
        signal.spreading_to_channels.iter().map(|key| split_channel_key(key).1).collect();
    spreading_to.extend(signal.spreading_to_communities.iter().map(|id| format!("communities/{id}")));
    WeakSignal {
        term: signal.term.clone(),
        class: signal_class(signal.class) as i32,
        count: signal.count as i64,
        baseline_mean: signal.baseline_mean,
        baseline_std: signal.baseline_std,
        significance: signal.significance,
        distinct_authors: signal.distinct_authors as i64,
        distinct_channels: signal.distinct_channels as i64,
        distinct_communities: signal.distinct_communities as i64,
        first_seen: Some(timestamp(signal.first_seen)),
        spreading_to,
        language: signal.language.code().to_string(),
        growth: signal.growth,
    }
}

/// Platforms of the communities an alert is about.
pub fn platforms_of_alert(alert: &DetectedAlert, communities: &[CommunityRecord]) -> Vec<i32> {
    communities
        .iter()
        .find(|community| community.id.to_string() == alert.subject)
        .map(|community| community.platforms.clone())
        .unwrap_or_default()
}

/// The wire alert of a detected one. Subjects of community alerts become `communities/{id}`.
pub fn alert(detected: &DetectedAlert, platforms: &[i32]) -> Alert {
    let (detail, subject) = match &detected.detail {
        AlertDetail::Community(community) => {
            let change = &community.change;
            (
                alert::Detail::Community(CommunityLifecycle {
                    community_id: format!("communities/{}", change.community_id),
                    status: lifecycle_status(change.status) as i32,
                    size: change.size as i64,
                    previous_size: change.previous_size as i64,
                    related_community_ids: change.related.iter().map(|id| format!("communities/{id}")).collect(),
                    emergence_score: change.emergence_score,
                    member_to_member_ratio: change.member_to_member_ratio,
                    engagement_rate: change.engagement_rate,
                    themes: change.themes.clone(),
                    growth: community.growth,
                }),
                format!("communities/{}", detected.subject),
            )
        }
        AlertDetail::Signal(signal) => (alert::Detail::Signal(weak_signal(signal)), detected.subject.clone()),
        AlertDetail::SentimentShift(shift) => (
            alert::Detail::SentimentShift(SentimentShift {
                community_id: format!("communities/{}", shift.observation.community_id),
                previous_mean: shift.observation.previous_mean,
                current_mean: shift.observation.current_mean,
                delta: shift.delta,
                sample_size: shift.observation.current_sample_size as i64,
            }),
            format!("communities/{}", detected.subject),
        ),
    };
    let mut platforms = platforms.to_vec();
    let mut channels = Vec::new();
    for key in &detected.channels {
        let (platform, channel) = split_channel_key(key);
        if !platforms.contains(&platform) {
            platforms.push(platform);
        }
        channels.push(channel);
    }
    platforms.sort_unstable();
    Alert {
        id: detected.id.clone(),
        kind: alert_kind(detected.kind) as i32,
        subject,
        window_start: Some(timestamp(detected.window.start)),
        window_end: Some(timestamp(detected.window.end)),
        created_at: Some(timestamp(detected.created_at)),
        severity: severity(detected.severity) as i32,
        title: detected.title.clone(),
        summary: detected.summary.clone(),
        detail: Some(detail),
        platforms,
        channels,
    }
}

/// One row of `window_metrics`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricsRow {
    /// `c` community, `h` channel.
    pub scope: char,
    /// Community id or channel key.
    pub key: String,
    pub window_start: TimestampMs,
    pub window_end: TimestampMs,
    pub platform: i32,
    pub channel: String,
    pub size: i64,
    pub active_members: i64,
    pub posts: i64,
    pub active_participation_rate: f64,
    pub engagement_rate: f64,
    pub member_to_member_ratio: f64,
    pub reciprocity: f64,
    pub density: f64,
    pub thread_depth_mean: f64,
    pub thread_depth_p90: f64,
    pub retention: f64,
    pub growth: f64,
    pub new_member_rate: f64,
    pub organic_growth: f64,
    pub ugc_ratio: f64,
    pub sentiment_mean: f64,
    pub sentiment_positive_share: f64,
    pub sentiment_negative_share: f64,
    pub sentiment_trend: f64,
    pub time_to_sentiment_seconds: Option<f64>,
    pub emergence_score: f64,
}

fn clean(value: f64) -> f64 {
    if value.is_finite() {
        value
    } else {
        0.0
    }
}

fn group_row(group: &GroupKpis, row: &mut MetricsRow) {
    row.size = group.size as i64;
    row.active_members = group.active_members as i64;
    row.posts = group.member_posts as i64;
    row.active_participation_rate = clean(group.active_participation_rate);
    row.engagement_rate = clean(group.engagement_rate);
    row.member_to_member_ratio = clean(group.member_to_member_ratio.unwrap_or(0.0));
    row.reciprocity = clean(group.reciprocity);
    row.density = clean(group.density);
    row.thread_depth_mean = clean(group.thread_depth_mean);
    row.thread_depth_p90 = f64::from(group.thread_depth_p90);
    row.retention = clean(group.retention.unwrap_or(0.0));
    row.growth = clean(group.growth.unwrap_or(0.0));
    row.ugc_ratio = clean(group.ugc_ratio.unwrap_or(0.0));
    row.sentiment_mean = clean(group.sentiment.mean.unwrap_or(0.0));
    row.sentiment_positive_share = clean(group.sentiment.positive_share);
    row.sentiment_negative_share = clean(group.sentiment.negative_share);
    row.sentiment_trend = clean(group.sentiment.trend.unwrap_or(0.0));
    row.time_to_sentiment_seconds = group.time_to_sentiment_median_ms.map(|ms| ms as f64 / 1000.0);
}

/// The metrics row of a community.
pub fn community_metrics_row(community: &CommunityRecord, start: TimestampMs, end: TimestampMs) -> MetricsRow {
    let mut row = MetricsRow {
        scope: 'c',
        key: community.id.to_string(),
        window_start: start,
        window_end: end,
        ..MetricsRow::default()
    };
    group_row(&community.kpis.group, &mut row);
    // The tracker's member count (the KPIs exclude owned accounts, the tracker does not).
    row.size = community.members.len() as i64;
    row.new_member_rate = clean(community.kpis.new_member_rate);
    row.organic_growth = clean(community.kpis.organic_growth.unwrap_or(0.0));
    row.emergence_score = clean(community.kpis.emergence_score);
    row
}

/// The metrics row of a channel.
pub fn channel_metrics_row(platform: i32, channel: &ChannelKpis, start: TimestampMs, end: TimestampMs) -> MetricsRow {
    let (_, name) = split_channel_key(&channel.channel);
    let mut row = MetricsRow {
        scope: 'h',
        key: channel.channel.clone(),
        window_start: start,
        window_end: end,
        platform,
        channel: name,
        ..MetricsRow::default()
    };
    group_row(&channel.group, &mut row);
    row
}

/// The API's metrics of a row.
pub fn metrics(row: &MetricsRow) -> Metrics {
    Metrics {
        window_start: Some(timestamp(row.window_start)),
        window_end: Some(timestamp(row.window_end)),
        size: row.size,
        active_members: row.active_members,
        posts: row.posts,
        active_participation_rate: row.active_participation_rate,
        engagement_rate: row.engagement_rate,
        member_to_member_ratio: row.member_to_member_ratio,
        reciprocity: row.reciprocity,
        density: row.density,
        thread_depth_mean: row.thread_depth_mean,
        thread_depth_p90: row.thread_depth_p90,
        retention: row.retention,
        growth: row.growth,
        new_member_rate: row.new_member_rate,
        organic_growth: row.organic_growth,
        ugc_ratio: row.ugc_ratio,
        sentiment_mean: row.sentiment_mean,
        sentiment_positive_share: row.sentiment_positive_share,
        sentiment_negative_share: row.sentiment_negative_share,
        sentiment_trend: row.sentiment_trend,
        time_to_sentiment_seconds: row.time_to_sentiment_seconds,
        emergence_score: row.emergence_score,
    }
}
