//! The scorer's own metrics (the Kafka ones come from the common runtime).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of a scored text.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScoredLabels {
    /// `en`, `fr` or `und`.
    pub language: String,
    /// Model name.
    pub model: String,
    /// `stream` (Kafka) or `api` (gRPC).
    pub source: String,
}

/// Scorer metrics, registered under `murmur_scorer_*`.
#[derive(Clone)]
pub struct ScorerMetrics {
    /// Texts scored, by language, model and source.
    pub texts_scored: Family<ScoredLabels, Counter>,
    /// Seconds to score one batch (stream) or request (API).
    pub scoring_seconds: Histogram,
    /// Texts per scored batch or request.
    pub batch_texts: Histogram,
    /// Texts per transformer model call (dynamic batches).
    pub transformer_batch_texts: Histogram,
    /// Seconds per transformer model call.
    pub transformer_batch_seconds: Histogram,
    /// Texts the transformer failed on (they keep the lexicon's score).
    pub transformer_failures: Counter,
}

impl ScorerMetrics {
    /// Creates and registers the metrics.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            texts_scored: Family::default(),
            scoring_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 18)),
            batch_texts: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            transformer_batch_texts: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            transformer_batch_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            transformer_failures: Counter::default(),
        };
        let sub = registry.sub_registry_with_prefix("murmur_scorer");
        sub.register("texts_scored", "Texts scored", metrics.texts_scored.clone());
        sub.register("scoring_duration_seconds", "Time to score a batch or request", metrics.scoring_seconds.clone());
        sub.register("batch_texts", "Texts per scored batch or request", metrics.batch_texts.clone());
        if cfg!(feature = "transformer") {
            sub.register(
                "transformer_batch_texts",
                "Texts per transformer model call",
                metrics.transformer_batch_texts.clone(),
            );
            sub.register(
                "transformer_batch_duration_seconds",
                "Time of one transformer model call",
                metrics.transformer_batch_seconds.clone(),
            );
            sub.register(
                "transformer_failures",
                "Texts the transformer failed on (scored by the lexicon instead)",
                metrics.transformer_failures.clone(),
            );
        }
        metrics
    }

    /// Records one transformer model call.
    pub fn observe_transformer_batch(&self, batch_size: usize, elapsed: std::time::Duration) {
        self.transformer_batch_texts.observe(batch_size as f64);
        self.transformer_batch_seconds.observe(elapsed.as_secs_f64());
    }

    /// Counts one scored text.
    pub fn count(&self, language: &str, model: &str, source: &str) {
        let labels =
            ScoredLabels { language: language.to_string(), model: model.to_string(), source: source.to_string() };
        self.texts_scored.get_or_create(&labels).inc();
    }
}
