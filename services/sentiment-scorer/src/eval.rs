//! `sentiment-scorer eval`: scores a labelled TSV and reports the SemEval metrics.
//!
//! Rows can be restricted to a fixed split so models trained on the dev sets (the transformer's
//! softmax head) are judged on rows they never saw: [`is_held_out`] puts about 20% of the texts,
//! chosen by a hash of the text, in the held-out split, the same on every machine and run.

use std::path::Path;

use murmur_lexicon::eval::{evaluate, read_labelled_tsv, EvalReport, LabelledRow};
use murmur_lexicon::{Language, SentimentAnalyzer};

/// Percentage of texts in the held-out split.
pub const HELD_OUT_PERCENT: u64 = 20;

/// Which rows of a labelled file to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    /// Every row.
    All,
    /// The rows the head trains on (about 80%).
    Train,
    /// The rows kept out of training (about 20%).
    HeldOut,
}

impl Split {
    /// Whether a row with `text` belongs to this split.
    pub fn contains(self, text: &str) -> bool {
        match self {
            Split::All => true,
            Split::Train => !is_held_out(text),
            Split::HeldOut => is_held_out(text),
        }
    }

    /// Name as in `--split`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::All => "all",
            Split::Train => "train",
            Split::HeldOut => "held-out",
        }
    }
}

/// 64-bit FNV-1a of `bytes` after `seed`: a fixed, platform-independent hash (the std hasher is
/// randomly seeded per process).
pub fn stable_hash(seed: &str, bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.as_bytes().iter().chain(bytes) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Whether `text` is in the held-out split. Identical texts always fall on the same side, so a
/// duplicated tweet cannot leak from training into the evaluation.
pub fn is_held_out(text: &str) -> bool {
    stable_hash("murmur-split-v1", text.as_bytes()) % 100 < HELD_OUT_PERCENT
}

/// Reads a labelled TSV and keeps the rows of `split`.
pub fn read_split(data: &Path, split: Split) -> anyhow::Result<Vec<LabelledRow>> {
    // The error already names the file.
    let rows = read_labelled_tsv(data).map_err(|error| anyhow::anyhow!("{error}"))?;
    let rows: Vec<LabelledRow> = rows.into_iter().filter(|row| split.contains(&row.text)).collect();
    if rows.is_empty() {
        anyhow::bail!("{} holds no labelled rows in the {} split", data.display(), split.as_str());
    }
    Ok(rows)
}

/// Parses `--language`.
pub fn forced_language(language: Option<&str>) -> anyhow::Result<Option<Language>> {
    match language {
        None => Ok(None),
        Some(code) => Ok(Some(
            Language::from_hint(code).ok_or_else(|| anyhow::anyhow!("unsupported language `{code}` (use en or fr)"))?,
        )),
    }
}

/// Evaluates the lexicon on the rows of `split` in the TSV at `data`; `language` forces a
/// language instead of detection.
pub fn run(data: &Path, model: &str, language: Option<&str>, split: Split) -> anyhow::Result<EvalReport> {
    if model != "lexicon" {
        let available = if cfg!(feature = "transformer") {
            "lexicon, transformer, hybrid"
        } else {
            "lexicon; build with --features transformer for transformer and hybrid"
        };
        anyhow::bail!("model `{model}` is not available here (available: {available})");
    }
    let forced_language = forced_language(language)?;
    let rows = read_split(data, split)?;
    let analyzer = SentimentAnalyzer::new();
    Ok(evaluate(&rows, |text| {
        let scores = match forced_language {
            Some(language) => analyzer.score(text, language),
            None => analyzer.score_auto(text, None).1,
        };
        SentimentAnalyzer::label(scores.compound)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_fixed_and_about_a_fifth() {
        let texts: Vec<String> = (0..10_000).map(|index| format!("tweet number {index}")).collect();
        let held_out = texts.iter().filter(|text| is_held_out(text)).count();
        assert!((1_800..2_200).contains(&held_out), "{held_out}");
        // Pinned values: changing the hash would silently move rows between train and test.
        assert_eq!(stable_hash("", b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("", b"a"), 0xaf63_dc4c_8601_ec8c);
        for text in &texts {
            assert_ne!(Split::Train.contains(text), Split::HeldOut.contains(text));
            assert!(Split::All.contains(text));
        }
    }
}
