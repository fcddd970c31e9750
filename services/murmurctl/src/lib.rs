//! Output of `murmurctl`: tables for people, JSON for scripts. Pure functions of the API's
//! messages, tested without a server.

use chrono::{DateTime, Utc};
use murmur_proto::api::v1::{ChannelMetrics, Community, Member, Metrics, Role, Signal, SourceStatus, TermTrend, Watch};
use murmur_proto::events::v1::{alert, Alert, AlertKind, LifecycleStatus, Platform, SignalClass};
use serde_json::{json, Value};

/// RFC 3339 of a protobuf timestamp, empty when absent.
pub fn time(timestamp: Option<&prost_types::Timestamp>) -> String {
    timestamp
        .and_then(|timestamp| DateTime::<Utc>::from_timestamp(timestamp.seconds, timestamp.nanos.max(0) as u32))
        .map(|time| time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Short lowercase name of an enum value (`PLATFORM_REDDIT` → `reddit`).
fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_lowercase()
}

/// Platform name.
pub fn platform(value: i32) -> String {
    Platform::try_from(value).map(|platform| short(platform.as_str_name(), "PLATFORM_")).unwrap_or_default()
}

/// Lifecycle status name.
pub fn status(value: i32) -> String {
    LifecycleStatus::try_from(value).map(|status| short(status.as_str_name(), "LIFECYCLE_STATUS_")).unwrap_or_default()
}

/// Role name.
pub fn role(value: i32) -> String {
    Role::try_from(value).map(|role| short(role.as_str_name(), "ROLE_")).unwrap_or_default()
}

/// Signal class name.
pub fn signal_class(value: i32) -> String {
    SignalClass::try_from(value).map(|class| short(class.as_str_name(), "SIGNAL_CLASS_")).unwrap_or_default()
}

/// Alert kind name.
pub fn alert_kind(value: i32) -> String {
    AlertKind::try_from(value).map(|kind| short(kind.as_str_name(), "ALERT_KIND_")).unwrap_or_default()
}

/// Parses a platform name for filters.
pub fn parse_platform(name: &str) -> Result<i32, String> {
    let wanted = format!("PLATFORM_{}", name.to_uppercase());
    Platform::from_str_name(&wanted)
        .map(|platform| platform as i32)
        .ok_or_else(|| format!("unknown platform `{name}` (reddit, telegram, mastodon, bluesky, x)"))
}

/// Parses a lifecycle status name.
pub fn parse_status(name: &str) -> Result<i32, String> {
    LifecycleStatus::from_str_name(&format!("LIFECYCLE_STATUS_{}", name.to_uppercase()))
        .map(|status| status as i32)
        .ok_or_else(|| format!("unknown status `{name}` (born, growing, stable, shrinking, merged, split, dissolved)"))
}

/// Parses a signal class name.
pub fn parse_signal_class(name: &str) -> Result<i32, String> {
    SignalClass::from_str_name(&format!("SIGNAL_CLASS_{}", name.to_uppercase()))
        .map(|class| class as i32)
        .ok_or_else(|| format!("unknown class `{name}` (weak, strong, latent, fading)"))
}

/// Parses an alert kind name (`community_born`, `weak_signal_detected`, ...).
pub fn parse_alert_kind(name: &str) -> Result<i32, String> {
    AlertKind::from_str_name(&format!("ALERT_KIND_{}", name.to_uppercase()))
        .map(|kind| kind as i32)
        .ok_or_else(|| format!("unknown alert kind `{name}`"))
}

/// Parses a role name.
pub fn parse_role(name: &str) -> Result<i32, String> {
    Role::from_str_name(&format!("ROLE_{}", name.to_uppercase()))
        .map(|role| role as i32)
        .ok_or_else(|| format!("unknown role `{name}` (creator, moderator, bridge, power_user, member)"))
}

/// A plain-text table with left-aligned columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|header| header.chars().count()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(index, cell)| format!("{cell:<width$}", width = widths.get(index).copied().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(headers.iter().map(|header| header.to_string()).collect());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.clone()));
    }
    out
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max.saturating_sub(1)).collect::<String>())
    }
}

