//! Alert decisions: which lifecycle changes, signals and sentiment moves deserve an alert.
//!
//! Inputs are plain values: [`CommunityChange`] (the lead maps the tracker's lifecycle events into it),
//! [`BucketSignals`] from the weak-signal detector, and [`SentimentObservation`] per community. Outputs are
//! [`Alert`]s shaped like the proto's `murmur.events.v1.Alert` (same kinds, severities and detail fields) so
//! the mapping is field by field.
//!
//! **Ids are deterministic**: `hex(SHA-256("murmur.alert.v1" ‖ 0 ‖ kind ‖ 0 ‖ subject ‖ 0 ‖ window_start))`
//! truncated to 16 bytes (32 hex characters), see [`alert_id`]. A replay of the same window produces the same
//! ids, so the consumer's upsert by id makes alerts idempotent; [`dedup_alerts`] and [`AlertDeduplicator`]
//! drop repeats within a batch and across recent batches.

use std::collections::{HashSet, VecDeque};

use sha2::{Digest, Sha256};

use crate::signals::{BucketSignals, SignalClass, TermSignal};
use crate::types::{CommunityId, TimestampMs};

/// Kind of alert; the same set as the proto's `AlertKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertKind {
    /// A new community appeared.
    CommunityBorn,
    /// A community grew fast.
    CommunityGrowing,
    /// A community shrank (off by default).
    CommunityShrinking,
    /// Communities merged into this one.
    CommunityMerged,
    /// A community split.
    CommunitySplit,
    /// A community disappeared.
    CommunityDissolved,
    /// A term became a weak signal.
    WeakSignalDetected,
    /// An earlier weak signal became strong.
    WeakSignalEscalated,
    /// A community's mean sentiment moved.
    SentimentShift,
}

impl AlertKind {
    /// Stable snake-case name; part of the alert id, so it must never change.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::CommunityBorn => "community_born",
            AlertKind::CommunityGrowing => "community_growing",
            AlertKind::CommunityShrinking => "community_shrinking",
            AlertKind::CommunityMerged => "community_merged",
            AlertKind::CommunitySplit => "community_split",
            AlertKind::CommunityDissolved => "community_dissolved",
            AlertKind::WeakSignalDetected => "weak_signal_detected",
            AlertKind::WeakSignalEscalated => "weak_signal_escalated",
            AlertKind::SentimentShift => "sentiment_shift",
        }
    }
}

/// Severity, as the proto's `Severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// For the record.
    Info,
    /// Worth a look.
    Notice,
    /// Act on it.
    Warning,
}

/// Lifecycle status of a community, as the proto's `LifecycleStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleStatus {
    /// First seen in this window.
    Born,
    /// Larger than in the previous window.
    Growing,
    /// About the same.
    Stable,
    /// Smaller than in the previous window.
    Shrinking,
    /// Absorbed other communities (listed in `related`).
    Merged,
    /// Split off from a community (listed in `related`), or split into several.
    Split,
    /// No successor in this window.
    Dissolved,
}

/// A tracker lifecycle event with the figures the alert explains itself with (the lead fills it from the
/// tracker's event and the KPIs of the window).
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityChange {
    /// Stable community id.
    pub community_id: CommunityId,
    /// What happened.
    pub status: LifecycleStatus,
    /// Members in this window (0 when dissolved).
    pub size: u64,
    /// Members in the previous window (0 when born).
    pub previous_size: u64,
    /// Communities merged into this one, or split from it.
    pub related: Vec<CommunityId>,
    /// Emergence score of the community in this window (see `kpi`).
    pub emergence_score: f64,
    /// Member-to-member ratio in this window.
    pub member_to_member_ratio: f64,
    /// Engagement rate in this window.
    pub engagement_rate: f64,
    /// Top themes (c-TF-IDF terms).
    pub themes: Vec<String>,
    /// Channels where the community is active.
    pub channels: Vec<String>,
}

/// A community's mean sentiment in the previous and current windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentimentObservation {
    /// Stable community id.
    pub community_id: CommunityId,
    /// Mean compound sentiment in the previous window.
    pub previous_mean: f64,
    /// Scored posts in the previous window.
    pub previous_sample_size: u64,
    /// Mean compound sentiment in this window.
    pub current_mean: f64,
    /// Scored posts in this window.
    pub current_sample_size: u64,
}

/// The window an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertWindow {
    /// Start (inclusive); part of the alert id.
    pub start: TimestampMs,
    /// End (exclusive).
    pub end: TimestampMs,
}

