//! The ingestor's own metrics (Kafka ones come from the common runtime).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Labels of a poll.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PollLabels {
    /// Platform of the watch.
    pub platform: String,
    /// `ok`, `partial`, `error` or `rate_limited`.
    pub outcome: String,
}

/// Labels of a per-platform count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlatformLabels {
    /// Platform.
    pub platform: String,
}

/// Ingestor metrics, registered under `murmur_ingestor_*`.
#[derive(Clone)]
pub struct IngestorMetrics {
    /// Polls by platform and outcome.
    pub polls: Family<PollLabels, Counter>,
    /// Posts published (acknowledged by the broker).
    pub posts_published: Family<PlatformLabels, Counter>,
    /// Posts skipped because they were already published recently.
    pub duplicates_skipped: Family<PlatformLabels, Counter>,
    /// Items a connector could not normalise.
    pub item_errors: Family<PlatformLabels, Counter>,
}

impl IngestorMetrics {
    /// Creates and registers the metrics.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            polls: Family::default(),
            posts_published: Family::default(),
            duplicates_skipped: Family::default(),
            item_errors: Family::default(),
        };
        let sub = registry.sub_registry_with_prefix("murmur_ingestor");
        sub.register("polls", "Polls by platform and outcome", metrics.polls.clone());
        sub.register("posts_published", "Posts acknowledged by the broker", metrics.posts_published.clone());
        sub.register("duplicates_skipped", "Posts already published recently", metrics.duplicates_skipped.clone());
        sub.register("item_errors", "Items a connector could not normalise", metrics.item_errors.clone());
        metrics
    }

    /// Counts one poll.
    pub fn poll(&self, platform: &str, outcome: &str) {
        self.polls.get_or_create(&PollLabels { platform: platform.into(), outcome: outcome.into() }).inc();
    }
}
