//! Prints the lexicon scorer's figures on the shared dev sets: macro-recall, macro-F1, accuracy
//! and confusion for `en_dev.tsv` and `fr_dev.tsv` (French also split into the even rows used
//! to curate the French lexicon and the odd rows held out from it), plus language
//! identification accuracy on both files.
//!
//! `cargo run -p murmur-lexicon --example dev_report [-- DATA_DIR]`
//! (DATA_DIR defaults to `../shared/data/sentiment` beside the repository).

use std::path::PathBuf;

use murmur_lexicon::eval::{evaluate, read_labelled_tsv, LabelledRow};
use murmur_lexicon::{detect_language, Language, SentimentAnalyzer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/data/sentiment"));
    let english_path = data_dir.join("en_dev.tsv");
    let french_path = data_dir.join("fr_dev.tsv");
    if !english_path.exists() || !french_path.exists() {
        println!("skipped: dev sets not found in {}", data_dir.display());
        return Ok(());
    }
    let english = read_labelled_tsv(&english_path)?;
    let french = read_labelled_tsv(&french_path)?;
    let analyzer = SentimentAnalyzer::new();
    let classify =
        |language: Language| move |text: &str| SentimentAnalyzer::label(analyzer.score(text, language).compound);

    println!("== en_dev.tsv, English VADER\n{}", evaluate(&english, classify(Language::En)));
    println!("== fr_dev.tsv, French VADER (all rows)\n{}", evaluate(&french, classify(Language::Fr)));
    let even: Vec<LabelledRow> = french.iter().step_by(2).cloned().collect();
    let odd: Vec<LabelledRow> = french.iter().skip(1).step_by(2).cloned().collect();
    println!("== fr_dev.tsv even rows (lexicon curated on these)\n{}", evaluate(&even, classify(Language::Fr)));
    println!("== fr_dev.tsv odd rows (held out)\n{}", evaluate(&odd, classify(Language::Fr)));
    println!("== fr_dev.tsv, English VADER (baseline)\n{}", evaluate(&french, classify(Language::En)));
    println!(
        "== fr_dev.tsv, auto-detected language\n{}",
        evaluate(&french, |text| SentimentAnalyzer::label(analyzer.score_auto(text, None).1.compound))
    );

    let mut correct = 0usize;
    let mut unknown = 0usize;
    for (rows, expected) in [(&english, Language::En), (&french, Language::Fr)] {
        for row in rows.iter() {
            let detected = detect_language(&row.text, None);
            correct += usize::from(detected == expected);
            unknown += usize::from(detected == Language::Unknown);
        }
    }
    let total = english.len() + french.len();
    println!(
        "== language identification on en_dev + fr_dev: {correct}/{total} correct ({:.2}%), {unknown} unknown",
        100.0 * correct as f64 / total as f64
    );
    if std::env::var_os("SHOW_ERRORS").is_some() {
        for (index, row) in french.iter().enumerate().filter(|(index, _)| index % 2 == 0) {
            let compound = analyzer.score(&row.text, Language::Fr).compound;
            let predicted = SentimentAnalyzer::label(compound);
            if predicted != row.label {
                println!("ERR {index}\t{}\t{}\t{compound:.3}\t{}", row.label.as_str(), predicted.as_str(), row.text);
            }
        }
    }
    Ok(())
}
