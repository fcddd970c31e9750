//! Prometheus metrics: one registry per process, filled by the runtime and the service at
//! start-up, then frozen and served by the admin endpoint. Metric names follow
//! `murmur_<component>_<what>_<unit>` with `_total` for counters; label values are bounded.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels identifying a Kafka topic.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabels {
    /// Topic name.
    pub topic: String,
}

/// Labels for a dead-lettered message.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeadLetterLabels {
    /// Source topic.
    pub topic: String,
    /// `decode` or `rejected`.
    pub reason: String,
}

/// Metrics of the Kafka consumer and producer helpers.
#[derive(Clone)]
pub struct KafkaMetrics {
    /// Messages received from Kafka.
    pub consumed: Family<TopicLabels, Counter>,
    /// Messages whose handling completed (offset stored).
    pub processed: Family<TopicLabels, Counter>,
    /// Messages sent to the dead-letter topic.
    pub dead_lettered: Family<DeadLetterLabels, Counter>,
    /// Transient handler failures that caused a batch retry.
    pub handler_retries: Family<TopicLabels, Counter>,
    /// Messages produced and acknowledged.
    pub produced: Family<TopicLabels, Counter>,
    /// Produce failures.
    pub produce_errors: Family<TopicLabels, Counter>,
    /// Messages per handled batch.
    pub batch_size: Histogram,
    /// Seconds spent handling a batch (decode to durable).
    pub batch_seconds: Histogram,
    /// Consumer lag in messages, summed over the assigned partitions.
    pub consumer_lag: Family<TopicLabels, Gauge>,
}

impl KafkaMetrics {
    /// Creates the metrics and registers them under `murmur_kafka_*`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            consumed: Family::default(),
            processed: Family::default(),
            dead_lettered: Family::default(),
            handler_retries: Family::default(),
            produced: Family::default(),
            produce_errors: Family::default(),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            batch_seconds: Histogram::new(exponential_buckets(0.000_5, 2.0, 16)),
            consumer_lag: Family::default(),
        };
        let sub = registry.sub_registry_with_prefix("murmur_kafka");
        sub.register("consumed", "Messages received from Kafka", metrics.consumed.clone());
        sub.register("processed", "Messages handled durably (offset stored)", metrics.processed.clone());
        sub.register("dead_lettered", "Messages sent to the dead-letter topic", metrics.dead_lettered.clone());
        sub.register("handler_retries", "Batch retries after transient failures", metrics.handler_retries.clone());
        sub.register("produced", "Messages produced and acknowledged", metrics.produced.clone());
        sub.register("produce_errors", "Messages that failed to produce", metrics.produce_errors.clone());
        sub.register("batch_size", "Messages per handled batch", metrics.batch_size.clone());
        sub.register("batch_duration_seconds", "Time to handle a batch durably", metrics.batch_seconds.clone());
        sub.register("consumer_lag_messages", "Consumer lag over assigned partitions", metrics.consumer_lag.clone());
        metrics
    }

    pub(crate) fn topic(topic: &str) -> TopicLabels {
        TopicLabels { topic: topic.to_string() }
    }
}