/// JSON of a metrics point.
pub fn metrics_json(metrics: &Metrics) -> Value {
    json!({
        "window_start": time(metrics.window_start.as_ref()),
        "window_end": time(metrics.window_end.as_ref()),
        "size": metrics.size,
        "active_members": metrics.active_members,
        "posts": metrics.posts,
        "active_participation_rate": metrics.active_participation_rate,
        "engagement_rate": metrics.engagement_rate,
        "member_to_member_ratio": metrics.member_to_member_ratio,
        "reciprocity": metrics.reciprocity,
        "density": metrics.density,
        "thread_depth_mean": metrics.thread_depth_mean,
        "thread_depth_p90": metrics.thread_depth_p90,
        "retention": metrics.retention,
        "growth": metrics.growth,
        "new_member_rate": metrics.new_member_rate,
        "organic_growth": metrics.organic_growth,
        "ugc_ratio": metrics.ugc_ratio,
        "sentiment_mean": metrics.sentiment_mean,
        "sentiment_positive_share": metrics.sentiment_positive_share,
        "sentiment_negative_share": metrics.sentiment_negative_share,
        "sentiment_trend": metrics.sentiment_trend,
        "time_to_sentiment_seconds": metrics.time_to_sentiment_seconds,
        "emergence_score": metrics.emergence_score,
    })
}

/// JSON of a member.
pub fn member_json(member: &Member) -> Value {
    json!({
        "actor_id": member.actor_id,
        "roles": member.roles.iter().map(|value| role(*value)).collect::<Vec<_>>(),
        "posts": member.posts,
        "in_degree": member.in_degree,
        "first_seen": time(member.first_seen.as_ref()),
    })
}

/// JSON of a community.
pub fn community_json(community: &Community) -> Value {
    json!({
        "name": community.name,
        "status": status(community.status),
        "is_micro": community.is_micro,
        "first_seen": time(community.first_seen.as_ref()),
        "last_seen": time(community.last_seen.as_ref()),
        "platforms": community.platforms.iter().map(|value| platform(*value)).collect::<Vec<_>>(),
        "channels": community.channels,
        "themes": community.themes.iter().map(|theme| json!({"term": theme.term, "weight": theme.weight})).collect::<Vec<_>>(),
        "metrics": community.metrics.as_ref().map(metrics_json),
        "key_members": community.key_members.iter().map(member_json).collect::<Vec<_>>(),
    })
}

/// Table of communities: what a marketer scans first.
pub fn communities_table(communities: &[Community]) -> String {
    let rows: Vec<Vec<String>> = communities
        .iter()
        .map(|community| {
            let metrics = community.metrics.unwrap_or_default();
            let themes: Vec<&str> = community.themes.iter().take(4).map(|theme| theme.term.as_str()).collect();
            let roles: Vec<String> = community
                .key_members
                .iter()
                .filter(|member| !member.roles.is_empty())
                .take(2)
                .map(|member| {
                    format!(
                        "{}:{}",
                        truncate(&member.actor_id, 8),
                        member.roles.iter().map(|value| role(*value)).collect::<Vec<_>>().join("+")
                    )
                })
                .collect();
            vec![
                community.name.clone(),
                status(community.status),
                metrics.size.to_string(),
                format!("{:.2}", metrics.emergence_score),
                format!("{:.3}", metrics.engagement_rate),
                format!("{:.2}", metrics.member_to_member_ratio),
                format!("{:+.2}", metrics.sentiment_mean),
                truncate(&community.channels.join(","), 24),
                truncate(&themes.join(","), 36),
                roles.join(" "),
            ]
        })
        .collect();
    table(
        &["COMMUNITY", "STATUS", "SIZE", "EMERGENCE", "ENGAGEMENT", "M2M", "SENTIMENT", "CHANNELS", "THEMES", "ROLES"],
        &rows,
    )
}

