//! The transformer scorer (cargo feature `transformer`): rust-bert models over libtorch, on the
//! CPU, loaded from local directories only (no model hub at run time).
//!
//! - [`encoder`]: sentence embeddings (sentence-transformers all-MiniLM-L6-v2 in CI), and the
//!   safetensors → `rust_model.ot` conversion `scripts/torch-env` runs once;
//! - [`head`]: the softmax head over embedding + lexicon features, the sentiment classifier when
//!   no fine-tuned model exists; [`train`] trains it (`sentiment-scorer train-head`) and
//!   evaluates it (`sentiment-scorer eval --model transformer`);
//! - [`classifier`]: a fine-tuned BERT / DistilBERT / RoBERTa / XLM-R sequence classifier, used
//!   instead of the head when configured;
//! - [`batcher`]: dynamic batching (up to N texts or T ms, bounded queue, blocking thread);
//! - [`policy`]: which posts the transformer scores (`ambiguous`, `all`, `off`);
//! - [`scorer`]: [`TransformerScorer`], the component the pipeline and the gRPC API call.
//!
//! Build and run with `eval "$(scripts/torch-env)"`, which prepares libtorch and the model.

pub mod batcher;
pub mod classifier;
pub mod encoder;
pub mod head;
pub mod policy;
pub mod scorer;
pub mod train;

use std::path::PathBuf;
use std::time::Duration;

pub use batcher::{BatchModel, Batcher, BatcherSettings};
pub use policy::{RoutingPolicy, TransformerPolicy};
pub use scorer::{RefineRequest, Refined, SentimentRoute, TransformerScorer};

/// What can go wrong in the transformer path. Cloneable: one batch failure answers every
/// request of the batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransformerError {
    /// A model could not be loaded (missing files, bad config, libtorch error).
    #[error("cannot load transformer model: {0}")]
    Load(String),
    /// The softmax head file is missing, malformed or does not fit the encoder.
    #[error("softmax head: {0}")]
    Head(String),
    /// Running the model failed.
    #[error("transformer failed: {0}")]
    Model(String),
    /// The batcher is gone (the service is stopping).
    #[error("the transformer batcher has stopped")]
    Stopped,
}

/// Runs model code that may panic (rust-bert panics on some malformed configs and inputs) and
/// turns a panic into an error.
pub(crate) fn catch_model_panic<T>(work: impl FnOnce() -> T) -> Result<T, TransformerError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|panic| {
        let reason = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|reason| (*reason).to_string()))
            .unwrap_or_else(|| "unknown panic".to_string());
        TransformerError::Model(format!("model code panicked: {reason}"))
    })
}

