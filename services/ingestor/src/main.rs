//! ingestor binary: config → telemetry → build → run until stopped.

use std::process::ExitCode;

use clap::Parser;
use ingestor::{Application, Config, SERVICE_NAME};
use murmur_common::{telemetry, Shutdown};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    murmur_common::runtime::exit_code(run(config).await)
}

async fn run(config: Config) -> anyhow::Result<()> {
    let telemetry_guard = telemetry::init(SERVICE_NAME, &config.telemetry)?;
    let shutdown = Shutdown::with_signals(config.server.grace_period);
    let outcome = async { Application::build(config, shutdown).await?.run_until_stopped().await }.await;
    if let Err(error) = &outcome {
        tracing::error!(error = format!("{error:#}"), "ingestor failed");
    }
    telemetry_guard.shutdown();
    outcome
}
