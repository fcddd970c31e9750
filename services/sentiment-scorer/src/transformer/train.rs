//! Training and evaluation of the softmax head on labelled TSVs (`sentiment-scorer train-head`,
//! `sentiment-scorer eval --model transformer|hybrid`).
//!
//! Training: every row is scored by the lexicon and embedded once; rows of the held-out split
//! ([`crate::eval::is_held_out`], ~20%) are never trained on. The features are standardised,
//! then a multinomial logistic regression with class-balanced weights (the SemEval metric is
//! macro-recall, and the dev sets are skewed towards neutral/positive) and L2 regularisation is
//! fitted by full-batch Adam, deterministic from zero weights. The L2 strength is chosen on a
//! validation fifth carved out of the training rows by another hash, then the head is refitted on
//! all training rows and reported on the held-out rows, per file and overall, beside the lexicon
//! on the same rows.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use murmur_lexicon::eval::{EvalReport, LabelledRow};
use murmur_lexicon::{Label, SentimentAnalyzer};
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Tensor};

use super::encoder::SentenceEncoder;
use super::head::{argmax_label, assemble_features, LexiconFeatures, SoftmaxHead, HEAD_FORMAT};
use super::policy::RoutingPolicy;
use super::scorer::TransformerModels;
use super::{TransformerError, TransformerSettings};
use crate::eval::{forced_language, read_split, stable_hash, Split};
use crate::scoring::Scorer;

/// Texts per encoder call while embedding a data set.
const ENCODE_CHUNK: usize = 64;
/// L2 strengths tried on the validation fifth.
const L2_GRID: [f64; 5] = [1e-4, 1e-3, 1e-2, 3e-2, 1e-1];

/// Options of `train-head`.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Labelled TSVs; each is reported on its own (one per language).
    pub data: Vec<PathBuf>,
    /// Where the head JSON is written.
    pub out: PathBuf,
    /// Append the lexicon's scores to the embedding.
    pub lexicon_features: bool,
    /// Optimiser steps per fit.
    pub iterations: usize,
}

/// A labelled text with its features, ready for training or evaluation.
#[derive(Debug, Clone)]
pub struct Example {
    pub label: Label,
    pub text: String,
    /// Index of the file it came from.
    pub source: usize,
    pub embedding: Vec<f32>,
    pub lexicon: LexiconFeatures,
}

/// Lexicon-scores and embeds `rows` (language detected per text, as in the service).
pub fn featurize(
    encoder: &SentenceEncoder,
    rows: &[LabelledRow],
    source: usize,
    language: Option<murmur_lexicon::Language>,
) -> Result<Vec<Example>, TransformerError> {
    let scorer = Scorer::new(64 * 1024);
    let analyzer = SentimentAnalyzer::new();
    let mut examples = Vec::with_capacity(rows.len());
    for (chunk_index, chunk) in rows.chunks(ENCODE_CHUNK).enumerate() {
        let texts: Vec<&str> = chunk.iter().map(|row| row.text.as_str()).collect();
        let embeddings = encoder.encode(&texts)?;
        for (row, embedding) in chunk.iter().zip(embeddings) {
            let lexicon = match language {
                Some(language) => {
                    let scores = analyzer.score(&row.text, language);
                    LexiconFeatures::from_score(&crate::scoring::sentiment_score(&scores), language.code())
                }
                None => {
                    let scored = scorer.score_text(&row.text, "");
                    LexiconFeatures::from_score(&scored.sentiment, scored.language)
                }
            };
            examples.push(Example { label: row.label, text: row.text.clone(), source, embedding, lexicon });
        }
        let done = (chunk_index * ENCODE_CHUNK + chunk.len()).min(rows.len());
        if chunk_index % 16 == 15 || done == rows.len() {
            eprintln!("embedded {done}/{} texts", rows.len());
        }
    }
    Ok(examples)
}