/// Lifecycle detail, as the proto's `CommunityLifecycle`.
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityLifecycleDetail {
    /// The change, as given.
    pub change: CommunityChange,
    /// `(size − previous_size) / previous_size` (0 when there was no previous size).
    pub growth: f64,
}

/// Sentiment-shift detail, as the proto's `SentimentShift`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentimentShiftDetail {
    /// The observation, as given.
    pub observation: SentimentObservation,
    /// `current_mean − previous_mean`.
    pub delta: f64,
}

/// The proto's `detail` oneof.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertDetail {
    /// Community lifecycle.
    Community(CommunityLifecycleDetail),
    /// Weak or escalated signal, with its explanation.
    Signal(TermSignal),
    /// Sentiment shift.
    SentimentShift(SentimentShiftDetail),
}

/// An alert decision, field for field the proto's `Alert` (platforms are left to the service, which knows
/// them from the channels).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Deterministic id (see [`alert_id`]).
    pub id: String,
    /// Kind.
    pub kind: AlertKind,
    /// Community id (decimal) or term.
    pub subject: String,
    /// Window the alert is about.
    pub window: AlertWindow,
    /// When the decision was made (passed in; not part of the id).
    pub created_at: TimestampMs,
    /// Severity.
    pub severity: Severity,
    /// Short title.
    pub title: String,
    /// One sentence with the figures.
    pub summary: String,
    /// Figures behind the alert.
    pub detail: AlertDetail,
    /// Channels concerned.
    pub channels: Vec<String>,
}

/// Thresholds of the alert decisions.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertConfig {
    /// Alert on born communities of at least this size (default 1: the tracker already applies the
    /// micro-community band).
    pub born_min_size: u64,
    /// Growth `(size − previous) / previous` at or above which a community is growing fast (default 0.5).
    pub growing_fast_min_growth: f64,
    /// Smallest community that can be "growing fast" (default 10: 2 → 4 members is noise).
    pub growing_fast_min_size: u64,
    /// Growth at or above which a growing alert is a warning rather than a notice (default 1.0: doubled).
    pub growing_warning_growth: f64,
    /// Alert on dissolved communities that had at least this many members (default 10).
    pub dissolved_min_previous_size: u64,
    /// Alert on shrinking communities (default false: shrinkage is rarely actionable).
    pub alert_on_shrinking: bool,
    /// Alert on merges and splits (default true, severity info).
    pub alert_on_merge_and_split: bool,
    /// |Δ mean sentiment| at or above which a shift is reported (default 0.2 on the compound scale).
    pub sentiment_shift_min_delta: f64,
    /// Scored posts required in each of the two windows (default 30).
    pub sentiment_min_sample_size: u64,
    /// Re-alert a term that keeps firing weak in consecutive buckets (default false: one alert per episode).
    pub repeat_weak_signal_alerts: bool,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            born_min_size: 1,
            growing_fast_min_growth: 0.5,
            growing_fast_min_size: 10,
            growing_warning_growth: 1.0,
            dissolved_min_previous_size: 10,
            alert_on_shrinking: false,
            alert_on_merge_and_split: true,
            sentiment_shift_min_delta: 0.2,
            sentiment_min_sample_size: 30,
            repeat_weak_signal_alerts: false,
        }
    }
}

/// Deterministic alert id: the first 16 bytes of
/// `SHA-256("murmur.alert.v1" 0x00 kind 0x00 subject 0x00 window_start_ms_decimal)` as lowercase hex.
/// The separators keep `("ab", "c")` and `("a", "bc")` apart; the version prefix lets a future scheme coexist.
pub fn alert_id(kind: AlertKind, subject: &str, window_start: TimestampMs) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"murmur.alert.v1");
    hasher.update([0u8]);
    hasher.update(kind.as_str().as_bytes());
    hasher.update([0u8]);
    hasher.update(subject.as_bytes());
    hasher.update([0u8]);
    hasher.update(window_start.to_string().as_bytes());
    let digest = hasher.finalize();
    digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect()
}

/// Keeps the first alert of each id, in order.
pub fn dedup_alerts(alerts: Vec<Alert>) -> Vec<Alert> {
    let mut seen: HashSet<String> = HashSet::with_capacity(alerts.len());
    alerts.into_iter().filter(|alert| seen.insert(alert.id.clone())).collect()
}

/// Remembers the last `capacity` alert ids so a replayed batch is not re-emitted (bounded FIFO). The
/// durable guard is the consumer's upsert by id; this one saves the round trip.
#[derive(Debug, Clone)]
pub struct AlertDeduplicator {
    capacity: usize,
    order: VecDeque<String>,
    seen: HashSet<String>,
}

