//! The scorer's settings: every flag has an environment variable and appears in `--help`.

use std::path::PathBuf;

use murmur_common::config::{ConsumerArgs, KafkaArgs, ServerArgs, TelemetryArgs};
use murmur_proto::topics;

/// sentiment-scorer: language identification and sentiment for every murmur post.
///
/// Without a subcommand it runs the service: consumes raw posts, publishes scored posts and
/// serves SentimentService. `eval` scores a labelled TSV and prints the metrics.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "sentiment-scorer", version, about, long_about)]
pub struct Config {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Topic of raw posts to score.
    #[arg(long, env = "MURMUR_INPUT_TOPIC", default_value = topics::POSTS_RAW)]
    pub input_topic: String,
    /// Topic the scored posts are published to.
    #[arg(long, env = "MURMUR_OUTPUT_TOPIC", default_value = topics::POSTS_SCORED)]
    pub output_topic: String,
    /// Topic for messages that cannot be decoded or scored.
    #[arg(long, env = "MURMUR_DEADLETTER_TOPIC", default_value = topics::DEADLETTER)]
    pub deadletter_topic: String,
    /// Bytes of a text the scorer looks at; longer texts are scored on their beginning.
    #[arg(long, env = "MURMUR_MAX_TEXT_BYTES", default_value_t = 64 * 1024)]
    pub max_text_bytes: usize,
    /// Maximum texts in one SentimentService.Score request.
    #[arg(long, env = "MURMUR_MAX_SCORE_INPUTS", default_value_t = 1_000)]
    pub max_score_inputs: usize,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// One-shot commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Scores a labelled TSV (`label<TAB>text`, labels negative/neutral/positive) and prints
    /// macro-recall, macro-F1, accuracy and the confusion matrix.
    Eval {
        /// The labelled TSV file.
        #[arg(long)]
        data: PathBuf,
        /// Model to evaluate: `lexicon` (the transformer model needs the `transformer` build).
        #[arg(long, default_value = "lexicon")]
        model: String,
        /// Language of the file (`en`, `fr`); detected per text when omitted.
        #[arg(long)]
        language: Option<String>,
    },
}
