//! An at-least-once batch consumer.
//!
//! The loop: receive up to `batch_size` messages (waiting at most `batch_linger` after the
//! first), decode them, hand the decodable ones to the [`BatchHandler`], dead-letter the rest
//! and the ones the handler rejects, and only then *store* the batch's offsets. librdkafka
//! commits stored offsets periodically and the consumer commits synchronously on shutdown, so
//! a crash anywhere before the store redelivers the batch, and nothing is committed before the
//! handler's work is durable. Transient handler failures (database down) retry the whole
//! batch with capped exponential backoff; they never dead-letter.

use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use murmur_proto::headers;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::producer::EventProducer;
use crate::config::{ConsumerArgs, KafkaArgs};
use crate::metrics::{DeadLetterLabels, KafkaMetrics};

/// A decoded message with where it came from.
#[derive(Debug, Clone)]
pub struct Envelope<E> {
    /// The decoded event.
    pub event: E,
    /// The message key, when UTF-8.
    pub key: Option<String>,
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
    /// Broker or producer timestamp, ms since the epoch.
    pub timestamp_ms: Option<i64>,
    /// W3C trace-context headers, to continue the producer's trace.
    pub trace_headers: Vec<(String, String)>,
}

/// A message the handler refuses permanently (it goes to the dead-letter topic).
#[derive(Debug, Clone)]
pub struct Rejection {
    /// Index in the batch passed to the handler.
    pub index: usize,
    /// Why, for the `murmur-dlq-error` header.
    pub reason: String,
}

/// What the handler did with a batch: everything not rejected is durable.
#[derive(Debug, Clone, Default)]
pub struct BatchOutcome {
    /// Messages to dead-letter.
    pub rejected: Vec<Rejection>,
}

/// A transient failure: the whole batch is retried later, nothing is committed.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct TransientError(pub anyhow::Error);

/// Application logic plugged into the consumer.
pub trait BatchHandler: Send + Sync {
    /// The protobuf event the topic carries.
    type Event: prost::Message + Default + Send + Sync;

    /// Makes the batch's effects durable (database commit, downstream produce acknowledged),
    /// or fails transiently. Must be idempotent: a batch can be delivered more than once.
    fn handle(
        &self,
        batch: &[Envelope<Self::Event>],
    ) -> impl Future<Output = Result<BatchOutcome, TransientError>> + Send;
}

/// Settings of one consumer.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// Topic to consume.
    pub topic: String,
    /// Consumer group.
    pub group_id: String,
    /// Maximum messages per batch.
    pub batch_size: usize,
    /// Maximum wait for a batch to fill after its first message.
    pub batch_linger: Duration,
    /// Upper bound of the retry backoff after transient failures.
    pub max_retry_backoff: Duration,
    /// Dead-letter topic.
    pub deadletter_topic: String,
}

impl ConsumerSettings {
    /// Settings from the shared consumer flags; `default_group` when no group is configured.
    pub fn from_args(topic: &str, default_group: &str, args: &ConsumerArgs) -> Self {
        Self {
            topic: topic.to_string(),
            group_id: args.kafka_group_id.clone().unwrap_or_else(|| default_group.to_string()),
            batch_size: args.batch_size.max(1),
            batch_linger: Duration::from_millis(args.batch_linger_ms),
            max_retry_backoff: Duration::from_secs(30),
            deadletter_topic: murmur_proto::topics::DEADLETTER.to_string(),
        }
    }
}

/// Why the consumer stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// The consumer could not be created or subscribed.
    #[error("cannot start consuming {topic}: {reason}")]
    Setup {
        /// Topic.
        topic: String,
        /// librdkafka's error.
        reason: String,
    },
}

/// Counts of one consumer run, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Messages whose offsets were stored.
    pub processed: u64,
    /// Of those, messages dead-lettered.
    pub dead_lettered: u64,
    /// Batches handled.
    pub batches: u64,
}

