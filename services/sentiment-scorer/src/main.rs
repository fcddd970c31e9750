//! sentiment-scorer binary: config → telemetry → build → run until stopped (or a one-shot
//! command such as `eval`).

use std::process::ExitCode;

use clap::Parser;
use murmur_common::{telemetry, Shutdown};
use sentiment_scorer::config::Command;
use sentiment_scorer::{Application, Config, SERVICE_NAME};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    murmur_common::runtime::exit_code(run(config).await)
}

async fn run(config: Config) -> anyhow::Result<()> {
    if let Some(Command::Eval { data, model, language }) = &config.command {
        let report = sentiment_scorer::eval::run(data, model, language.as_deref())?;
        println!("model         {model}\nfile          {}\n{report}", data.display());
        return Ok(());
    }
    let telemetry_guard = telemetry::init(SERVICE_NAME, &config.telemetry)?;
    let shutdown = Shutdown::with_signals(config.server.grace_period);
    let outcome = async { Application::build(config, shutdown).await?.run_until_stopped().await }.await;
    if let Err(error) = &outcome {
        tracing::error!(error = format!("{error:#}"), "sentiment-scorer failed");
    }
    telemetry_guard.shutdown();
    outcome
}