/// Fits a head on `examples` with L2 strength `l2`.
pub fn fit_head(
    examples: &[&Example],
    lexicon_features: bool,
    l2: f64,
    iterations: usize,
) -> Result<SoftmaxHead, TransformerError> {
    let Some(first) = examples.first() else {
        return Err(TransformerError::Head("no training examples".to_string()));
    };
    let embedding_dim = first.embedding.len();
    let rows: Vec<Vec<f32>> = examples
        .iter()
        .map(|example| assemble_features(&example.embedding, &example.lexicon, lexicon_features))
        .collect();
    let input_dim = rows[0].len();
    if rows.iter().any(|row| row.len() != input_dim) {
        return Err(TransformerError::Head("examples have embeddings of different sizes".to_string()));
    }
    let count = rows.len() as f64;
    let feature_mean: Vec<f32> = (0..input_dim)
        .map(|feature| (rows.iter().map(|row| f64::from(row[feature])).sum::<f64>() / count) as f32)
        .collect();
    let feature_scale: Vec<f32> = (0..input_dim)
        .map(|feature| {
            let mean = f64::from(feature_mean[feature]);
            let variance = rows.iter().map(|row| (f64::from(row[feature]) - mean).powi(2)).sum::<f64>() / count;
            // Constant features (e.g. no French rows) get scale 1 rather than a division by zero.
            if variance > 1e-12 {
                (1.0 / variance.sqrt()) as f32
            } else {
                1.0
            }
        })
        .collect();
    let standardised: Vec<f32> = rows
        .iter()
        .flat_map(|row| {
            row.iter().zip(feature_mean.iter().zip(&feature_scale)).map(|(value, (mean, scale))| (value - mean) * scale)
        })
        .collect();

    let mut class_counts = [0usize; 3];
    for example in examples {
        class_counts[example.label.index()] += 1;
    }
    // Balanced weights: each class weighs as much in the loss as the others.
    let class_weight =
        class_counts.map(|class_count| if class_count == 0 { 0.0 } else { count / (3.0 * class_count as f64) });
    let sample_weights: Vec<f32> = examples.iter().map(|example| class_weight[example.label.index()] as f32).collect();
    let targets: Vec<i64> = examples.iter().map(|example| example.label.index() as i64).collect();

    let features_tensor = Tensor::from_slice(&standardised).view([examples.len() as i64, input_dim as i64]);
    let targets_tensor = Tensor::from_slice(&targets).unsqueeze(1);
    let weights_tensor = Tensor::from_slice(&sample_weights);
    let weight_total = f64::from(sample_weights.iter().sum::<f32>());

    let var_store = nn::VarStore::new(Device::Cpu);
    let weights = var_store.root().zeros("weights", &[input_dim as i64, 3]);
    let bias = var_store.root().zeros("bias", &[3]);
    let mut optimizer = nn::Adam::default()
        .build(&var_store, 0.02)
        .map_err(|error| TransformerError::Model(format!("optimiser: {error}")))?;
    for _ in 0..iterations {
        let logits = features_tensor.matmul(&weights) + &bias;
        let log_probabilities = logits.log_softmax(-1, Kind::Float);
        let picked = log_probabilities.gather(1, &targets_tensor, false).squeeze_dim(1);
        let data_loss = -(picked * &weights_tensor).sum(Kind::Float) / weight_total;
        let loss = data_loss + weights.pow_tensor_scalar(2).sum(Kind::Float) * (l2 / 2.0);
        optimizer.backward_step(&loss);
    }
    let weights_by_feature: Vec<Vec<f32>> = Vec::<Vec<f32>>::try_from(&weights.detach())
        .map_err(|error| TransformerError::Model(format!("reading weights: {error}")))?;
    let bias_values: Vec<f32> = Vec::<f32>::try_from(&bias.detach())
        .map_err(|error| TransformerError::Model(format!("reading bias: {error}")))?;
    // Stored class-major: weights[class][feature].
    let weights_by_class: Vec<Vec<f32>> =
        (0..3).map(|class| weights_by_feature.iter().map(|row| row[class]).collect()).collect();
    let head = SoftmaxHead {
        format: HEAD_FORMAT.to_string(),
        name: String::new(),
        encoder: String::new(),
        embedding_dim,
        lexicon_features,
        feature_mean,
        feature_scale,
        weights: weights_by_class,
        bias: bias_values,
        training: serde_json::Value::Null,
    };
    head.validate()?;
    Ok(head)
}

