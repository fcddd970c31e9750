//! Polls every enabled watch on its own cadence and publishes what it finds.
//!
//! One task per watch, started and stopped as watches appear and disappear in Postgres (the
//! list is re-read every `refresh_interval`). Polls run under a global concurrency limit. A
//! poll's posts are published and acknowledged by the broker *before* the watch's cursor is
//! stored, so a crash re-reads and never skips; posts already published recently are not
//! published again (a bounded memory of recent ids per watch; downstream is idempotent anyway).
//! The next poll comes after the adaptive, jittered interval, stretched to the platform's
//! rate-limit reset; a failing watch backs off exponentially with jitter without slowing the
//! others, and a rate limit is waited out exactly.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use murmur_common::kafka::producer::{EventProducer, OutgoingMessage};
use murmur_connectors::schedule::{next_poll_at, respect_rate_limit, wait_after_error, Backoff, PollIntervalPolicy};
use murmur_connectors::{Connector, ConnectorError, Cursor, PollOutcome};
use murmur_proto::events::v1::Post;
use murmur_proto::partition_key;
use prost::Message;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::metrics::{IngestorMetrics, PlatformLabels};
use crate::sources::Sources;
use crate::store::{PollRecord, WatchRow, WatchStore};

/// Scheduler settings.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// Polls running at once, over all watches.
    pub max_concurrent_polls: usize,
    /// How often the watch list is re-read.
    pub refresh_interval: Duration,
    /// Adaptive interval bounds and jitter.
    pub policy: PollIntervalPolicy,
    /// Backoff after failures.
    pub backoff: Backoff,
    /// Post ids remembered per watch to skip re-publishing.
    pub recent_ids: usize,
}

/// Everything the watch tasks share.
pub struct Scheduler {
    store: WatchStore,
    sources: Arc<Sources>,
    producer: EventProducer,
    topic: String,
    settings: SchedulerSettings,
    metrics: IngestorMetrics,
    permits: Arc<Semaphore>,
}

impl Scheduler {
    /// A scheduler publishing to `topic`.
    pub fn new(
        store: WatchStore,
        sources: Arc<Sources>,
        producer: EventProducer,
        topic: String,
        settings: SchedulerSettings,
        metrics: IngestorMetrics,
    ) -> Self {
        let permits = Arc::new(Semaphore::new(settings.max_concurrent_polls.max(1)));
        Self { store, sources, producer, topic, settings, metrics, permits }
    }

