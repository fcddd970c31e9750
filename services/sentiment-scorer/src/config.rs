//! The scorer's settings: every flag has an environment variable and appears in `--help`.

use murmur_common::config::{ConsumerArgs, KafkaArgs, ServerArgs, TelemetryArgs};

/// sentiment-scorer: language identification and sentiment for every murmur post.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "sentiment-scorer", version, about, long_about = None)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}
