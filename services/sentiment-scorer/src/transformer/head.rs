//! The softmax classification head: multinomial logistic regression over a post's sentence
//! embedding plus its lexicon scores, used as the transformer's sentiment classifier when no
//! fine-tuned sequence-classification model is configured.
//!
//! Inference is plain Rust (a 3 × d dot product); training lives in [`super::train`]. The head is
//! a JSON file written by `sentiment-scorer train-head`, never by hand: it records the encoder it
//! was trained on, the feature standardisation, the weights and the training report.

use std::path::Path;

use murmur_lexicon::Label;
use murmur_proto::events::v1::{SentimentLabel, SentimentScore};
use serde::{Deserialize, Serialize};

use super::TransformerError;

/// Value of [`SoftmaxHead::format`] this code reads and writes.
pub const HEAD_FORMAT: &str = "murmur-softmax-head/2";

/// Number of lexicon features appended to the embedding: compound, positive, neutral and
/// negative in an English block and again in a French block (the other block is zero), then a
/// French indicator. The two lexicons and the English-trained encoder are not equally reliable
/// per language, so the head weighs each language's lexicon on its own.
pub const LEXICON_FEATURES: usize = 9;

/// A trained softmax head. Rows of `weights` follow [`Label::ALL`] (negative, neutral, positive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftmaxHead {
    /// Always [`HEAD_FORMAT`].
    pub format: String,
    /// Model name reported in `SentimentScore.model` and `ListModels`.
    pub name: String,
    /// Name of the sentence encoder whose embeddings the head reads.
    pub encoder: String,
    /// Embedding dimension of that encoder.
    pub embedding_dim: usize,
    /// Whether the lexicon features follow the embedding in the input vector.
    pub lexicon_features: bool,
    /// Per-feature mean subtracted before the linear layer (from the training split).
    pub feature_mean: Vec<f32>,
    /// Per-feature factor applied after centring (1 / standard deviation).
    pub feature_scale: Vec<f32>,
    /// `weights[class][feature]`.
    pub weights: Vec<Vec<f32>>,
    /// `bias[class]`.
    pub bias: Vec<f32>,
    /// How it was trained and how it scored on the held-out split (informational).
    #[serde(default)]
    pub training: serde_json::Value,
}

impl SoftmaxHead {
    /// Number of input features.
    pub fn input_dim(&self) -> usize {
        self.embedding_dim + if self.lexicon_features { LEXICON_FEATURES } else { 0 }
    }

    /// Checks that every vector has the size the header announces.
    pub fn validate(&self) -> Result<(), TransformerError> {
        let invalid = |reason: String| Err(TransformerError::Head(reason));
        if self.format != HEAD_FORMAT {
            return invalid(format!("format `{}` is not `{HEAD_FORMAT}`", self.format));
        }
        let input_dim = self.input_dim();
        if self.feature_mean.len() != input_dim || self.feature_scale.len() != input_dim {
            return invalid(format!("standardisation vectors do not have {input_dim} features"));
        }
        if self.weights.len() != Label::ALL.len() || self.bias.len() != Label::ALL.len() {
            return invalid("weights and bias must have one row per class (3)".to_string());
        }
        if self.weights.iter().any(|row| row.len() != input_dim) {
            return invalid(format!("every weight row must have {input_dim} features"));
        }
        let all_finite =
            self.weights.iter().flatten().chain(&self.bias).chain(&self.feature_mean).all(|v| v.is_finite())
                && self.feature_scale.iter().all(|v| v.is_finite());
        if !all_finite {
            return invalid("the head holds non-finite numbers".to_string());
        }
        Ok(())
    }

    /// Reads and validates a head file.
    pub fn load(path: &Path) -> Result<Self, TransformerError> {
        let content = std::fs::read_to_string(path)
            .map_err(|error| TransformerError::Head(format!("cannot read {}: {error}", path.display())))?;
        let head: SoftmaxHead = serde_json::from_str(&content)
            .map_err(|error| TransformerError::Head(format!("{} is not a head file: {error}", path.display())))?;
        head.validate().map_err(|error| TransformerError::Head(format!("{}: {error}", path.display())))?;
        Ok(head)
    }

    /// Writes the head as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), TransformerError> {
        let json = serde_json::to_string_pretty(self).map_err(|error| TransformerError::Head(error.to_string()))?;
        std::fs::write(path, json)
            .map_err(|error| TransformerError::Head(format!("cannot write {}: {error}", path.display())))
    }

    /// Class probabilities (in [`Label::ALL`] order) for already assembled input features.
    pub fn probabilities(&self, features: &[f32]) -> [f64; 3] {
        debug_assert_eq!(features.len(), self.input_dim());
        let standardised: Vec<f64> = features
            .iter()
            .zip(self.feature_mean.iter().zip(&self.feature_scale))
            .map(|(value, (mean, scale))| f64::from((value - mean) * scale))
            .collect();
        let logits: [f64; 3] = std::array::from_fn(|class| {
            let dot: f64 = self.weights[class].iter().zip(&standardised).map(|(w, x)| f64::from(*w) * x).sum();
            dot + f64::from(self.bias[class])
        });
        softmax(logits)
    }

    /// Sentiment of one text from its embedding and lexicon features.
    pub fn classify(&self, embedding: &[f32], lexicon: &LexiconFeatures) -> [f64; 3] {
        let features = assemble_features(embedding, lexicon, self.lexicon_features);
        self.probabilities(&features)
    }
}