/// Confusion matrix of `head` on `examples`.
pub fn evaluate_head(head: &SoftmaxHead, examples: &[&Example]) -> EvalReport {
    let mut confusion = [[0usize; 3]; 3];
    for example in examples {
        let predicted = argmax_label(&head.classify(&example.embedding, &example.lexicon));
        confusion[example.label.index()][predicted.index()] += 1;
    }
    EvalReport::from_confusion(confusion)
}

/// Confusion matrix of the lexicon alone on `examples`.
pub fn evaluate_lexicon(examples: &[&Example]) -> EvalReport {
    let mut confusion = [[0usize; 3]; 3];
    for example in examples {
        let predicted = SentimentAnalyzer::label(example.lexicon.compound);
        confusion[example.label.index()][predicted.index()] += 1;
    }
    EvalReport::from_confusion(confusion)
}

fn validation_fifth(text: &str) -> bool {
    stable_hash("murmur-validation-v1", text.as_bytes()) % 100 < 20
}

fn summary(report: &EvalReport) -> String {
    format!(
        "accuracy {:.4}  macro-recall {:.4}  macro-F1 {:.4}  (n={})",
        report.accuracy, report.macro_recall, report.macro_f1, report.total
    )
}

fn report_json(report: &EvalReport) -> serde_json::Value {
    serde_json::json!({
        "examples": report.total,
        "accuracy": report.accuracy,
        "macro_recall": report.macro_recall,
        "macro_f1": report.macro_f1,
        "confusion": report.confusion,
    })
}

/// `train-head`: embeds the files, trains, writes the head, returns the printed report.
pub fn train_head(settings: &TransformerSettings, options: &TrainOptions) -> anyhow::Result<String> {
    if options.data.is_empty() {
        anyhow::bail!("give at least one --data file");
    }
    let encoder = SentenceEncoder::load(&settings.model_dir)?;
    let mut examples = Vec::new();
    let mut source_names = Vec::new();
    for (source, path) in options.data.iter().enumerate() {
        let rows = read_split(path, Split::All)?;
        eprintln!("embedding {} ({} rows) with {}", path.display(), rows.len(), encoder.name());
        examples.extend(featurize(&encoder, &rows, source, None)?);
        source_names.push(path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default());
    }
    let train: Vec<&Example> = examples.iter().filter(|example| Split::Train.contains(&example.text)).collect();
    let held_out: Vec<&Example> = examples.iter().filter(|example| Split::HeldOut.contains(&example.text)).collect();
    let inner_train: Vec<&Example> = train.iter().copied().filter(|example| !validation_fifth(&example.text)).collect();
    let validation: Vec<&Example> = train.iter().copied().filter(|example| validation_fifth(&example.text)).collect();

    let mut printed = String::new();
    let mut best: Option<(f64, f64)> = None;
    for l2 in L2_GRID {
        let head = fit_head(&inner_train, options.lexicon_features, l2, options.iterations)?;
        let report = evaluate_head(&head, &validation);
        writeln!(printed, "validation  l2 {l2:<7} {}", summary(&report))?;
        if best.is_none_or(|(best_f1, _)| report.macro_f1 > best_f1) {
            best = Some((report.macro_f1, l2));
        }
    }
    let (_, chosen_l2) = best.unwrap_or((0.0, L2_GRID[1]));
    let mut head = fit_head(&train, options.lexicon_features, chosen_l2, options.iterations)?;
    head.encoder = encoder.name().to_string();
    head.name = format!("{}+softmax-head", encoder.name());

    writeln!(printed, "chosen l2    {chosen_l2}")?;
    writeln!(printed, "train rows   {}  held-out rows {}", train.len(), held_out.len())?;
    let mut held_out_reports = serde_json::Map::new();
    let groups: Vec<(String, Vec<&Example>)> = source_names
        .iter()
        .enumerate()
        .map(|(source, name)| {
            (name.clone(), held_out.iter().copied().filter(|example| example.source == source).collect())
        })
        .chain(std::iter::once(("all".to_string(), held_out.clone())))
        .collect();
    for (name, group) in &groups {
        if group.is_empty() {
            continue;
        }
        let head_report = evaluate_head(&head, group);
        let lexicon_report = evaluate_lexicon(group);
        writeln!(printed, "held-out {name:<8} head    {}", summary(&head_report))?;
        writeln!(printed, "held-out {name:<8} lexicon {}", summary(&lexicon_report))?;
        held_out_reports.insert(
            name.clone(),
            serde_json::json!({ "head": report_json(&head_report), "lexicon": report_json(&lexicon_report) }),
        );
    }
    head.training = serde_json::json!({
        "data": options.data.iter().map(|path| path.file_name().map(|name| name.to_string_lossy().into_owned())).collect::<Vec<_>>(),
        "split": "held-out = FNV-1a(\"murmur-split-v1\" + text) % 100 < 20, never trained on",
        "train_examples": train.len(),
        "held_out_examples": held_out.len(),
        "l2": chosen_l2,
        "iterations": options.iterations,
        "optimizer": "full-batch Adam, lr 0.02, zero init, class-balanced cross-entropy",
        "held_out": held_out_reports,
    });
    if let Some(parent) = options.out.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    head.save(&options.out)?;
    writeln!(printed, "head written to {}", options.out.display())?;
    Ok(printed)
}

