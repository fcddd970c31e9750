//! Evaluation of a classifier on a labelled TSV (`label<TAB>text`, labels
//! `negative`/`neutral`/`positive`): macro-recall (the SemEval-2017 metric), macro-F1,
//! accuracy and the 3×3 confusion matrix.
//!
//! The reference TSVs contain literal JSON-style escapes such as `\u2019` and `\u002c` left by
//! their export; [`read_labelled_tsv`] decodes `\uXXXX` escapes (and only those) so texts look
//! like what a platform delivers. The Python parity helper applies the same decoding.

use std::fmt;
use std::path::Path;

use crate::Label;

/// One labelled example.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledRow {
    pub label: Label,
    pub text: String,
}

/// Why a labelled file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Format { path: String, line: usize, reason: String },
}

/// Reads a `label<TAB>text` file with a header line.
pub fn read_labelled_tsv(path: impl AsRef<Path>) -> Result<Vec<LabelledRow>, EvalError> {
    let path = path.as_ref();
    let display = path.display().to_string();
    let content = std::fs::read_to_string(path).map_err(|source| EvalError::Io { path: display.clone(), source })?;
    parse_labelled_tsv(&content).map_err(|(line, reason)| EvalError::Format { path: display, line, reason })
}

/// Parses the content of a labelled TSV; errors carry the 1-based line number.
pub fn parse_labelled_tsv(content: &str) -> Result<Vec<LabelledRow>, (usize, String)> {
    let mut rows = Vec::new();
    let mut lines = content.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.trim_end().eq_ignore_ascii_case("label\ttext") => {}
        Some((_, header)) => return Err((1, format!("expected header `label<TAB>text`, found {header:?}"))),
        None => return Ok(rows),
    }
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let (label, text) = line.split_once('\t').ok_or_else(|| (index + 1, "expected `label<TAB>text`".to_owned()))?;
        let label = Label::parse(label.trim()).ok_or_else(|| (index + 1, format!("unknown label {label:?}")))?;
        rows.push(LabelledRow { label, text: unescape_unicode(text) });
    }
    Ok(rows)
}

/// Decodes `\uXXXX` escapes (BMP, non-surrogate); anything else is kept verbatim.
pub fn unescape_unicode(text: &str) -> String {
    if !text.contains("\\u") {
        return text.to_owned();
    }
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find("\\u") {
        decoded.push_str(&rest[..position]);
        let after = &rest[position + 2..];
        let escaped = after
            .get(..4)
            .filter(|hex| hex.bytes().all(|byte| byte.is_ascii_hexdigit()))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .and_then(char::from_u32);
        match escaped {
            Some(c) => {
                decoded.push(c);
                rest = &after[4..];
            }
            None => {
                decoded.push_str("\\u");
                rest = after;
            }
        }
    }
    decoded.push_str(rest);
    decoded
}

/// Metrics of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// `confusion[gold][predicted]`, indices in [`Label::ALL`] order.
    pub confusion: [[usize; 3]; 3],
    /// Per-class recall, precision and F1 in [`Label::ALL`] order.
    pub per_class: [ClassMetrics; 3],
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub accuracy: f64,
    pub total: usize,
}

/// Recall, precision and F1 of one class (0 when undefined).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ClassMetrics {
    pub recall: f64,
    pub precision: f64,
    pub f1: f64,
    /// Number of gold examples of the class.
    pub support: usize,
}

