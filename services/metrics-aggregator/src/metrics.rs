//! The aggregator's own metrics, registered under `murmur_aggregator_*` (the Kafka ones come from
//! the common runtime).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Label of a produced alert.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertLabels {
    /// Alert kind, e.g. `ALERT_KIND_COMMUNITY_BORN`.
    pub kind: String,
}

/// Aggregator metrics.
#[derive(Clone)]
pub struct AggregatorMetrics {
    /// Posts stored for the first time.
    pub posts_stored: Counter,
    /// Posts already stored (replays, re-observations).
    pub posts_duplicate: Counter,
    /// Posts refused (dead-lettered).
    pub posts_rejected: Counter,
    /// Seconds to store one batch.
    pub store_seconds: Histogram,
    /// Seconds the engine took for one batch (including detection runs it triggered).
    pub engine_seconds: Histogram,
    /// Seconds to persist a detection run.
    pub persist_seconds: Histogram,
    /// Detection runs persisted.
    pub detection_runs: Counter,
    /// Weak-signal buckets closed and persisted.
    pub buckets_closed: Counter,
    /// Terms that fired (weak or strong).
    pub signals_fired: Counter,
    /// Alerts produced to the topic, by kind.
    pub alerts_published: Family<AlertLabels, Counter>,
    /// Live actors of the interaction graph.
    pub graph_actors: Gauge,
    /// Live actor pairs of the interaction graph.
    pub graph_pairs: Gauge,
    /// Communities after the latest detection run.
    pub communities: Gauge,
    /// Size of the latest detector snapshot in bytes.
    pub snapshot_bytes: Gauge,
    /// Posts left out of a window's KPIs because MURMUR_MAX_WINDOW_POSTS was reached.
    pub window_overflow: Gauge,
    /// Stored batches waiting for the detection worker.
    pub engine_queue: Gauge,
}

impl AggregatorMetrics {
    /// Creates and registers the metrics.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            posts_stored: Counter::default(),
            posts_duplicate: Counter::default(),
            posts_rejected: Counter::default(),
            store_seconds: Histogram::new(exponential_buckets(0.000_5, 2.0, 16)),
            engine_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 20)),
            persist_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            detection_runs: Counter::default(),
            buckets_closed: Counter::default(),
            signals_fired: Counter::default(),
            alerts_published: Family::default(),
            graph_actors: Gauge::default(),
            graph_pairs: Gauge::default(),
            communities: Gauge::default(),
            snapshot_bytes: Gauge::default(),
            window_overflow: Gauge::default(),
            engine_queue: Gauge::default(),
        };
        let sub = registry.sub_registry_with_prefix("murmur_aggregator");
        sub.register("posts_stored", "Scored posts stored for the first time", metrics.posts_stored.clone());
        sub.register("posts_duplicate", "Scored posts already stored (replays)", metrics.posts_duplicate.clone());
        sub.register("posts_rejected", "Scored posts refused and dead-lettered", metrics.posts_rejected.clone());
        sub.register("store_duration_seconds", "Time to store one batch", metrics.store_seconds.clone());
        sub.register("engine_duration_seconds", "Engine time per batch", metrics.engine_seconds.clone());
        sub.register("persist_duration_seconds", "Time to persist a detection run", metrics.persist_seconds.clone());
        sub.register("detection_runs", "Detection runs persisted", metrics.detection_runs.clone());
        sub.register("buckets_closed", "Weak-signal buckets closed", metrics.buckets_closed.clone());
        sub.register("signals_fired", "Terms that fired as weak or strong signals", metrics.signals_fired.clone());
        sub.register("alerts_published", "Alerts produced to the alert topic", metrics.alerts_published.clone());
        sub.register("graph_actors", "Live actors of the interaction graph", metrics.graph_actors.clone());
        sub.register("graph_pairs", "Live actor pairs of the interaction graph", metrics.graph_pairs.clone());
        sub.register("communities", "Communities after the latest detection run", metrics.communities.clone());
        sub.register("snapshot_bytes", "Size of the latest detector snapshot", metrics.snapshot_bytes.clone());
        sub.register(
            "window_overflow_posts",
            "Posts left out of window KPIs because MURMUR_MAX_WINDOW_POSTS was reached",
            metrics.window_overflow.clone(),
        );
        sub.register(
            "engine_queue_batches",
            "Stored batches waiting for the detection worker (full at 16: storing waits for detection)",
            metrics.engine_queue.clone(),
        );
        metrics
    }

    /// Counts one produced alert.
    pub fn count_alert(&self, kind: i32) {
        let kind = murmur_proto::events::v1::AlertKind::try_from(kind)
            .map(|kind| kind.as_str_name().to_string())
            .unwrap_or_else(|_| "unknown".to_string());
        self.alerts_published.get_or_create(&AlertLabels { kind }).inc();
    }
}