/// A consumer bound to one topic and one handler type.
pub struct BatchConsumer<H: BatchHandler> {
    consumer: Arc<StreamConsumer>,
    deadletter: EventProducer,
    settings: ConsumerSettings,
    metrics: Option<KafkaMetrics>,
    _handler: PhantomData<fn(&H)>,
}

enum BatchResult {
    Stored { processed: u64, dead_lettered: u64 },
    Interrupted,
}

impl<H: BatchHandler> BatchConsumer<H> {
    /// Creates the consumer and subscribes. Offsets are never auto-stored.
    pub fn new(
        kafka: &KafkaArgs,
        settings: ConsumerSettings,
        deadletter: EventProducer,
        metrics: Option<KafkaMetrics>,
    ) -> Result<Self, ConsumeError> {
        let setup_error = |reason: String| ConsumeError::Setup { topic: settings.topic.clone(), reason };
        let mut config = super::client_config(kafka);
        config
            .set("group.id", &settings.group_id)
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false");
        // Defaults a user's KAFKA_OPTIONS can override. Smaller fetches keep each broker request short:
        // under load a slow broker (tansu on SQLite, seen here) otherwise answers heartbeats late, the
        // session times out and the group rejoins. A short fetch wait bounds what each hop adds to
        // ingest-to-queryable latency (tansu answers an empty fetch only after the full wait: with
        // librdkafka's 500 ms the pipeline's p50 at 2,000 posts/s was 1.1 s, with 50 ms 0.5 s).
        for (key, value) in [
            ("session.timeout.ms", "45000"),
            ("fetch.max.bytes", "8388608"),
            ("max.partition.fetch.bytes", "2097152"),
            ("fetch.wait.max.ms", "50"),
        ] {
            if kafka.kafka_options.iter().all(|(option, _)| option != key) {
                config.set(key, value);
            }
        }
        let consumer: StreamConsumer = config.create().map_err(|error| setup_error(error.to_string()))?;
        consumer.subscribe(&[settings.topic.as_str()]).map_err(|error| setup_error(error.to_string()))?;
        Ok(Self { consumer: Arc::new(consumer), deadletter, settings, metrics, _handler: PhantomData })
    }

    /// Consumes until `stop` is cancelled: the batch in flight finishes (or, if it is stuck
    /// retrying a transient failure, is abandoned uncommitted), stored offsets are committed
    /// synchronously, then this returns.
    pub async fn run(self, handler: &H, stop: CancellationToken) -> Result<RunSummary, ConsumeError> {
        let mut summary = RunSummary::default();
        let lag_task = self.spawn_lag_reporter(stop.clone());
        tracing::info!(topic = %self.settings.topic, group = %self.settings.group_id, "consumer started");
        while let Some(batch) = self.next_batch(&stop).await {
            match self.process(batch, handler, &stop).await {
                BatchResult::Stored { processed, dead_lettered } => {
                    summary.processed += processed;
                    summary.dead_lettered += dead_lettered;
                    summary.batches += 1;
                }
                BatchResult::Interrupted => break,
            }
        }
        if let Some(task) = lag_task {
            task.abort();
        }
        self.commit_stored();
        tracing::info!(
            topic = %self.settings.topic,
            processed = summary.processed,
            dead_lettered = summary.dead_lettered,
            "consumer stopped"
        );
        Ok(summary)
    }