/// The transformer's settings (flattened into the service's [`crate::Config`]).
#[derive(Debug, Clone, clap::Args)]
pub struct TransformerArgs {
    /// Sentence-transformers model directory (config.json, tokenizer files, rust_model.ot), e.g.
    /// the one `scripts/torch-env` prepares. Unset or empty: no transformer is loaded and the
    /// lexicon scores everything.
    #[arg(long, env = "MURMUR_TRANSFORMER_MODEL_DIR", value_parser = path_or_empty)]
    pub transformer_model_dir: Option<PathBuf>,
    /// Softmax head (JSON written by `sentiment-scorer train-head`) that classifies sentiment
    /// from the embeddings. Without it (and without a classifier) the transformer only computes
    /// embeddings.
    #[arg(long, env = "MURMUR_TRANSFORMER_HEAD", value_parser = path_or_empty)]
    pub transformer_head: Option<PathBuf>,
    /// Directory of a fine-tuned sequence-classification model (BERT, DistilBERT, RoBERTa or
    /// XLM-R: config.json with id2label, rust_model.ot, tokenizer files); when set it scores
    /// the sentiment instead of the head.
    #[arg(long, env = "MURMUR_TRANSFORMER_CLASSIFIER_DIR", value_parser = path_or_empty)]
    pub transformer_classifier_dir: Option<PathBuf>,
    /// Which posts the transformer scores: `ambiguous` (those the lexicon cannot decide), `all`,
    /// or `off`.
    #[arg(long, env = "MURMUR_TRANSFORMER_POLICY", value_enum, default_value = "ambiguous")]
    pub transformer_policy: TransformerPolicy,
    /// Under the `ambiguous` policy, posts whose lexicon |compound| is below this go to the
    /// transformer.
    #[arg(long, env = "MURMUR_TRANSFORMER_AMBIGUOUS_COMPOUND", default_value_t = 0.5)]
    pub transformer_ambiguous_compound: f64,
    /// Under the `ambiguous` policy, posts whose lexicon confidence is below this go to the
    /// transformer too.
    #[arg(long, env = "MURMUR_TRANSFORMER_AMBIGUOUS_CONFIDENCE", default_value_t = 0.3)]
    pub transformer_ambiguous_confidence: f64,
    /// Most texts in one transformer batch. On a small CPU larger batches do not raise texts/s
    /// (each batch is padded to its longest text; see `benches/transformer.rs`): 8 keeps the
    /// per-call overhead down without much padding. Raise it on a GPU.
    #[arg(long, env = "MURMUR_TRANSFORMER_MAX_BATCH", default_value_t = 8)]
    pub transformer_max_batch: usize,
    /// Longest a text waits (milliseconds) for others to share its batch.
    #[arg(long, env = "MURMUR_TRANSFORMER_MAX_WAIT_MS", default_value_t = 10)]
    pub transformer_max_wait_ms: u64,
    /// Texts that may wait for the transformer; when full, scoring waits (back-pressure).
    #[arg(long, env = "MURMUR_TRANSFORMER_QUEUE", default_value_t = 1024)]
    pub transformer_queue: usize,
    /// libtorch intra-op threads; 0 keeps libtorch's default (one per core).
    #[arg(long, env = "MURMUR_TRANSFORMER_THREADS", default_value_t = 0)]
    pub transformer_threads: usize,
    /// Publish each scored post's sentence embedding (for themes downstream); every post then
    /// goes through the encoder, whatever the policy.
    #[arg(long, env = "MURMUR_PUBLISH_EMBEDDINGS", default_value_t = false, action = clap::ArgAction::Set)]
    pub publish_embeddings: bool,
}

/// Validated transformer settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformerSettings {
    pub model_dir: PathBuf,
    pub head: Option<PathBuf>,
    pub classifier_dir: Option<PathBuf>,
    pub routing: RoutingPolicy,
    pub batcher: BatcherSettings,
    pub threads: usize,
    pub publish_embeddings: bool,
}

/// Accepts an empty value (`--transformer-model-dir=`), which means "not configured" and so can
/// switch off a path an environment variable sets.
fn path_or_empty(value: &str) -> Result<PathBuf, std::convert::Infallible> {
    Ok(PathBuf::from(value))
}

fn non_empty(path: &Option<PathBuf>) -> Option<PathBuf> {
    path.clone().filter(|path| !path.as_os_str().is_empty())
}

impl TransformerArgs {
    /// The settings, or `None` when no model directory is configured.
    pub fn settings(&self) -> Option<TransformerSettings> {
        let model_dir = non_empty(&self.transformer_model_dir)?;
        Some(TransformerSettings {
            model_dir,
            head: non_empty(&self.transformer_head),
            classifier_dir: non_empty(&self.transformer_classifier_dir),
            routing: RoutingPolicy {
                policy: self.transformer_policy,
                ambiguous_below_compound: self.transformer_ambiguous_compound,
                ambiguous_below_confidence: self.transformer_ambiguous_confidence,
            },
            batcher: BatcherSettings {
                max_batch: self.transformer_max_batch.max(1),
                max_wait: Duration::from_millis(self.transformer_max_wait_ms),
                queue_capacity: self.transformer_queue.max(1),
            },
            threads: self.transformer_threads,
            publish_embeddings: self.publish_embeddings,
        })
    }
}
