//! Shared by the aggregator's service tests: its configuration against the local broker and
//! Postgres, on ephemeral ports.

use clap::Parser;
use metrics_aggregator::Config;

/// The aggregator reading `input`, publishing alerts to `alerts` and storing in `database_url`,
/// with `extra` flags appended.
pub fn aggregator_config(input: &str, alerts: &str, database_url: &str, extra: &[String]) -> Config {
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let mut args = vec![
        "metrics-aggregator".to_string(),
        "--grpc-addr=127.0.0.1:0".to_string(),
        "--admin-addr=127.0.0.1:0".to_string(),
        format!("--kafka-brokers={brokers}"),
        format!("--input-topic={input}"),
        format!("--alerts-topic={alerts}"),
        format!("--kafka-group-id=aggregator-{input}"),
        format!("--database-url={database_url}"),
    ];
    args.extend_from_slice(extra);
    Config::parse_from(args)
}