    /// Runs until `stop` is cancelled; each watch task finishes its poll in flight (publish and
    /// cursor included) before returning.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let scheduler = Arc::new(self);
        let mut running: HashMap<i64, (CancellationToken, JoinHandle<()>)> = HashMap::new();
        loop {
            match scheduler.store.enabled().await {
                Ok(watches) => {
                    let wanted: HashSet<i64> = watches.iter().map(|watch| watch.id).collect();
                    running.retain(|id, (token, _)| {
                        let keep = wanted.contains(id);
                        if !keep {
                            tracing::info!(watch_id = id, "watch removed, stopping its polling");
                            token.cancel();
                        }
                        keep
                    });
                    for watch in watches {
                        if running.contains_key(&watch.id) {
                            continue;
                        }
                        let token = stop.child_token();
                        let id = watch.id;
                        let task = tokio::spawn(Arc::clone(&scheduler).poll_forever(watch, token.clone()));
                        running.insert(id, (token, task));
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot read watches, keeping the current ones"),
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(scheduler.settings.refresh_interval) => {}
            }
        }
        for (_, (_, task)) in running {
            let _ = task.await;
        }
        Ok(())
    }

    async fn poll_forever(self: Arc<Self>, watch: WatchRow, stop: CancellationToken) {
        let (connector, spec) = match self.sources.resolve(&watch) {
            Ok(resolved) => resolved,
            Err(error) => {
                tracing::warn!(watch_id = watch.id, %error, "watch cannot be polled");
                let record = failure_record(error.to_string(), 1, Duration::ZERO);
                let _ = self.store.record_poll(watch.id, &record).await;
                return;
            }
        };
        tracing::info!(watch_id = watch.id, platform = %watch.platform, watch = %spec, "polling watch");
        let mut rng = StdRng::from_os_rng();
        let mut interval = Duration::from_millis(watch.poll_interval_ms.max(1) as u64);
        let mut failures: u32 = 0;
        let mut recent = RecentIds::new(self.settings.recent_ids);
        loop {
            let permit = tokio::select! {
                _ = stop.cancelled() => return,
                permit = self.permits.acquire() => permit,
            };
            let span = tracing::info_span!("poll", watch_id = watch.id, platform = %watch.platform);
            let wait = async {
                let stored_cursor = match self.store.cursor(watch.id).await {
                    Ok(cursor) => cursor.map(Cursor::new),
                    Err(error) => {
                        failures += 1;
                        tracing::warn!(%error, "cannot read cursor");
                        return self.settings.backoff.delay(failures, &mut rng);
                    }
                };
                match connector.poll(&spec, stored_cursor.as_ref()).await {
                    Ok(outcome) => {
                        self.after_fetch(&watch, outcome, &mut recent, &mut interval, &mut failures, &mut rng).await
                    }
                    Err(error) => {
                        failures += 1;
                        let wait = wait_after_error(&error, failures, &self.settings.backoff, &mut rng);
                        self.metrics.poll(&watch.platform, outcome_label(&error));
                        tracing::warn!(%error, failures, wait = ?wait, "poll failed");
                        let record = failure_record(error.to_string(), failures, wait);
                        if let Err(error) = self.store.record_poll(watch.id, &record).await {
                            tracing::warn!(%error, "cannot record poll status");
                        }
                        wait
                    }
                }
            }
            .instrument(span)
            .await;
            drop(permit);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Publishes a poll's new posts, then (only once acknowledged) stores the cursor and status.
    async fn after_fetch(
        &self,
        watch: &WatchRow,
        outcome: PollOutcome,
        recent: &mut RecentIds,
        interval: &mut Duration,
        failures: &mut u32,
        rng: &mut StdRng,
    ) -> Duration {
        let platform_labels = PlatformLabels { platform: watch.platform.clone() };
        self.metrics.item_errors.get_or_create(&platform_labels).inc_by(outcome.item_errors.len() as u64);
        for item_error in &outcome.item_errors {
            tracing::warn!(error = %item_error, "item skipped");
        }
        let (fresh, duplicates): (Vec<Post>, Vec<Post>) =
            outcome.posts.into_iter().partition(|post| !recent.contains(&post.id));
        self.metrics.duplicates_skipped.get_or_create(&platform_labels).inc_by(duplicates.len() as u64);
        let messages: Vec<OutgoingMessage> = fresh
            .iter()
            .map(|post| OutgoingMessage {
                key: partition_key(post),
                payload: post.encode_to_vec(),
                headers: Vec::new(),
            })
            .collect();
        if let Err(error) = self.producer.send_all::<Post>(&self.topic, messages).await {
            *failures += 1;
            let wait = self.settings.backoff.delay(*failures, rng);
            tracing::warn!(%error, "publishing failed; the cursor stays where it was");
            self.metrics.poll(&watch.platform, "error");
            let _ = self.store.record_poll(watch.id, &failure_record(error.to_string(), *failures, wait)).await;
            return wait;
        }
        for post in &fresh {
            recent.insert(&post.id);
        }
        self.metrics.posts_published.get_or_create(&platform_labels).inc_by(fresh.len() as u64);
        if let Err(error) = self.store.save_cursor(watch.id, outcome.next_cursor.as_str()).await {
            // The posts are published; the next poll re-reads them and the recent-id memory
            // (and downstream upserts) absorb the repeat.
            tracing::warn!(%error, "cannot store cursor");
        }
        let now = Utc::now();
        let (wait, error) = match &outcome.stopped_early {
            Some(error) => {
                *failures += 1;
                (wait_after_error(error, *failures, &self.settings.backoff, rng), Some(error.to_string()))
            }
            None => {
                *failures = 0;
                let (base, jittered) = self.settings.policy.next_interval(*interval, fresh.len(), rng);
                *interval = base;
                (respect_rate_limit(&outcome.rate_limit, jittered, now), None)
            }
        };
        // A replay file is read back to back while it yields posts (no platform to be polite to).
        let wait = if watch.platform == crate::sources::REPLAY_PLATFORM && error.is_none() && !fresh.is_empty() {
            Duration::ZERO
        } else {
            wait
        };
        self.metrics.poll(&watch.platform, if error.is_some() { "partial" } else { "ok" });
        tracing::info!(published = fresh.len(), next_poll_in = ?wait, "poll done");
        let record = PollRecord {
            succeeded: error.is_none(),
            error,
            posts_published: fresh.len() as i64,
            next_poll_at: next_poll_at(now, wait),
            rate_limit_remaining: outcome.rate_limit.remaining.map(|remaining| remaining as i64),
            rate_limit_reset_at: outcome.rate_limit.reset_at,
            consecutive_failures: *failures as i32,
        };
        if let Err(error) = self.store.record_poll(watch.id, &record).await {
            tracing::warn!(%error, "cannot record poll status");
        }
        wait
    }
}

fn outcome_label(error: &ConnectorError) -> &'static str {
    if error.retry_after().is_some() {
        "rate_limited"
    } else {
        "error"
    }
}

fn failure_record(error: String, failures: u32, wait: Duration) -> PollRecord {
    PollRecord {
        succeeded: false,
        error: Some(error),
        posts_published: 0,
        next_poll_at: next_poll_at(Utc::now(), wait),
        rate_limit_remaining: None,
        rate_limit_reset_at: None,
        consecutive_failures: failures as i32,
    }
}

/// The last `capacity` post ids, in insertion order.
pub struct RecentIds {
    capacity: usize,
    order: VecDeque<String>,
    members: HashSet<String>,
}

impl RecentIds {
    /// An empty memory of at most `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), order: VecDeque::new(), members: HashSet::new() }
    }

    /// Whether `id` was inserted and not yet evicted.
    pub fn contains(&self, id: &str) -> bool {
        self.members.contains(id)
    }

    /// Remembers `id`, evicting the oldest beyond capacity.
    pub fn insert(&mut self, id: &str) {
        if !self.members.insert(id.to_string()) {
            return;
        }
        self.order.push_back(id.to_string());
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.members.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_are_bounded_and_forget_the_oldest() {
        let mut recent = RecentIds::new(2);
        recent.insert("a");
        recent.insert("b");
        recent.insert("a");
        assert!(recent.contains("a") && recent.contains("b"));
        recent.insert("c");
        assert!(!recent.contains("a"), "oldest evicted");
        assert!(recent.contains("b") && recent.contains("c"));
    }
}
