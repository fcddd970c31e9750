//! The scorer's settings: every flag has an environment variable and appears in `--help`.

use std::path::PathBuf;

use murmur_common::config::{ConsumerArgs, KafkaArgs, ServerArgs, TelemetryArgs};
use murmur_proto::topics;

use crate::eval::Split;

/// sentiment-scorer: language identification and sentiment for every murmur post.
///
/// Without a subcommand it runs the service: consumes raw posts, publishes scored posts and
/// serves SentimentService. `eval` scores a labelled TSV and prints the metrics; the
/// `transformer` build adds `train-head` and `convert-weights`.
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
    #[cfg(feature = "transformer")]
    #[command(flatten)]
    pub transformer: crate::transformer::TransformerArgs,
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
        /// Model to evaluate: `lexicon`; with the `transformer` build also `transformer` (its
        /// sentiment on every row) and `hybrid` (the transformer only where the routing policy
        /// sends a row, as the service does).
        #[arg(long, default_value = "lexicon")]
        model: String,
        /// Language of the file (`en`, `fr`); detected per text when omitted.
        #[arg(long)]
        language: Option<String>,
        /// Rows to score: `all`, or the fixed `train` / `held-out` split the transformer's head
        /// is trained / judged on.
        #[arg(long, value_enum, default_value = "all")]
        split: Split,
    },
    /// Trains the transformer's softmax head on labelled TSVs (the `held-out` split is never
    /// trained on) with the sentence encoder of MURMUR_TRANSFORMER_MODEL_DIR, writes it as JSON
    /// and prints held-out accuracy, macro-recall and macro-F1 per file.
    #[cfg(feature = "transformer")]
    TrainHead {
        /// Labelled TSV (repeat for several languages; each is reported on its own).
        #[arg(long, required = true)]
        data: Vec<PathBuf>,
        /// Where the head is written.
        #[arg(long)]
        out: PathBuf,
        /// Use the embedding only, without the lexicon's scores as extra features.
        #[arg(long)]
        embedding_only: bool,
        /// Optimiser steps per fit.
        #[arg(long, default_value_t = 300)]
        iterations: usize,
    },
    /// Converts a model's `model.safetensors` into the `rust_model.ot` file rust-bert loads
    /// (tensor names unchanged unless a prefix is given).
    #[cfg(feature = "transformer")]
    ConvertWeights {
        /// The safetensors file.
        #[arg(long)]
        input: PathBuf,
        /// The libtorch file to write.
        #[arg(long)]
        output: PathBuf,
        /// Prefix added to every tensor name (e.g. `bert.`).
        #[arg(long, default_value = "")]
        prefix: String,
    },
}
