//! Parity of the English scorer with the reference Python `vaderSentiment` 3.3.2 on
//! `../shared/data/sentiment/en_dev.tsv`: at least 99% of compound scores within 1e-3.
//!
//! The reference runs through the project's cached venv (`scripts/python-env`, or the
//! interpreter in `MURMUR_PYTHON`). `scripts/vader-parity` may instead hand over precomputed
//! reference scores in `MURMUR_VADER_REFERENCE_TSV`. Skips when the shared data is absent (a
//! fresh clone has no `../shared`), fails when Python is unavailable.

use std::path::{Path, PathBuf};
use std::process::Command;

use murmur_lexicon::eval::read_labelled_tsv;
use murmur_lexicon::{Language, SentimentAnalyzer};

const TOLERANCE: f64 = 1e-3;
const REQUIRED_RATE: f64 = 0.99;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dev_data() -> PathBuf {
    std::env::var_os("MURMUR_VADER_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("../../../../shared/data/sentiment/en_dev.tsv"))
}

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("MURMUR_PYTHON") {
        return PathBuf::from(python);
    }
    let script = manifest_dir().join("../../../scripts/python-env");
    let output = Command::new("bash")
        .arg(&script)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}; set MURMUR_PYTHON", script.display()));
    assert!(
        output.status.success(),
        "{} failed ({}); set MURMUR_PYTHON to a python with vaderSentiment==3.3.2:\n{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// Reference compounds, one per data row in file order.
fn reference_compounds(data: &Path) -> Vec<f64> {
    let precomputed = std::env::var_os("MURMUR_VADER_REFERENCE_TSV").map(PathBuf::from);
    let out_dir = std::env::temp_dir().join(format!("murmur-vader-parity-{}", std::process::id()));
    let reference_path = match precomputed {
        Some(path) => path,
        None => {
            std::fs::create_dir_all(&out_dir).expect("create temp dir");
            let out = out_dir.join("reference.tsv");
            let helper = manifest_dir().join("../../../scripts/vader_reference.py");
            let python = python();
            let status = Command::new(&python)
                .arg(&helper)
                .arg("--data")
                .arg(data)
                .arg("--out")
                .arg(&out)
                .status()
                .unwrap_or_else(|error| panic!("cannot run python {}: {error}", python.display()));
            assert!(status.success(), "reference scoring failed ({status}); is vaderSentiment installed?");
            out
        }
    };
    let content = std::fs::read_to_string(&reference_path).expect("read reference scores");
    let _ = std::fs::remove_dir_all(&out_dir);
    content
        .lines()
        .map(|line| {
            let (_, compound) = line.split_once('\t').expect("index<TAB>compound");
            compound.trim().parse::<f64>().expect("numeric compound")
        })
        .collect()
}

#[test]
fn english_compound_matches_reference_vader() {
    let data = dev_data();
    if !data.exists() {
        eprintln!("SKIPPED: {} not found (reference data lives in ../shared/data)", data.display());
        return;
    }
    let rows = read_labelled_tsv(&data).expect("read dev data");
    let reference = reference_compounds(&data);
    assert_eq!(reference.len(), rows.len(), "reference and Rust read a different number of rows");

    let analyzer = SentimentAnalyzer::new();
    let mut matching = 0usize;
    let mut mismatches = Vec::new();
    for ((row, expected), index) in rows.iter().zip(&reference).zip(0..) {
        let actual = analyzer.score(&row.text, Language::En).compound;
        if (actual - expected).abs() <= TOLERANCE {
            matching += 1;
        } else {
            mismatches.push((index, *expected, actual, row.text.clone()));
        }
    }
    let rate = matching as f64 / rows.len() as f64;
    println!("vader parity: {matching}/{} compounds within {TOLERANCE} ({:.2}%)", rows.len(), rate * 100.0);
    for (index, expected, actual, text) in mismatches.iter().take(20) {
        println!("  row {index}: reference {expected:.4} rust {actual:.4} {text:?}");
    }
    assert!(rate >= REQUIRED_RATE, "parity {:.2}% below {:.0}%", rate * 100.0, REQUIRED_RATE * 100.0);
}