/// `eval --model transformer|hybrid`: the transformer's sentiment on every row (`transformer`),
/// or only on the rows the routing policy sends to it (`hybrid`, the service's behaviour).
pub fn evaluate_file(
    settings: &TransformerSettings,
    data: &Path,
    model: &str,
    language: Option<&str>,
    split: Split,
) -> anyhow::Result<EvalReport> {
    let routing: Option<RoutingPolicy> = match model {
        "transformer" => None,
        "hybrid" => Some(settings.routing),
        other => anyhow::bail!("unknown model `{other}` (lexicon, transformer, hybrid)"),
    };
    let forced_language = forced_language(language)?;
    let rows = read_split(data, split)?;
    let mut models = TransformerModels::load(settings)?;
    if models.sentiment_model_name().is_none() {
        anyhow::bail!("no sentiment model: set MURMUR_TRANSFORMER_HEAD (train one with `train-head`) or MURMUR_TRANSFORMER_CLASSIFIER_DIR");
    }
    let scorer = Scorer::new(64 * 1024);
    let analyzer = SentimentAnalyzer::new();
    let mut confusion = [[0usize; 3]; 3];
    for chunk in rows.chunks(ENCODE_CHUNK) {
        let lexicon_scores: Vec<(murmur_proto::events::v1::SentimentScore, &'static str)> = chunk
            .iter()
            .map(|row| match forced_language {
                Some(language) => {
                    (crate::scoring::sentiment_score(&analyzer.score(&row.text, language)), language.code())
                }
                None => {
                    let scored = scorer.score_text(&row.text, "");
                    (scored.sentiment, scored.language)
                }
            })
            .collect();
        let jobs: Vec<super::scorer::TransformerJob> = chunk
            .iter()
            .zip(&lexicon_scores)
            .map(|(row, (lexicon, language))| super::scorer::TransformerJob {
                text: row.text.clone(),
                lexicon: LexiconFeatures::from_score(lexicon, language),
                want_sentiment: routing.is_none_or(|routing| routing.routes(lexicon)),
                want_embedding: false,
            })
            .collect();
        let outputs = super::BatchModel::run_batch(&mut models, &jobs)?;
        for ((row, (lexicon, _)), output) in chunk.iter().zip(&lexicon_scores).zip(outputs) {
            let score = output.sentiment.unwrap_or_else(|| lexicon.clone());
            let predicted = match score.label {
                label if label == murmur_proto::events::v1::SentimentLabel::Negative as i32 => Label::Negative,
                label if label == murmur_proto::events::v1::SentimentLabel::Positive as i32 => Label::Positive,
                _ => Label::Neutral,
            };
            confusion[row.label.index()][predicted.index()] += 1;
        }
    }
    Ok(EvalReport::from_confusion(confusion))
}