/// Detail view of one community.
pub fn community_detail(community: &Community) -> String {
    let metrics = community.metrics.unwrap_or_default();
    let mut out = format!(
        "{}  ({}{})\nfirst seen {}  last seen {}\nplatforms {}  channels {}\n",
        community.name,
        status(community.status),
        if community.is_micro { ", micro-community" } else { "" },
        time(community.first_seen.as_ref()),
        time(community.last_seen.as_ref()),
        community.platforms.iter().map(|value| platform(*value)).collect::<Vec<_>>().join(","),
        community.channels.join(","),
    );
    out.push_str(&format!(
        "size {}  active {} ({:.0}%)  posts {}  engagement {:.3}  member-to-member {:.2}  reciprocity {:.2}  density {:.3}\n",
        metrics.size,
        metrics.active_members,
        100.0 * metrics.active_participation_rate,
        metrics.posts,
        metrics.engagement_rate,
        metrics.member_to_member_ratio,
        metrics.reciprocity,
        metrics.density
    ));
    out.push_str(&format!(
        "growth {:+.2}  retention {:.2}  new members {:.2}  organic {:.2}  ugc {:.2}  thread depth {:.1}/{:.0}\n",
        metrics.growth,
        metrics.retention,
        metrics.new_member_rate,
        metrics.organic_growth,
        metrics.ugc_ratio,
        metrics.thread_depth_mean,
        metrics.thread_depth_p90
    ));
    out.push_str(&format!(
        "sentiment {:+.2} ({:.0}% positive, {:.0}% negative, trend {:+.2})  time to sentiment {}  emergence {:.2}\n",
        metrics.sentiment_mean,
        100.0 * metrics.sentiment_positive_share,
        100.0 * metrics.sentiment_negative_share,
        metrics.sentiment_trend,
        metrics.time_to_sentiment_seconds.map(|seconds| format!("{seconds:.0}s")).unwrap_or_else(|| "-".to_string()),
        metrics.emergence_score
    ));
    let themes: Vec<String> =
        community.themes.iter().map(|theme| format!("{} ({:.2})", theme.term, theme.weight)).collect();
    out.push_str(&format!("themes {}\n", themes.join(", ")));
    out.push_str(&members_table(&community.key_members));
    out
}

/// Table of members.
pub fn members_table(members: &[Member]) -> String {
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|member| {
            vec![
                member.actor_id.clone(),
                member.roles.iter().map(|value| role(*value)).collect::<Vec<_>>().join(","),
                member.posts.to_string(),
                member.in_degree.to_string(),
                time(member.first_seen.as_ref()),
            ]
        })
        .collect();
    table(&["ACTOR", "ROLES", "POSTS", "IN-DEGREE", "FIRST SEEN"], &rows)
}

/// Table of a metrics series.
pub fn metrics_table(points: &[Metrics]) -> String {
    let rows: Vec<Vec<String>> = points
        .iter()
        .map(|metrics| {
            vec![
                time(metrics.window_start.as_ref()),
                metrics.size.to_string(),
                metrics.posts.to_string(),
                format!("{:.3}", metrics.engagement_rate),
                format!("{:.2}", metrics.member_to_member_ratio),
                format!("{:+.2}", metrics.growth),
                format!("{:+.2}", metrics.sentiment_mean),
                format!("{:.2}", metrics.emergence_score),
            ]
        })
        .collect();
    table(&["WINDOW", "SIZE", "POSTS", "ENGAGEMENT", "M2M", "GROWTH", "SENTIMENT", "EMERGENCE"], &rows)
}

/// JSON of a signal.
pub fn signal_json(signal: &Signal) -> Value {
    let detail = signal.signal.clone().unwrap_or_default();
    json!({
        "term": detail.term,
        "class": signal_class(detail.class),
        "bucket_start": time(signal.bucket_start.as_ref()),
        "bucket_end": time(signal.bucket_end.as_ref()),
        "count": detail.count,
        "baseline_mean": detail.baseline_mean,
        "baseline_std": detail.baseline_std,
        "significance": detail.significance,
        "distinct_authors": detail.distinct_authors,
        "distinct_channels": detail.distinct_channels,
        "distinct_communities": detail.distinct_communities,
        "first_seen": time(detail.first_seen.as_ref()),
        "spreading_to": detail.spreading_to,
        "language": detail.language,
        "growth": detail.growth,
    })
}