/// The lexicon's view of a text, appended to the embedding as features.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LexiconFeatures {
    pub compound: f64,
    pub positive: f64,
    pub neutral: f64,
    pub negative: f64,
    pub french: bool,
}

impl LexiconFeatures {
    /// From a lexicon score and the text's language code.
    pub fn from_score(score: &SentimentScore, language: &str) -> Self {
        Self {
            compound: score.compound,
            positive: score.positive,
            neutral: score.neutral,
            negative: score.negative,
            french: language == "fr",
        }
    }
}

/// The head's input vector: the embedding, then (optionally) the lexicon features.
pub fn assemble_features(embedding: &[f32], lexicon: &LexiconFeatures, with_lexicon: bool) -> Vec<f32> {
    let mut features = Vec::with_capacity(embedding.len() + LEXICON_FEATURES);
    features.extend_from_slice(embedding);
    if with_lexicon {
        let scores =
            [lexicon.compound as f32, lexicon.positive as f32, lexicon.neutral as f32, lexicon.negative as f32];
        let (english, french) = if lexicon.french { ([0.0; 4], scores) } else { (scores, [0.0; 4]) };
        features.extend(english);
        features.extend(french);
        features.push(if lexicon.french { 1.0 } else { 0.0 });
    }
    debug_assert_eq!(features.len(), embedding.len() + if with_lexicon { LEXICON_FEATURES } else { 0 });
    features
}

/// Numerically stable softmax.
pub fn softmax(logits: [f64; 3]) -> [f64; 3] {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps = logits.map(|logit| (logit - max).exp());
    let total: f64 = exps.iter().sum();
    exps.map(|value| value / total)
}

/// The most probable label.
pub fn argmax_label(probabilities: &[f64; 3]) -> Label {
    let mut best = 0;
    for class in 1..3 {
        if probabilities[class] > probabilities[best] {
            best = class;
        }
    }
    Label::ALL[best]
}

/// The wire score of a class distribution: the proportions are the probabilities, the compound
/// is `p(positive) − p(negative)`, the confidence the winning probability.
pub fn sentiment_from_probabilities(probabilities: &[f64; 3], model: &str) -> SentimentScore {
    let label = argmax_label(probabilities);
    let [negative, neutral, positive] = *probabilities;
    SentimentScore {
        compound: (positive - negative).clamp(-1.0, 1.0),
        positive,
        neutral,
        negative,
        label: match label {
            Label::Negative => SentimentLabel::Negative,
            Label::Neutral => SentimentLabel::Neutral,
            Label::Positive => SentimentLabel::Positive,
        } as i32,
        confidence: probabilities[label.index()].clamp(0.0, 1.0),
        model: model.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_head() -> SoftmaxHead {
        // Two embedding dimensions: the first votes positive, the second negative.
        SoftmaxHead {
            format: HEAD_FORMAT.to_string(),
            name: "tiny".to_string(),
            encoder: "test".to_string(),
            embedding_dim: 2,
            lexicon_features: false,
            feature_mean: vec![0.0, 0.0],
            feature_scale: vec![1.0, 1.0],
            weights: vec![vec![-2.0, 2.0], vec![0.0, 0.0], vec![2.0, -2.0]],
            bias: vec![0.0, 0.5, 0.0],
            training: serde_json::Value::Null,
        }
    }

    #[test]
    fn probabilities_sum_to_one_and_follow_the_weights() {
        let head = tiny_head();
        let positive = head.classify(&[1.0, 0.0], &LexiconFeatures::default());
        assert!((positive.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(argmax_label(&positive), Label::Positive);
        assert_eq!(argmax_label(&head.classify(&[0.0, 1.0], &LexiconFeatures::default())), Label::Negative);
        assert_eq!(argmax_label(&head.classify(&[0.0, 0.0], &LexiconFeatures::default())), Label::Neutral);
    }

    #[test]
    fn the_wire_score_is_consistent() {
        let score = sentiment_from_probabilities(&[0.1, 0.2, 0.7], "m");
        assert_eq!(score.label, SentimentLabel::Positive as i32);
        assert!((score.compound - 0.6).abs() < 1e-12);
        assert!((score.confidence - 0.7).abs() < 1e-12);
        assert_eq!(score.model, "m");
    }

    #[test]
    fn a_head_round_trips_through_json_and_bad_shapes_are_refused() {
        let directory = std::env::temp_dir().join(format!("murmur-head-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("temp dir");
        let path = directory.join("head.json");
        let head = tiny_head();
        head.save(&path).expect("saved");
        assert_eq!(SoftmaxHead::load(&path).expect("loaded"), head);

        let mut broken = tiny_head();
        broken.weights[1].push(1.0);
        assert!(broken.validate().is_err());
        let mut wrong_format = tiny_head();
        wrong_format.format = "other".to_string();
        assert!(wrong_format.validate().is_err());
        std::fs::write(&path, "{}").expect("write");
        assert!(SoftmaxHead::load(&path).is_err());
        std::fs::remove_dir_all(&directory).ok();
    }

    #[test]
    fn softmax_is_stable_for_large_logits() {
        let probabilities = softmax([1000.0, 0.0, -1000.0]);
        assert!((probabilities[0] - 1.0).abs() < 1e-12);
        assert!(probabilities.iter().all(|p| p.is_finite()));
    }
}
