//! metrics-aggregator binary: config → telemetry → build → run until stopped.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use metrics_aggregator::config::Command;
use metrics_aggregator::{Application, Config, SERVICE_NAME};
use murmur_common::{db, telemetry, Shutdown};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    murmur_common::runtime::exit_code(run(config).await)
}

async fn run(config: Config) -> anyhow::Result<()> {
    let telemetry_guard = telemetry::init(SERVICE_NAME, &config.telemetry)?;
    let outcome = match config.command {
        Some(Command::Migrate) => {
            async {
                let pool = db::connect(&config.database, Duration::from_secs(10)).await?;
                metrics_aggregator::migrate(&pool).await?;
                tracing::info!("migrations applied");
                Ok(())
            }
            .await
        }
        None => {
            let shutdown = Shutdown::with_signals(config.server.grace_period);
            async { Application::build(config, shutdown).await?.run_until_stopped().await }.await
        }
    };
    if let Err(error) = &outcome {
        tracing::error!(error = format!("{error:#}"), "metrics-aggregator failed");
    }
    telemetry_guard.shutdown();
    outcome
}
