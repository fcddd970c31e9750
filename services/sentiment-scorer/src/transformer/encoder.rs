//! Sentence embeddings with a sentence-transformers model (all-MiniLM-L6-v2 in CI) loaded from a
//! local directory by rust-bert, on the CPU. Also the one-off conversion of a model's
//! `model.safetensors` into the `rust_model.ot` file rust-bert loads.

use std::path::{Path, PathBuf};

use rust_bert::pipelines::sentence_embeddings::{SentenceEmbeddingsBuilder, SentenceEmbeddingsModel};
use tch::Device;

use super::{catch_model_panic, TransformerError};

/// Files rust-bert's `SentenceEmbeddingsBuilder::local` reads from a BERT-family model directory.
const REQUIRED_FILES: [&str; 6] =
    ["modules.json", "config.json", "rust_model.ot", "sentence_bert_config.json", "tokenizer_config.json", "vocab.txt"];

/// A loaded sentence encoder. Not `Sync` (libtorch tensors): one thread uses it at a time, which
/// is how the batcher drives it.
pub struct SentenceEncoder {
    model: SentenceEmbeddingsModel,
    name: String,
    dimension: usize,
}

impl SentenceEncoder {
    /// Loads the model in `model_dir` (a sentence-transformers layout with `rust_model.ot`).
    /// Never touches the network.
    pub fn load(model_dir: &Path) -> Result<Self, TransformerError> {
        let missing: Vec<&str> =
            REQUIRED_FILES.iter().copied().filter(|file| !model_dir.join(file).is_file()).collect();
        if !missing.is_empty() {
            return Err(TransformerError::Load(format!(
                "{} is not a sentence-transformers model directory: missing {} (scripts/torch-env prepares one)",
                model_dir.display(),
                missing.join(", ")
            )));
        }
        let builder = SentenceEmbeddingsBuilder::local(model_dir.to_path_buf()).with_device(Device::Cpu);
        let model = catch_model_panic(|| builder.create_model())?
            .map_err(|error| TransformerError::Load(format!("{}: {error}", model_dir.display())))?;
        let dimension = model
            .get_embedding_dim()
            .map_err(|error| TransformerError::Load(format!("{}: {error}", model_dir.display())))?;
        Ok(Self { model, name: model_name(model_dir), dimension: usize::try_from(dimension).unwrap_or(0) })
    }

    /// The model's name: its directory's name (`all-MiniLM-L6-v2`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Embedding dimension (384 for MiniLM-L6).
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// One embedding per text, in order (unit length for models with a Normalize module).
    pub fn encode<S: AsRef<str> + Send + Sync>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>, TransformerError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let embeddings = catch_model_panic(|| self.model.encode(texts))?
            .map_err(|error| TransformerError::Model(format!("encoding failed: {error}")))?;
        if embeddings.len() != texts.len() {
            return Err(TransformerError::Model(format!(
                "the encoder returned {} embeddings for {} texts",
                embeddings.len(),
                texts.len()
            )));
        }
        Ok(embeddings)
    }
}

/// A model's name from its directory.
pub fn model_name(model_dir: &Path) -> String {
    model_dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_else(|| "transformer".to_string())
}

/// Converts `model.safetensors` into libtorch's `rust_model.ot` format, keeping tensor names
/// (rust-bert's BERT module paths match the sentence-transformers names), each tensor optionally
/// renamed with `prefix` (e.g. `bert.` to reuse an encoder inside a classifier). Returns the
/// number of tensors written.
pub fn convert_safetensors(input: &Path, output: &Path, prefix: &str) -> Result<usize, TransformerError> {
    let tensors = tch::Tensor::read_safetensors(input)
        .map_err(|error| TransformerError::Load(format!("cannot read {}: {error}", input.display())))?;
    let named: Vec<(String, tch::Tensor)> =
        tensors.into_iter().map(|(name, tensor)| (format!("{prefix}{name}"), tensor)).collect();
    let temporary = PathBuf::from(format!("{}.partial", output.display()));
    tch::Tensor::save_multi(&named, &temporary)
        .map_err(|error| TransformerError::Load(format!("cannot write {}: {error}", temporary.display())))?;
    // Rename last so an interrupted conversion never leaves a truncated model behind.
    std::fs::rename(&temporary, output)
        .map_err(|error| TransformerError::Load(format!("cannot write {}: {error}", output.display())))?;
    Ok(named.len())
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(left: &[f32], right: &[f32]) -> f64 {
    let dot: f64 = left.iter().zip(right).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
    let left_norm: f64 = left.iter().map(|a| f64::from(*a).powi(2)).sum::<f64>().sqrt();
    let right_norm: f64 = right.iter().map(|b| f64::from(*b).powi(2)).sum::<f64>().sqrt();
    if left_norm == 0.0 || right_norm == 0.0 {
        0.0
    } else {
        dot / (left_norm * right_norm)
    }
}
