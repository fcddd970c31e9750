//! The ingestor's settings: every flag has an environment variable and appears in `--help`.

use murmur_common::config::{DatabaseArgs, KafkaArgs, ServerArgs, TelemetryArgs};

/// ingestor: scans subreddits, Telegram channels and hashtags and publishes every post as a murmur event.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "ingestor", version, about, long_about = None)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}
