//! An idempotent protobuf event producer.

use std::time::Duration;

use futures::future::join_all;
use murmur_proto::{headers, MessageName};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

use crate::config::KafkaArgs;
use crate::metrics::KafkaMetrics;
use crate::telemetry;

/// A produce that was not acknowledged.
#[derive(Debug, thiserror::Error)]
#[error("producing to {topic} failed: {reason}")]
pub struct ProduceError {
    /// Target topic.
    pub topic: String,
    /// librdkafka's error.
    pub reason: String,
}

/// One message to produce: a key and an already-encoded payload with extra headers.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// Partitioning key (`platform:channel` for posts, the subject for alerts).
    pub key: String,
    /// Encoded protobuf.
    pub payload: Vec<u8>,
    /// Extra headers (trace context is added automatically from the current span when absent).
    pub headers: Vec<(String, String)>,
}

/// A Kafka producer for murmur events. Cheap to clone.
#[derive(Clone)]
pub struct EventProducer {
    producer: FutureProducer,
    delivery_timeout: Duration,
    metrics: Option<KafkaMetrics>,
}

impl EventProducer {
    /// An idempotent producer (acks=all, in-order retries) with batching and compression
    /// from `args`.
    pub fn new(args: &KafkaArgs, metrics: Option<KafkaMetrics>) -> Result<Self, ProduceError> {
        let mut config = super::client_config(args);
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", &args.kafka_compression)
            .set("linger.ms", args.kafka_linger_ms.to_string())
            .set("batch.size", args.kafka_batch_bytes.to_string())
            .set("message.timeout.ms", args.kafka_delivery_timeout_ms.to_string());
        let producer: FutureProducer = config.create().map_err(|error| ProduceError {
            topic: "(none)".into(),
            reason: format!("cannot create producer: {error}"),
        })?;
        Ok(Self { producer, delivery_timeout: Duration::from_millis(args.kafka_delivery_timeout_ms.into()), metrics })
    }

    /// Encodes `event` and produces it with the standard headers; resolves once acknowledged.
    pub async fn send_event<E: prost::Message + MessageName>(
        &self,
        topic: &str,
        key: &str,
        event: &E,
    ) -> Result<(), ProduceError> {
        let message = OutgoingMessage { key: key.to_string(), payload: event.encode_to_vec(), headers: Vec::new() };
        self.send_encoded::<E>(topic, message).await
    }

    /// Produces an already-encoded event of type `E`; resolves once acknowledged.
    pub async fn send_encoded<E: MessageName>(
        &self,
        topic: &str,
        message: OutgoingMessage,
    ) -> Result<(), ProduceError> {
        let record_headers = event_headers(E::FULL_NAME, &message.headers);
        self.send_raw(topic, &message.key, &message.payload, record_headers).await
    }

    /// Produces many encoded events of type `E` concurrently (librdkafka batches them) and
    /// resolves once every one is acknowledged; the first error is returned.
    pub async fn send_all<E: MessageName>(
        &self,
        topic: &str,
        messages: Vec<OutgoingMessage>,
    ) -> Result<(), ProduceError> {
        let sends = messages.into_iter().map(|message| self.send_encoded::<E>(topic, message));
        join_all(sends).await.into_iter().collect()
    }

    /// Produces bytes with the given headers; resolves once acknowledged.
    pub async fn send_raw(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        headers: OwnedHeaders,
    ) -> Result<(), ProduceError> {
        let record = FutureRecord::to(topic).key(key).payload(payload).headers(headers);
        let outcome = self.producer.send(record, Timeout::After(self.delivery_timeout)).await;
        let labels = KafkaMetrics::topic(topic);
        match outcome {
            Ok(_) => {
                if let Some(metrics) = &self.metrics {
                    metrics.produced.get_or_create(&labels).inc();
                }
                Ok(())
            }
            Err((error, _)) => {
                if let Some(metrics) = &self.metrics {
                    metrics.produce_errors.get_or_create(&labels).inc();
                }
                Err(ProduceError { topic: topic.to_string(), reason: error.to_string() })
            }
        }
    }

    /// Waits until queued messages are delivered or `timeout` passes (used at shutdown).
    pub fn flush(&self, timeout: Duration) {
        use rdkafka::producer::Producer;
        if let Err(error) = self.producer.flush(Timeout::After(timeout)) {
            tracing::warn!(%error, "producer flush did not complete");
        }
    }
}

/// The standard murmur headers: message type, schema version, trace context (from `extra` when
/// present, else from the current span), then `extra`.
pub fn event_headers(message_type: &str, extra: &[(String, String)]) -> OwnedHeaders {
    let mut record_headers = OwnedHeaders::new()
        .insert(Header { key: headers::MESSAGE_TYPE, value: Some(message_type.as_bytes()) })
        .insert(Header { key: headers::SCHEMA_VERSION, value: Some(b"v1".as_slice()) });
    let carries_trace = extra.iter().any(|(key, _)| key == headers::TRACEPARENT);
    if !carries_trace {
        record_headers = telemetry::inject_trace_context(record_headers);
    }
    for (key, value) in extra {
        record_headers = record_headers.insert(Header { key, value: Some(value.as_bytes()) });
    }
    record_headers
}
