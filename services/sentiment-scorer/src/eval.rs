//! `sentiment-scorer eval`: scores a labelled TSV and reports the SemEval metrics.

use std::path::Path;

use murmur_lexicon::eval::{evaluate, read_labelled_tsv, EvalReport};
use murmur_lexicon::{Language, SentimentAnalyzer};

/// Evaluates `model` on the TSV at `data`; `language` forces a language instead of detection.
pub fn run(data: &Path, model: &str, language: Option<&str>) -> anyhow::Result<EvalReport> {
    if model != "lexicon" {
        anyhow::bail!("model `{model}` is not available in this build (available: lexicon)");
    }
    let forced_language = match language {
        None => None,
        Some(code) => Some(
            Language::from_hint(code).ok_or_else(|| anyhow::anyhow!("unsupported language `{code}` (use en or fr)"))?,
        ),
    };
    // The error already names the file.
    let rows = read_labelled_tsv(data).map_err(|error| anyhow::anyhow!("{error}"))?;
    if rows.is_empty() {
        anyhow::bail!("{} holds no labelled rows", data.display());
    }
    let analyzer = SentimentAnalyzer::new();
    Ok(evaluate(&rows, |text| {
        let scores = match forced_language {
            Some(language) => analyzer.score(text, language),
            None => analyzer.score_auto(text, None).1,
        };
        SentimentAnalyzer::label(scores.compound)
    }))
}
