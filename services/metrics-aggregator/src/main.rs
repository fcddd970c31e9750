//! metrics-aggregator binary: config → telemetry → build → run until stopped.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use metrics_aggregator::config::Command;
use metrics_aggregator::{Application, Config, SERVICE_NAME};
use murmur_common::{db, telemetry, Shutdown};

/// mimalloc instead of glibc's malloc: the service allocates and frees many small strings per post
/// (decoded protobuf fields, SQL column arrays, terms), often freed on another thread than the one
/// that allocated them. perf put glibc's malloc/free (with `malloc_consolidate`) at about a third of
/// the stage bench's CPU; with mimalloc the aggregator's own CPU per post fell by about a quarter.
/// Built with `no_thp`: mimalloc otherwise asks for transparent huge pages, and the kernel then zeroes
/// 2 MiB pages on every fault after a purge (a third of the process's samples, in `clear_page_erms`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