/// Classifies every row and compares with its gold label.
pub fn evaluate<F: Fn(&str) -> Label>(rows: &[LabelledRow], classify: F) -> EvalReport {
    let mut confusion = [[0usize; 3]; 3];
    for row in rows {
        confusion[row.label.index()][classify(&row.text).index()] += 1;
    }
    EvalReport::from_confusion(confusion)
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

impl EvalReport {
    /// Derives every metric from a confusion matrix (`confusion[gold][predicted]`).
    pub fn from_confusion(confusion: [[usize; 3]; 3]) -> EvalReport {
        let total: usize = confusion.iter().flatten().sum();
        let correct: usize = (0..3).map(|class| confusion[class][class]).sum();
        let per_class = std::array::from_fn(|class| {
            let support: usize = confusion[class].iter().sum();
            let predicted: usize = confusion.iter().map(|row| row[class]).sum();
            let hits = confusion[class][class];
            let recall = ratio(hits, support);
            let precision = ratio(hits, predicted);
            let f1 = if recall + precision > 0.0 { 2.0 * recall * precision / (recall + precision) } else { 0.0 };
            ClassMetrics { recall, precision, f1, support }
        });
        let macro_recall = per_class.iter().map(|metrics: &ClassMetrics| metrics.recall).sum::<f64>() / 3.0;
        let macro_f1 = per_class.iter().map(|metrics: &ClassMetrics| metrics.f1).sum::<f64>() / 3.0;
        EvalReport { confusion, per_class, macro_recall, macro_f1, accuracy: ratio(correct, total), total }
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "examples      {}", self.total)?;
        writeln!(f, "macro-recall  {:.4}", self.macro_recall)?;
        writeln!(f, "macro-F1      {:.4}", self.macro_f1)?;
        writeln!(f, "accuracy      {:.4}", self.accuracy)?;
        writeln!(f, "{:<10} {:>8} {:>9} {:>8} {:>8}", "class", "recall", "precision", "F1", "support")?;
        for (label, metrics) in Label::ALL.iter().zip(&self.per_class) {
            writeln!(
                f,
                "{:<10} {:>8.4} {:>9.4} {:>8.4} {:>8}",
                label.as_str(),
                metrics.recall,
                metrics.precision,
                metrics.f1,
                metrics.support
            )?;
        }
        writeln!(f, "confusion (rows gold, columns predicted)")?;
        write!(f, "{:<10}", "")?;
        for label in Label::ALL {
            write!(f, " {:>9}", label.as_str())?;
        }
        writeln!(f)?;
        for (label, row) in Label::ALL.iter().zip(&self.confusion) {
            write!(f, "{:<10}", label.as_str())?;
            for count in row {
                write!(f, " {count:>9}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tsv_and_decodes_unicode_escapes() {
        let content = "label\ttext\npositive\tI\\u2019m happy\\u002c really\nneutral\tplain \\uZZZZ\n";
        let rows = parse_labelled_tsv(content).expect("valid tsv");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], LabelledRow { label: Label::Positive, text: "I’m happy, really".to_owned() });
        assert_eq!(rows[1].text, "plain \\uZZZZ");
    }

    #[test]
    fn rejects_bad_header_and_unknown_label() {
        assert_eq!(parse_labelled_tsv("a\tb\n").map_err(|(line, _)| line), Err(1));
        assert_eq!(parse_labelled_tsv("label\ttext\nmaybe\tx\n").map_err(|(line, _)| line), Err(2));
    }

    #[test]
    fn metrics_match_a_hand_computed_confusion_matrix() {
        // gold negative: 2 right, 1 predicted neutral; gold neutral: 1 right, 1 predicted
        // positive; gold positive: 1 right.
        let rows: Vec<LabelledRow> = [
            ("negative", "n1"),
            ("negative", "n2"),
            ("negative", "n->neu"),
            ("neutral", "u1"),
            ("neutral", "u->pos"),
            ("positive", "p1"),
        ]
        .iter()
        .map(|(label, text)| LabelledRow { label: Label::parse(label).expect("label"), text: (*text).to_owned() })
        .collect();
        let report = evaluate(&rows, |text| match text {
            "n->neu" | "u1" => Label::Neutral,
            "u->pos" | "p1" => Label::Positive,
            _ => Label::Negative,
        });
        assert_eq!(report.confusion, [[2, 1, 0], [0, 1, 1], [0, 0, 1]]);
        let expected_recall = (2.0 / 3.0 + 0.5 + 1.0) / 3.0;
        assert!((report.macro_recall - expected_recall).abs() < 1e-12);
        // F1: negative 2*(2/3*1)/(5/3)=0.8, neutral 0.5, positive 2*(1*0.5)/1.5=2/3.
        let expected_f1 = (0.8 + 0.5 + 2.0 / 3.0) / 3.0;
        assert!((report.macro_f1 - expected_f1).abs() < 1e-12);
        assert!((report.accuracy - 4.0 / 6.0).abs() < 1e-12);
        let printed = report.to_string();
        assert!(printed.contains("macro-F1"), "{printed}");
    }

    #[test]
    fn empty_input_gives_zero_metrics_without_dividing_by_zero() {
        let report = evaluate(&[], |_| Label::Neutral);
        assert_eq!(report.total, 0);
        assert_eq!(report.accuracy, 0.0);
        assert_eq!(report.macro_f1, 0.0);
    }
}