/// Table of signals.
pub fn signals_table(signals: &[Signal]) -> String {
    let rows: Vec<Vec<String>> = signals
        .iter()
        .map(|signal| {
            let detail = signal.signal.clone().unwrap_or_default();
            vec![
                detail.term,
                signal_class(detail.class),
                time(signal.bucket_start.as_ref()),
                detail.count.to_string(),
                format!("{:.1}", detail.baseline_mean),
                format!("{:.1}", detail.significance),
                detail.distinct_authors.to_string(),
                detail.distinct_channels.to_string(),
                detail.language,
                truncate(&detail.spreading_to.join(","), 30),
            ]
        })
        .collect();
    table(&["TERM", "CLASS", "BUCKET", "COUNT", "BASELINE", "Z", "AUTHORS", "CHANNELS", "LANG", "SPREADING TO"], &rows)
}

/// JSON of a term trend.
pub fn trend_json(trend: &TermTrend) -> Value {
    json!({
        "term": trend.term,
        "first_seen": time(trend.first_seen.as_ref()),
        "buckets": trend.buckets.iter().map(|bucket| json!({
            "bucket_start": time(bucket.bucket_start.as_ref()),
            "count": bucket.count,
            "distinct_authors": bucket.distinct_authors,
            "distinct_channels": bucket.distinct_channels,
            "significance": bucket.significance,
        })).collect::<Vec<_>>(),
    })
}

/// Table of a term trend with a bar per bucket.
pub fn trend_table(trend: &TermTrend) -> String {
    let peak = trend.buckets.iter().map(|bucket| bucket.count).max().unwrap_or(1).max(1);
    let rows: Vec<Vec<String>> = trend
        .buckets
        .iter()
        .map(|bucket| {
            vec![
                time(bucket.bucket_start.as_ref()),
                bucket.count.to_string(),
                bucket.distinct_authors.to_string(),
                bucket.distinct_channels.to_string(),
                format!("{:.1}", bucket.significance),
                "#".repeat(((bucket.count * 30) / peak) as usize),
            ]
        })
        .collect();
    format!(
        "{}  first seen {}\n{}",
        trend.term,
        time(trend.first_seen.as_ref()),
        table(&["BUCKET", "COUNT", "AUTHORS", "CHANNELS", "Z", ""], &rows)
    )
}

/// JSON of channel metrics.
pub fn channel_json(channel: &ChannelMetrics) -> Value {
    json!({
        "platform": platform(channel.platform),
        "channel": channel.channel,
        "metrics": channel.metrics.as_ref().map(metrics_json),
    })
}

/// Table of channel metrics.
pub fn channels_table(channels: &[ChannelMetrics]) -> String {
    let rows: Vec<Vec<String>> = channels
        .iter()
        .map(|channel| {
            let metrics = channel.metrics.unwrap_or_default();
            vec![
                platform(channel.platform),
                channel.channel.clone(),
                time(metrics.window_start.as_ref()),
                metrics.size.to_string(),
                metrics.posts.to_string(),
                format!("{:.3}", metrics.engagement_rate),
                format!("{:.2}", metrics.member_to_member_ratio),
                format!("{:+.2}", metrics.sentiment_mean),
            ]
        })
        .collect();
    table(&["PLATFORM", "CHANNEL", "WINDOW", "AUTHORS", "POSTS", "ENGAGEMENT", "M2M", "SENTIMENT"], &rows)
}

/// JSON of an alert.
pub fn alert_json(alert: &Alert) -> Value {
    let detail = match &alert.detail {
        Some(alert::Detail::Community(community)) => json!({
            "community_id": community.community_id, "status": status(community.status), "size": community.size,
            "previous_size": community.previous_size, "growth": community.growth,
            "emergence_score": community.emergence_score, "member_to_member_ratio": community.member_to_member_ratio,
            "engagement_rate": community.engagement_rate, "themes": community.themes,
            "related_community_ids": community.related_community_ids,
        }),
        Some(alert::Detail::Signal(signal)) => json!({
            "term": signal.term, "class": signal_class(signal.class), "count": signal.count,
            "baseline_mean": signal.baseline_mean, "baseline_std": signal.baseline_std,
            "significance": signal.significance, "distinct_authors": signal.distinct_authors,
            "distinct_channels": signal.distinct_channels, "spreading_to": signal.spreading_to,
            "first_seen": time(signal.first_seen.as_ref()), "language": signal.language,
        }),
        Some(alert::Detail::SentimentShift(shift)) => json!({
            "community_id": shift.community_id, "previous_mean": shift.previous_mean,
            "current_mean": shift.current_mean, "delta": shift.delta, "sample_size": shift.sample_size,
        }),
        None => Value::Null,
    };
    json!({
        "id": alert.id,
        "kind": alert_kind(alert.kind),
        "subject": alert.subject,
        "severity": alert.severity,
        "window_start": time(alert.window_start.as_ref()),
        "window_end": time(alert.window_end.as_ref()),
        "created_at": time(alert.created_at.as_ref()),
        "title": alert.title,
        "summary": alert.summary,
        "platforms": alert.platforms.iter().map(|value| platform(*value)).collect::<Vec<_>>(),
        "channels": alert.channels,
        "detail": detail,
    })
}

