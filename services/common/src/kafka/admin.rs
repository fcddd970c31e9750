//! Start-up checks and topic management.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

/// Why Kafka could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KafkaSetupError {
    /// No broker answered a metadata request in time.
    #[error(
        "cannot reach Kafka brokers at {brokers}: {reason} \
         (is the broker running? start it with `scripts/stack up` or set KAFKA_BROKERS)"
    )]
    Unreachable {
        /// Bootstrap servers tried.
        brokers: String,
        /// librdkafka's error.
        reason: String,
    },
    /// A topic could not be created.
    #[error("cannot create topic {topic}: {reason}")]
    TopicCreation {
        /// The topic.
        topic: String,
        /// The broker's answer.
        reason: String,
    },
}

/// Checks that the cluster answers a metadata request within `timeout`; returns broker count.
pub async fn check_brokers(config: &ClientConfig, timeout: Duration) -> Result<usize, KafkaSetupError> {
    let brokers = config.get("bootstrap.servers").unwrap_or_default().to_string();
    let config = config.clone();
    let unreachable = |reason: String| KafkaSetupError::Unreachable { brokers: brokers.clone(), reason };
    let outcome = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config.create().map_err(|error| error.to_string())?;
        let metadata = consumer.fetch_metadata(None, timeout).map_err(|error| error.to_string())?;
        Ok::<usize, String>(metadata.brokers().len())
    })
    .await
    .map_err(|error| unreachable(error.to_string()))?;
    let count = outcome.map_err(unreachable)?;
    tracing::info!(brokers = count, "kafka reachable");
    Ok(count)
}

/// Partition ids of `topic` (empty when the topic does not exist yet).
pub async fn topic_partitions(
    config: &ClientConfig,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<i32>, KafkaSetupError> {
    let brokers = config.get("bootstrap.servers").unwrap_or_default().to_string();
    let config = config.clone();
    let topic = topic.to_string();
    let unreachable = |reason: String| KafkaSetupError::Unreachable { brokers: brokers.clone(), reason };
    let outcome = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config.create().map_err(|error| error.to_string())?;
        let metadata = consumer.fetch_metadata(Some(&topic), timeout).map_err(|error| error.to_string())?;
        Ok::<Vec<i32>, String>(
            metadata
                .topics()
                .iter()
                .flat_map(|topic| topic.partitions().iter().map(|partition| partition.id()))
                .collect(),
        )
    })
    .await
    .map_err(|error| unreachable(error.to_string()))?;
    outcome.map_err(unreachable)
}

/// Creates the topics that do not exist yet (existing ones are left as they are).
pub async fn ensure_topics(
    config: &ClientConfig,
    topics: &[&str],
    partitions: i32,
    replication: i32,
) -> Result<(), KafkaSetupError> {
    let admin: AdminClient<DefaultClientContext> = config
        .create()
        .map_err(|error| KafkaSetupError::TopicCreation { topic: topics.join(","), reason: error.to_string() })?;
    let new_topics: Vec<NewTopic> =
        topics.iter().map(|topic| NewTopic::new(topic, partitions, TopicReplication::Fixed(replication))).collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .map_err(|error| KafkaSetupError::TopicCreation { topic: topics.join(","), reason: error.to_string() })?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(topic, "topic created"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(KafkaSetupError::TopicCreation { topic, reason: code.to_string() }),
        }
    }
    Ok(())
}
