//! A fine-tuned sentiment classifier (BERT, DistilBERT, RoBERTa or XLM-RoBERTa family) loaded
//! from a local directory with rust-bert's `SequenceClassificationModel`. When configured it
//! replaces the softmax head as the transformer's sentiment model.
//!
//! The directory holds the Hugging Face `config.json` (with `model_type` and `id2label`),
//! `rust_model.ot`, and the tokenizer files of its family: `vocab.txt` (BERT, DistilBERT),
//! `vocab.json` + `merges.txt` (RoBERTa) or `sentencepiece.bpe.model` (XLM-RoBERTa); an optional
//! `tokenizer_config.json` supplies `do_lower_case`.

use std::path::Path;

use murmur_lexicon::Label;
use rust_bert::pipelines::common::{ModelResource, ModelType};
use rust_bert::pipelines::sequence_classification::{SequenceClassificationConfig, SequenceClassificationModel};
use rust_bert::resources::LocalResource;
use tch::Device;

use super::encoder::model_name;
use super::{catch_model_panic, TransformerError};

/// A loaded sequence classifier. Not `Sync`: driven by one thread at a time.
pub struct SequenceClassifier {
    model: SequenceClassificationModel,
    name: String,
    class_count: usize,
}

/// One prediction: the label and the model's probability for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassifierPrediction {
    pub label: Label,
    pub probability: f64,
}

impl SequenceClassifier {
    /// Loads the classifier in `model_dir`. Never touches the network.
    pub fn load(model_dir: &Path) -> Result<Self, TransformerError> {
        let load_error = |reason: String| TransformerError::Load(format!("{}: {reason}", model_dir.display()));
        let config_path = model_dir.join("config.json");
        let config: serde_json::Value = std::fs::read_to_string(&config_path)
            .map_err(|error| load_error(format!("cannot read config.json: {error}")))
            .and_then(|content| {
                serde_json::from_str(&content).map_err(|error| load_error(format!("bad config.json: {error}")))
            })?;
        let model_type_name = config.get("model_type").and_then(|value| value.as_str()).unwrap_or_default();
        let (model_type, vocab_file, merges_file) = match model_type_name {
            "bert" => (ModelType::Bert, "vocab.txt", None),
            "distilbert" => (ModelType::DistilBert, "vocab.txt", None),
            "roberta" => (ModelType::Roberta, "vocab.json", Some("merges.txt")),
            "xlm-roberta" => (ModelType::XLMRoberta, "sentencepiece.bpe.model", None),
            other => {
                return Err(load_error(format!(
                    "model_type `{other}` is not supported (bert, distilbert, roberta, xlm-roberta)"
                )))
            }
        };
        let class_count = config.get("id2label").and_then(|labels| labels.as_object()).map_or(0, |labels| labels.len());
        if class_count < 2 {
            return Err(load_error("config.json has no id2label with at least two classes".to_string()));
        }
        for file in ["rust_model.ot", vocab_file].into_iter().chain(merges_file) {
            if !model_dir.join(file).is_file() {
                return Err(load_error(format!("missing {file}")));
            }
        }
        let lower_case = std::fs::read_to_string(model_dir.join("tokenizer_config.json"))
            .ok()
            .and_then(|content| serde_json::from_str::<serde_json::Value>(&content).ok())
            .and_then(|tokenizer| tokenizer.get("do_lower_case").and_then(|value| value.as_bool()))
            .unwrap_or(false);
        let mut classification_config = SequenceClassificationConfig::new(
            model_type,
            ModelResource::Torch(Box::new(LocalResource::from(model_dir.join("rust_model.ot")))),
            LocalResource::from(config_path),
            LocalResource::from(model_dir.join(vocab_file)),
            merges_file.map(|file| LocalResource::from(model_dir.join(file))),
            lower_case,
            None,
            None,
        );
        classification_config.device = Device::Cpu;
        let model = catch_model_panic(|| SequenceClassificationModel::new(classification_config))?
            .map_err(|error| load_error(error.to_string()))?;
        Ok(Self { model, name: model_name(model_dir), class_count })
    }

    /// The model's name: its directory's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One prediction per text, in order.
    pub fn predict(&self, texts: &[&str]) -> Result<Vec<ClassifierPrediction>, TransformerError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let labels = catch_model_panic(|| self.model.predict(texts))?;
        if labels.len() != texts.len() {
            return Err(TransformerError::Model(format!(
                "the classifier returned {} labels for {} texts",
                labels.len(),
                texts.len()
            )));
        }
        labels
            .into_iter()
            .map(|label| {
                let sentiment = sentiment_label(&label.text, label.id, self.class_count).ok_or_else(|| {
                    TransformerError::Model(format!("label `{}` is not negative, neutral or positive", label.text))
                })?;
                Ok(ClassifierPrediction { label: sentiment, probability: label.score })
            })
            .collect()
    }
}

/// Maps a classifier's label to the three classes: by name (`negative`, `NEG`, `LABEL_NEGATIVE`,
/// `Neutral`, `POSITIVE`, ...), else, for the anonymous `LABEL_<n>` names, by the common
/// convention of sentiment checkpoints: 0 negative, 1 neutral, 2 positive for three classes,
/// 0 negative, 1 positive for two.
pub fn sentiment_label(text: &str, id: i64, class_count: usize) -> Option<Label> {
    let lowered = text.to_lowercase();
    if lowered.contains("neg") {
        return Some(Label::Negative);
    }
    if lowered.contains("neu") {
        return Some(Label::Neutral);
    }
    if lowered.contains("pos") {
        return Some(Label::Positive);
    }
    if lowered.starts_with("label_") || lowered.parse::<i64>().is_ok() {
        return match (class_count, id) {
            (_, 0) => Some(Label::Negative),
            (2, 1) | (3, 2) => Some(Label::Positive),
            (3, 1) => Some(Label::Neutral),
            _ => None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_map_by_name_then_by_convention() {
        assert_eq!(sentiment_label("NEGATIVE", 0, 2), Some(Label::Negative));
        assert_eq!(sentiment_label("positive", 1, 2), Some(Label::Positive));
        assert_eq!(sentiment_label("Neutral", 7, 8), Some(Label::Neutral));
        assert_eq!(sentiment_label("LABEL_2", 2, 3), Some(Label::Positive));
        assert_eq!(sentiment_label("LABEL_1", 1, 3), Some(Label::Neutral));
        assert_eq!(sentiment_label("LABEL_1", 1, 2), Some(Label::Positive));
        assert_eq!(sentiment_label("LABEL_0", 0, 3), Some(Label::Negative));
        assert_eq!(sentiment_label("LABEL_3", 3, 5), None);
        assert_eq!(sentiment_label("joy", 3, 6), None);
    }
}