impl AlertDeduplicator {
    /// Remembers at most `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> AlertDeduplicator {
        AlertDeduplicator { capacity: capacity.max(1), order: VecDeque::new(), seen: HashSet::new() }
    }

    /// Whether `id` is new; remembers it.
    pub fn first_time(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() >= self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.order.push_back(id.to_string());
        self.seen.insert(id.to_string());
        true
    }

    /// Keeps only alerts not seen before (within the batch too).
    pub fn filter_new(&mut self, alerts: Vec<Alert>) -> Vec<Alert> {
        alerts.into_iter().filter(|alert| self.first_time(&alert.id)).collect()
    }
}

/// Turns lifecycle changes, signals and sentiment observations into alerts.
#[derive(Debug, Clone, Default)]
pub struct AlertDecider {
    config: AlertConfig,
}

impl AlertDecider {
    /// A decider with these thresholds.
    pub fn new(config: AlertConfig) -> AlertDecider {
        AlertDecider { config }
    }

    /// The thresholds in use.
    pub fn config(&self) -> &AlertConfig {
        &self.config
    }

    /// Alerts for community lifecycle changes in `window`: born (size ≥ `born_min_size`), growing fast
    /// (growth ≥ `growing_fast_min_growth` and size ≥ `growing_fast_min_size`, whatever status the tracker
    /// gave), dissolved (previous size ≥ `dissolved_min_previous_size`), merged/split (if enabled),
    /// shrinking (if enabled).
    pub fn community_alerts(&self, changes: &[CommunityChange], window: AlertWindow, now: TimestampMs) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for change in changes {
            let growth = size_growth(change.size, change.previous_size);
            let subject = change.community_id.to_string();
            let decision: Option<(AlertKind, Severity, String)> = match change.status {
                LifecycleStatus::Born if change.size >= self.config.born_min_size => Some((
                    AlertKind::CommunityBorn,
                    Severity::Notice,
                    format!("community {subject} appeared with {} members", change.size),
                )),
                LifecycleStatus::Dissolved if change.previous_size >= self.config.dissolved_min_previous_size => {
                    Some((
                        AlertKind::CommunityDissolved,
                        Severity::Info,
                        format!("community {subject} dissolved (had {} members)", change.previous_size),
                    ))
                }
                LifecycleStatus::Merged | LifecycleStatus::Split if self.config.alert_on_merge_and_split => {
                    let (kind, verb) = if change.status == LifecycleStatus::Merged {
                        (AlertKind::CommunityMerged, "merged with")
                    } else {
                        (AlertKind::CommunitySplit, "split from")
                    };
                    Some((
                        kind,
                        Severity::Info,
                        format!("community {subject} {verb} {} ({} members)", join_ids(&change.related), change.size),
                    ))
                }
                LifecycleStatus::Shrinking if self.config.alert_on_shrinking => Some((
                    AlertKind::CommunityShrinking,
                    Severity::Info,
                    format!("community {subject} shrank from {} to {} members", change.previous_size, change.size),
                )),
                _ => None,
            };
            if let Some((kind, severity, summary)) = decision {
                alerts.push(self.community_alert(change, kind, severity, summary, growth, window, now));
            }
            let is_growing_fast = change.status != LifecycleStatus::Born
                && change.status != LifecycleStatus::Dissolved
                && change.previous_size > 0
                && change.size >= self.config.growing_fast_min_size
                && growth >= self.config.growing_fast_min_growth;
            if is_growing_fast {
                let severity =
                    if growth >= self.config.growing_warning_growth { Severity::Warning } else { Severity::Notice };
                let summary = format!(
                    "community {subject} grew {:+.0}% from {} to {} members (member-to-member ratio {:.2}, \
                     emergence {:.2})",
                    growth * 100.0,
                    change.previous_size,
                    change.size,
                    change.member_to_member_ratio,
                    change.emergence_score
                );
                alerts.push(self.community_alert(
                    change,
                    AlertKind::CommunityGrowing,
                    severity,
                    summary,
                    growth,
                    window,
                    now,
                ));
            }
        }
        dedup_alerts(alerts)
    }

    /// Alerts for one closed signal bucket: a weak signal is *detected* the first bucket it fires (repeats
    /// only if `repeat_weak_signal_alerts`), *escalated* when it fires strong after having been weak.
    pub fn signal_alerts(&self, bucket: &BucketSignals, now: TimestampMs) -> Vec<Alert> {
        let window = AlertWindow { start: bucket.bucket_start, end: bucket.bucket_end };
        let mut alerts = Vec::new();
        for signal in &bucket.signals {
            let decision =
                if signal.is_weak_signal && (!signal.was_weak_before || self.config.repeat_weak_signal_alerts) {
                    Some((AlertKind::WeakSignalDetected, Severity::Notice, "weak signal"))
                } else if signal.class == SignalClass::Strong && signal.was_weak_before {
                    Some((AlertKind::WeakSignalEscalated, Severity::Warning, "weak signal escalated"))
                } else {
                    None
                };
            let Some((kind, severity, title_prefix)) = decision else {
                continue;
            };
            let spreading: Vec<String> = signal
                .spreading_to_channels
                .iter()
                .cloned()
                .chain(signal.spreading_to_communities.iter().map(|community| format!("community {community}")))
                .collect();
            let summary = format!(
                "'{}' in {} posts (baseline {:.1} ± {:.1}, z = {:.1}, growth {:+.0}%, visibility {:.2}%) by {} \
                 authors in {} channels and {} communities{}",
                signal.term,
                signal.count,
                signal.baseline_mean,
                signal.baseline_std,
                signal.significance,
                signal.growth * 100.0,
                signal.visibility * 100.0,
                signal.distinct_authors,
                signal.distinct_channels,
                signal.distinct_communities,
                if spreading.is_empty() { String::new() } else { format!(", spreading to {}", spreading.join(", ")) }
            );
            alerts.push(Alert {
                id: alert_id(kind, &signal.term, window.start),
                kind,
                subject: signal.term.clone(),
                window,
                created_at: now,
                severity,
                title: format!("{title_prefix}: {}", signal.term),
                summary,
                detail: AlertDetail::Signal(signal.clone()),
                channels: signal.channels.clone(),
            });
        }
        dedup_alerts(alerts)
    }

    /// Alerts for sentiment shifts: `|current_mean − previous_mean| ≥ sentiment_shift_min_delta` with at
    /// least `sentiment_min_sample_size` scored posts in both windows. Negative shifts are warnings.
    pub fn sentiment_alerts(
        &self,
        observations: &[SentimentObservation],
        window: AlertWindow,
        now: TimestampMs,
    ) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for observation in observations {
            let delta = observation.current_mean - observation.previous_mean;
            let has_samples = observation.previous_sample_size >= self.config.sentiment_min_sample_size
                && observation.current_sample_size >= self.config.sentiment_min_sample_size;
            if !has_samples || !delta.is_finite() || delta.abs() < self.config.sentiment_shift_min_delta {
                continue;
            }
            let subject = observation.community_id.to_string();
            let severity = if delta < 0.0 { Severity::Warning } else { Severity::Notice };
            alerts.push(Alert {
                id: alert_id(AlertKind::SentimentShift, &subject, window.start),
                kind: AlertKind::SentimentShift,
                subject: subject.clone(),
                window,
                created_at: now,
                severity,
                title: format!("sentiment shift in community {subject}"),
                summary: format!(
                    "mean sentiment of community {subject} moved {delta:+.2} from {:.2} ({} posts) to {:.2} ({} posts)",
                    observation.previous_mean,
                    observation.previous_sample_size,
                    observation.current_mean,
                    observation.current_sample_size
                ),
                detail: AlertDetail::SentimentShift(SentimentShiftDetail { observation: *observation, delta }),
                channels: Vec::new(),
            });
        }
        dedup_alerts(alerts)
    }

    #[allow(clippy::too_many_arguments)]
    fn community_alert(
        &self,
        change: &CommunityChange,
        kind: AlertKind,
        severity: Severity,
        summary: String,
        growth: f64,
        window: AlertWindow,
        now: TimestampMs,
    ) -> Alert {
        let subject = change.community_id.to_string();
        let title = format!("{}: community {subject}", kind.as_str().replace('_', " "));
        let summary =
            if change.themes.is_empty() { summary } else { format!("{summary}; themes: {}", change.themes.join(", ")) };
        Alert {
            id: alert_id(kind, &subject, window.start),
            kind,
            subject,
            window,
            created_at: now,
            severity,
            title,
            summary,
            detail: AlertDetail::Community(CommunityLifecycleDetail { change: change.clone(), growth }),
            channels: change.channels.clone(),
        }
    }
}

/// `(size − previous) / previous`, 0 when there was no previous size.
fn size_growth(size: u64, previous_size: u64) -> f64 {
    if previous_size == 0 {
        return 0.0;
    }
    (size as f64 - previous_size as f64) / previous_size as f64
}

fn join_ids(ids: &[CommunityId]) -> String {
    ids.iter().map(|id| id.to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
