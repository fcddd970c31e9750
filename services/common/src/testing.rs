//! Test helpers for the real broker: settings from `KAFKA_BROKERS`, fresh topics, producing and
//! reading raw records, polling waits. Enabled by the `testing` feature; never used at run time.

use std::time::Duration;

use crate::config::KafkaArgs;
use crate::kafka::admin::ensure_topics;
use crate::kafka::client_config;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::ClientConfig;

/// Broker settings from `KAFKA_BROKERS` (default the local stack's).
pub fn kafka_args() -> KafkaArgs {
    KafkaArgs {
        kafka_brokers: std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into()),
        kafka_compression: "lz4".into(),
        kafka_linger_ms: 5,
        kafka_batch_bytes: 1_000_000,
        kafka_delivery_timeout_ms: 30_000,
        kafka_options: Vec::new(),
    }
}

/// A fresh topic name, created with `partitions` partitions.
pub async fn fresh_topic(prefix: &str, partitions: i32) -> String {
    let topic = format!("test.{prefix}.{}", uuid::Uuid::new_v4().simple());
    ensure_topics(&client_config(&kafka_args()), &[topic.as_str()], partitions, 1)
        .await
        .unwrap_or_else(|error| panic!("cannot create {topic} (is `scripts/stack up` running?): {error}"));
    topic
}

/// Produces raw payloads, keyed, and waits for each acknowledgement.
pub async fn produce_raw(topic: &str, records: &[(String, Vec<u8>)]) {
    let producer: FutureProducer = client_config(&kafka_args()).create().expect("producer");
    for (key, payload) in records {
        producer
            .send(FutureRecord::to(topic).key(key).payload(payload), Timeout::After(Duration::from_secs(10)))
            .await
            .unwrap_or_else(|(error, _)| panic!("produce to {topic} failed: {error}"));
    }
}

/// One record read back by [`read_all`].
#[derive(Debug)]
pub struct ReadRecord {
    /// Message key.
    pub key: Option<String>,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Headers, values decoded lossily.
    pub headers: Vec<(String, String)>,
}

/// Reads `expected` records from `topic` from the beginning with a throw-away group, within
/// `timeout`; returns what it got (possibly fewer).
pub fn read_all(topic: &str, expected: usize, timeout: Duration) -> Vec<ReadRecord> {
    let mut config: ClientConfig = client_config(&kafka_args());
    config
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4().simple()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    let consumer: BaseConsumer = config.create().expect("reader");
    consumer.subscribe(&[topic]).expect("subscribe");
    let deadline = std::time::Instant::now() + timeout;
    let mut records = Vec::new();
    while records.len() < expected && std::time::Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            let headers = message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|header| {
                            (header.key.to_string(), String::from_utf8_lossy(header.value.unwrap_or_default()).into())
                        })
                        .collect()
                })
                .unwrap_or_default();
            records.push(ReadRecord {
                key: message.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                payload: message.payload().unwrap_or_default().to_vec(),
                headers,
            });
        }
    }
    records
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
pub async fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition()
}

/// A new, empty database named `{prefix}_{uuid}` on the local Postgres (`MURMUR_TEST_POSTGRES`,
/// default `postgres://postgres@127.0.0.1:5432`); returns its URL.
pub async fn fresh_database(prefix: &str) -> String {
    use sqlx::Connection;
    let server =
        std::env::var("MURMUR_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string());
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("postgres reachable (run scripts/stack up)");
    sqlx::query(&format!("create database {name}")).execute(&mut admin).await.expect("create database");
    format!("{server}/{name}")
}
