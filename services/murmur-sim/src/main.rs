//! `murmur-sim`: generate a simulated stream with its ground truth, or serve one in the
//! platforms' formats.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use murmur_sim::generate::{generate, SimConfig};

/// murmur's stream simulator: seeded multi-platform traffic (Reddit threads, Telegram channels
/// with comments and forwards, Mastodon and Bluesky hashtag crowds) with planted emerging
/// micro-communities and planted weak signals in English and French, and their ground truth.
///
/// `generate` writes `<out>/stream.jsonl` (the ingestor's replay format: point
/// MURMUR_REPLAY_FILE at it) and `<out>/truth.json`. `serve` releases a stream over HTTP in the
/// platforms' own formats so the ingestor's real connectors read it.
#[derive(Debug, Parser)]
#[command(name = "murmur-sim", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Writes a stream and its ground truth.
    Generate(GenerateArgs),
    /// Serves a stream over HTTP in the platforms' formats until Ctrl-C.
    Serve(murmur_sim::serve::ServeArgs),
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    /// Directory receiving `stream.jsonl` and `truth.json` (created if missing).
    #[arg(long, env = "MURMUR_SIM_OUT", default_value = "sim")]
    out: PathBuf,
    /// Seed of every random draw: the same seed and settings give byte-identical files.
    #[arg(long, env = "MURMUR_SIM_SEED", default_value_t = 7)]
    seed: u64,
    /// Hours of event time to generate (communities appear from hour 3 to 9, signals from 16 to 20).
    #[arg(long, env = "MURMUR_SIM_HOURS", default_value_t = 36)]
    hours: u32,
    /// Multiplies every volume (crowds, communities, planted terms); 1 gives ~35k posts per 36 h.
    #[arg(long, env = "MURMUR_SIM_SCALE", default_value_t = 1.0)]
    scale: f64,
    /// Event time of the first post (RFC 3339).
    #[arg(long, env = "MURMUR_SIM_START", default_value = "2026-11-02T00:00:00Z")]
    start: String,
}

fn write_stream(args: &GenerateArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.hours > 0, "--hours must be at least 1");
    anyhow::ensure!(args.scale > 0.0 && args.scale.is_finite(), "--scale must be a positive number");
    let start = chrono::DateTime::parse_from_rfc3339(&args.start)
        .with_context(|| format!("--start {:?} is not an RFC 3339 time", args.start))?
        .to_utc();
    let config = SimConfig { seed: args.seed, start, hours: args.hours, scale: args.scale };
    let stream = generate(&config);
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let stream_path = args.out.join("stream.jsonl");
    let file = std::fs::File::create(&stream_path).with_context(|| format!("creating {}", stream_path.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    for record in &stream.records {
        serde_json::to_writer(&mut writer, record)?;
        writer.write_all(b"\n")?;
    }
    writer.flush().with_context(|| format!("writing {}", stream_path.display()))?;
    let truth_path = args.out.join("truth.json");
    std::fs::write(&truth_path, serde_json::to_vec_pretty(&stream.truth)?)
        .with_context(|| format!("writing {}", truth_path.display()))?;
    let planted: Vec<String> =
        stream.truth.planted().map(|community| format!("{} ({})", community.id, community.members.len())).collect();
    let signals: Vec<&str> = stream.truth.signals.iter().map(|signal| signal.term.as_str()).collect();
    eprintln!(
        "murmur-sim: {} posts over {} h written to {}; truth in {}\n  planted communities: {}\n  planted signals: {}",
        stream.records.len(),
        args.hours,
        stream_path.display(),
        truth_path.display(),
        planted.join(", "),
        signals.join(", ")
    );
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate(args) => write_stream(&args),
        Command::Serve(args) => murmur_sim::serve::run(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("murmur-sim: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
