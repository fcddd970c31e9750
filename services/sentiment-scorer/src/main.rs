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
    if let Some(command) = &config.command {
        return run_command(&config, command).await;
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

/// The one-shot commands; heavy work runs off the async runtime.
async fn run_command(config: &Config, command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Eval { data, model, language, split } => {
            let report = evaluate(config, data, model, language.as_deref(), *split).await?;
            println!(
                "model         {model}\nfile          {}\nsplit         {}\n{report}",
                data.display(),
                split.as_str()
            );
            Ok(())
        }
        #[cfg(feature = "transformer")]
        Command::TrainHead { data, out, embedding_only, iterations } => {
            let settings = transformer_settings(config)?;
            let options = sentiment_scorer::transformer::train::TrainOptions {
                data: data.clone(),
                out: out.clone(),
                lexicon_features: !embedding_only,
                iterations: *iterations,
            };
            let report = tokio::task::spawn_blocking(move || {
                sentiment_scorer::transformer::train::train_head(&settings, &options)
            })
            .await??;
            print!("{report}");
            Ok(())
        }
        #[cfg(feature = "transformer")]
        Command::ConvertWeights { input, output, prefix } => {
            let written = sentiment_scorer::transformer::encoder::convert_safetensors(input, output, prefix)?;
            println!("wrote {written} tensors to {}", output.display());
            Ok(())
        }
    }
}

#[cfg(not(feature = "transformer"))]
async fn evaluate(
    _config: &Config,
    data: &std::path::Path,
    model: &str,
    language: Option<&str>,
    split: sentiment_scorer::eval::Split,
) -> anyhow::Result<murmur_lexicon::eval::EvalReport> {
    sentiment_scorer::eval::run(data, model, language, split)
}

#[cfg(feature = "transformer")]
async fn evaluate(
    config: &Config,
    data: &std::path::Path,
    model: &str,
    language: Option<&str>,
    split: sentiment_scorer::eval::Split,
) -> anyhow::Result<murmur_lexicon::eval::EvalReport> {
    if model == "lexicon" {
        return sentiment_scorer::eval::run(data, model, language, split);
    }
    let settings = transformer_settings(config)?;
    let (data, model, language) = (data.to_path_buf(), model.to_string(), language.map(str::to_string));
    tokio::task::spawn_blocking(move || {
        sentiment_scorer::transformer::train::evaluate_file(&settings, &data, &model, language.as_deref(), split)
    })
    .await?
}

#[cfg(feature = "transformer")]
fn transformer_settings(config: &Config) -> anyhow::Result<sentiment_scorer::transformer::TransformerSettings> {
    config.transformer.settings().ok_or_else(|| {
        anyhow::anyhow!("set MURMUR_TRANSFORMER_MODEL_DIR (or --transformer-model-dir); scripts/torch-env prepares one")
    })
}