    async fn next_batch(&self, stop: &CancellationToken) -> Option<Vec<OwnedMessage>> {
        loop {
            let first = tokio::select! {
                biased;
                _ = stop.cancelled() => return None,
                received = self.consumer.recv() => received,
            };
            let first = match first {
                Ok(message) => message.detach(),
                Err(error) => {
                    tracing::warn!(topic = %self.settings.topic, %error, "kafka receive error");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let mut batch = Vec::with_capacity(self.settings.batch_size);
            batch.push(first);
            let deadline = tokio::time::Instant::now() + self.settings.batch_linger;
            while batch.len() < self.settings.batch_size {
                match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                    Ok(Ok(message)) => batch.push(message.detach()),
                    Ok(Err(error)) => {
                        tracing::warn!(topic = %self.settings.topic, %error, "kafka receive error");
                        break;
                    }
                    Err(_) => break,
                }
            }
            if let Some(metrics) = &self.metrics {
                metrics.consumed.get_or_create(&KafkaMetrics::topic(&self.settings.topic)).inc_by(batch.len() as u64);
            }
            return Some(batch);
        }
    }

    async fn process(&self, batch: Vec<OwnedMessage>, handler: &H, stop: &CancellationToken) -> BatchResult {
        let started = Instant::now();
        let mut envelopes = Vec::with_capacity(batch.len());
        let mut envelope_sources = Vec::with_capacity(batch.len());
        let mut dead_letters: Vec<(usize, String, &'static str)> = Vec::new();
        for (index, message) in batch.iter().enumerate() {
            match decode::<H::Event>(message) {
                Ok(envelope) => {
                    envelopes.push(envelope);
                    envelope_sources.push(index);
                }
                Err(reason) => dead_letters.push((index, reason, "decode")),
            }
        }

        let mut attempt: u32 = 0;
        let outcome = loop {
            if envelopes.is_empty() {
                break BatchOutcome::default();
            }
            match handler.handle(&envelopes).await {
                Ok(outcome) => break outcome,
                Err(error) => {
                    attempt += 1;
                    if let Some(metrics) = &self.metrics {
                        metrics.handler_retries.get_or_create(&KafkaMetrics::topic(&self.settings.topic)).inc();
                    }
                    tracing::warn!(topic = %self.settings.topic, attempt, %error, "batch failed, will retry");
                    if !self.backoff(attempt, stop).await {
                        tracing::warn!(topic = %self.settings.topic, "shutdown while retrying, batch left uncommitted");
                        return BatchResult::Interrupted;
                    }
                }
            }
        };
        for rejection in outcome.rejected {
            match envelope_sources.get(rejection.index) {
                Some(&source_index) => dead_letters.push((source_index, rejection.reason, "rejected")),
                None => tracing::error!(index = rejection.index, "handler rejected an index outside the batch"),
            }
        }

        for (source_index, reason, kind) in &dead_letters {
            let message = &batch[*source_index];
            let mut attempt: u32 = 0;
            while let Err(error) = self.send_to_deadletter(message, reason).await {
                attempt += 1;
                tracing::warn!(%error, attempt, "dead-letter produce failed, will retry");
                if !self.backoff(attempt, stop).await {
                    return BatchResult::Interrupted;
                }
            }
            tracing::warn!(
                topic = %self.settings.topic,
                partition = message.partition(),
                offset = message.offset(),
                reason = %reason,
                "message dead-lettered"
            );
            if let Some(metrics) = &self.metrics {
                let labels = DeadLetterLabels { topic: self.settings.topic.clone(), reason: kind.to_string() };
                metrics.dead_lettered.get_or_create(&labels).inc();
            }
        }

        self.store_offsets(&batch);
        if let Some(metrics) = &self.metrics {
            metrics.processed.get_or_create(&KafkaMetrics::topic(&self.settings.topic)).inc_by(batch.len() as u64);
            metrics.batch_size.observe(batch.len() as f64);
            metrics.batch_seconds.observe(started.elapsed().as_secs_f64());
        }
        BatchResult::Stored { processed: batch.len() as u64, dead_lettered: dead_letters.len() as u64 }
    }

    /// Sleeps the capped exponential backoff of `attempt`; false when shutdown came first.
    async fn backoff(&self, attempt: u32, stop: &CancellationToken) -> bool {
        let exponent = attempt.min(16);
        let delay = Duration::from_millis(100u64.saturating_mul(1 << exponent)).min(self.settings.max_retry_backoff);
        tokio::select! {
            _ = stop.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }

    async fn send_to_deadletter(
        &self,
        message: &OwnedMessage,
        reason: &str,
    ) -> Result<(), super::producer::ProduceError> {
        let mut dlq_headers = OwnedHeaders::new();
        if let Some(original) = message.headers() {
            for header in original.iter() {
                dlq_headers = dlq_headers.insert(Header { key: header.key, value: header.value });
            }
        }
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        for (key, value) in [
            (headers::DLQ_ERROR, reason),
            (headers::DLQ_SOURCE_TOPIC, message.topic()),
            (headers::DLQ_SOURCE_PARTITION, partition.as_str()),
            (headers::DLQ_SOURCE_OFFSET, offset.as_str()),
            (headers::DLQ_CONSUMER_GROUP, self.settings.group_id.as_str()),
        ] {
            dlq_headers = dlq_headers.insert(Header { key, value: Some(value.as_bytes()) });
        }
        let key = message.key().map(String::from_utf8_lossy).unwrap_or_default();
        let payload = message.payload().unwrap_or_default();
        self.deadletter.send_raw(&self.settings.deadletter_topic, &key, payload, dlq_headers).await
    }

    fn store_offsets(&self, batch: &[OwnedMessage]) {
        let mut next_offsets: BTreeMap<i32, i64> = BTreeMap::new();
        for message in batch {
            let next = message.offset() + 1;
            next_offsets.entry(message.partition()).and_modify(|o| *o = (*o).max(next)).or_insert(next);
        }
        let mut list = TopicPartitionList::new();
        for (partition, next_offset) in next_offsets {
            if let Err(error) = list.add_partition_offset(&self.settings.topic, partition, Offset::Offset(next_offset))
            {
                tracing::error!(%error, partition, "cannot build offset list");
            }
        }
        // Fails only for partitions revoked meanwhile; their new owner re-reads them.
        if let Err(error) = self.consumer.store_offsets(&list) {
            tracing::warn!(topic = %self.settings.topic, %error, "cannot store offsets (partition revoked?)");
        }
    }

    fn commit_stored(&self) {
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => tracing::info!(topic = %self.settings.topic, "offsets committed"),
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => tracing::warn!(topic = %self.settings.topic, %error, "final offset commit failed"),
        }
    }

    fn spawn_lag_reporter(&self, stop: CancellationToken) -> Option<tokio::task::JoinHandle<()>> {
        let metrics = self.metrics.clone()?;
        let consumer = Arc::clone(&self.consumer);
        let topic = self.settings.topic.clone();
        Some(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(10));
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = ticker.tick() => {}
                }
                let consumer = Arc::clone(&consumer);
                let lag = tokio::task::spawn_blocking(move || consumer_lag(&consumer)).await.ok().flatten();
                if let Some(lag) = lag {
                    metrics.consumer_lag.get_or_create(&KafkaMetrics::topic(&topic)).set(lag);
                }
            }
        }))
    }
}