/// One line per alert.
pub fn alert_line(alert: &Alert) -> String {
    format!("{}  {:<22} {}  {}", time(alert.window_end.as_ref()), alert_kind(alert.kind), alert.subject, alert.summary)
}

/// JSON of a watch.
pub fn watch_json(watch: &Watch) -> Value {
    json!({
        "name": watch.name,
        "platform": platform(watch.platform),
        "target": watch.target,
        "instance": watch.instance,
        "poll_interval_seconds": watch.poll_interval.as_ref().map(|duration| duration.seconds),
        "enabled": watch.enabled,
        "create_time": time(watch.create_time.as_ref()),
    })
}

/// Table of watches with their status.
pub fn watches_table(watches: &[Watch], statuses: &[SourceStatus]) -> String {
    let rows: Vec<Vec<String>> = watches
        .iter()
        .map(|watch| {
            let status = statuses.iter().find(|status| status.watch_name == watch.name);
            vec![
                watch.name.clone(),
                platform(watch.platform),
                watch.target.clone(),
                watch.instance.clone(),
                watch.enabled.to_string(),
                status.map(|status| time(status.last_success_time.as_ref())).unwrap_or_default(),
                status.map(|status| status.posts_published.to_string()).unwrap_or_default(),
                status.map(|status| truncate(&status.last_error, 40)).unwrap_or_default(),
            ]
        })
        .collect();
    table(&["WATCH", "PLATFORM", "TARGET", "INSTANCE", "ENABLED", "LAST SUCCESS", "POSTS", "LAST ERROR"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use murmur_proto::api::v1::ThemeTerm;

    #[test]
    fn tables_align_columns() {
        let out = table(&["A", "LONGER"], &[vec!["wide cell".into(), "x".into()], vec!["y".into(), "z".into()]]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "A          LONGER");
        assert_eq!(lines[1], "wide cell  x");
        assert_eq!(lines[2], "y          z");
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(platform(parse_platform("reddit").unwrap_or_default()), "reddit");
        assert_eq!(status(parse_status("growing").unwrap_or_default()), "growing");
        assert_eq!(signal_class(parse_signal_class("weak").unwrap_or_default()), "weak");
        assert_eq!(alert_kind(parse_alert_kind("community_born").unwrap_or_default()), "community_born");
        assert_eq!(role(parse_role("power_user").unwrap_or_default()), "power_user");
        assert!(parse_platform("myspace").is_err());
    }

    #[test]
    fn community_json_and_table_show_the_kpis() {
        let community = Community {
            name: "communities/7".into(),
            status: LifecycleStatus::Growing as i32,
            metrics: Some(Metrics {
                size: 120,
                emergence_score: 0.81,
                member_to_member_ratio: 0.64,
                ..Metrics::default()
            }),
            themes: vec![ThemeTerm { term: "trail running".into(), weight: 0.4 }],
            channels: vec!["running".into()],
            is_micro: true,
            ..Community::default()
        };
        let value = community_json(&community);
        assert_eq!(value["status"], "growing");
        assert_eq!(value["metrics"]["size"], 120);
        assert_eq!(value["themes"][0]["term"], "trail running");
        let out = communities_table(&[community]);
        assert!(out.contains("communities/7") && out.contains("0.81") && out.contains("trail running"), "{out}");
    }
}
