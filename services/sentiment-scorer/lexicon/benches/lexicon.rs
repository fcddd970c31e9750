//! Lexicon scorer throughput on one core: tweets/s over the texts of `en_dev.tsv` (English
//! VADER, the target is ≥ 100,000 tweets/s; the Python reference does ~20,000, see
//! `scripts/vader-parity`), French over `fr_dev.tsv`, language identification, and the
//! detect + score path the service runs. Falls back to a small built-in sample when
//! `../shared/data` is absent.
//!
//! `cargo bench -p murmur-lexicon`

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use murmur_lexicon::eval::read_labelled_tsv;
use murmur_lexicon::{detect_language, Language, SentimentAnalyzer};

const FALLBACK: &[&str] = &[
    "VADER is smart, handsome, and funny.",
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "Today only kinda sux! But I'll get by, lol",
    "Catch utf-8 emoji such as 💘 and 💋 and 😁",
    "je n'aime pas du tout ce film, c'est l'horreur",
];

fn texts(file: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/data/sentiment").join(file);
    match read_labelled_tsv(&path) {
        Ok(rows) => rows.into_iter().map(|row| row.text).collect(),
        Err(_) => {
            eprintln!("{} not found, benchmarking the built-in sample", path.display());
            FALLBACK.iter().map(|text| (*text).to_owned()).collect()
        }
    }
}

fn bench(c: &mut Criterion) {
    let english = texts("en_dev.tsv");
    let french = texts("fr_dev.tsv");
    let analyzer = SentimentAnalyzer::new();
    let mut group = c.benchmark_group("lexicon");

    group.throughput(Throughput::Elements(english.len() as u64));
    group.bench_function("english_vader_en_dev", |b| {
        b.iter(|| {
            for text in &english {
                black_box(analyzer.score(black_box(text), Language::En));
            }
        })
    });
    group.throughput(Throughput::Elements(french.len() as u64));
    group.bench_function("french_vader_fr_dev", |b| {
        b.iter(|| {
            for text in &french {
                black_box(analyzer.score(black_box(text), Language::Fr));
            }
        })
    });
    group.throughput(Throughput::Elements(english.len() as u64));
    group.bench_function("detect_language_en_dev", |b| {
        b.iter(|| {
            for text in &english {
                black_box(detect_language(black_box(text), None));
            }
        })
    });
    group.bench_function("detect_and_score_en_dev", |b| {
        b.iter(|| {
            for text in &english {
                black_box(analyzer.score_auto(black_box(text), None));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