/// Messages between the consumer's position and the high watermark, over assigned partitions.
fn consumer_lag(consumer: &StreamConsumer) -> Option<i64> {
    let positions = consumer.position().ok()?;
    let mut lag = 0i64;
    for element in positions.elements() {
        let (_, high) = consumer.fetch_watermarks(element.topic(), element.partition(), Duration::from_secs(2)).ok()?;
        if let Offset::Offset(position) = element.offset() {
            lag += (high - position).max(0);
        }
    }
    Some(lag)
}

fn decode<E: prost::Message + Default>(message: &OwnedMessage) -> Result<Envelope<E>, String> {
    let payload = message.payload().ok_or_else(|| "message has no payload".to_string())?;
    let event = E::decode(payload).map_err(|error| format!("undecodable protobuf payload: {error}"))?;
    let trace_headers = message
        .headers()
        .map(|record_headers| {
            record_headers
                .iter()
                .filter(|header| header.key == headers::TRACEPARENT || header.key == headers::TRACESTATE)
                .filter_map(|header| {
                    let value = std::str::from_utf8(header.value?).ok()?;
                    Some((header.key.to_string(), value.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Envelope {
        event,
        key: message.key().and_then(|key| std::str::from_utf8(key).ok()).map(str::to_string),
        partition: message.partition(),
        offset: message.offset(),
        timestamp_ms: message.timestamp().to_millis(),
        trace_headers,
    })
}
