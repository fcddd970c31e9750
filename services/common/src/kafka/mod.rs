//! Kafka helpers over rdkafka (bundled librdkafka).
//!
//! - [`producer::EventProducer`]: idempotent, acks=all, batching and compression from settings,
//!   protobuf payloads with message-type, schema-version and trace-context headers;
//! - [`consumer::BatchConsumer`]: at-least-once batches. Offsets are *stored* only after the
//!   handler reported the batch durable (`enable.auto.offset.store=false`), then committed by
//!   librdkafka's periodic commit and synchronously on shutdown. Undecodable or rejected
//!   messages go to `murmur.deadletter.v1` (acknowledged before their offset is stored) with the
//!   error in headers, and the consumer continues;
//! - [`admin`]: start-up reachability checks and topic creation.

pub mod admin;
pub mod consumer;
pub mod producer;

use rdkafka::ClientConfig;

use crate::config::KafkaArgs;

/// A base client configuration from the shared settings (brokers and pass-through options).
pub fn client_config(args: &KafkaArgs) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &args.kafka_brokers);
    for (key, value) in &args.kafka_options {
        config.set(key, value);
    }
    config
}
