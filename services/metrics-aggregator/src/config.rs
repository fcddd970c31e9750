//! The metrics-aggregator's settings: every flag has an environment variable and appears in `--help`.

use murmur_common::config::{ConsumerArgs, DatabaseArgs, KafkaArgs, ServerArgs, TelemetryArgs};

/// metrics-aggregator: interaction graph, micro-communities, KPIs, weak signals, alerts and the insights API.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "metrics-aggregator", version, about, long_about = None)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}
