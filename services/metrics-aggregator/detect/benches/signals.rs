//! Throughput of term extraction and signal updates (posts/s), and the memory of the signal state with one
//! million distinct terms.
//!
//! `cargo bench -p murmur-detect --bench signals` (criterion prints posts/s as "elem/s"; the memory report is
//! printed first).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use murmur_detect::signals::synthetic::SplitMix64;
use murmur_detect::signals::{SignalConfig, SignalDetector, SignalObservation};
use murmur_detect::terms::{Language, TermExtractor};

const WORDS_EN: &[&str] = &[
    "battery", "recall", "price", "fuel", "strike", "train", "delay", "service", "update", "outage", "phone",
    "network", "customer", "refund", "support", "election", "vote", "city", "traffic", "weather", "storm", "the", "is",
    "a", "of", "and", "to", "in", "for", "with", "this", "really", "new",
];
const WORDS_FR: &[&str] = &[
    "grève",
    "essence",
    "prix",
    "élection",
    "réforme",
    "retraites",
    "métro",
    "panne",
    "réseau",
    "client",
    "remboursement",
    "tempête",
    "pénurie",
    "manifestation",
    "le",
    "la",
    "les",
    "de",
    "du",
    "et",
    "à",
    "est",
    "pour",
    "dans",
    "une",
    "très",
    "l'augmentation",
    "d'électricité",
];

/// Posts of 12–40 words, half English half French, some hashtags, mentions and URLs, plus a long tail of
/// rare words so the vocabulary keeps growing like a real stream.
fn corpus(post_count: usize, seed: u64) -> Vec<(String, Language)> {
    let mut random = SplitMix64::new(seed);
    (0..post_count)
        .map(|index| {
            let is_french = index % 2 == 0;
            let words = if is_french { WORDS_FR } else { WORDS_EN };
            let length = 12 + random.below(29) as usize;
            let mut text = String::new();
            for position in 0..length {
                if position > 0 {
                    text.push(' ');
                }
                match random.below(40) {
                    0 => text.push_str(&format!("#tag{}", random.below(500))),
                    1 => text.push_str("@someone"),
                    2 => text.push_str("https://example.org/a/b"),
                    3 | 4 => text.push_str(&format!("rare{}", random.below(1_000_000))),
                    _ => text.push_str(words[random.below(words.len() as u32) as usize]),
                }
                if random.below(12) == 0 {
                    text.push_str(", ");
                }
            }
            (text, if is_french { Language::French } else { Language::English })
        })
        .collect()
}

fn report_memory_with_a_million_terms() {
    let mut detector = SignalDetector::new(SignalConfig::default());
    let started = Instant::now();
    let mut observations = 0u64;
    for bucket in 0..3i64 {
        for term_index in 0..1_000_000u32 {
            // Three occurrences each in the first bucket: every term asks for promotion, which is the worst
            // case for the bounded tracked set; later buckets see each once.
            let repeats = if bucket == 0 { 3 } else { 1 };
            let terms = vec![format!("term number {term_index}")];
            for repeat in 0..repeats {
                detector.observe(&SignalObservation {
                    author: term_index.wrapping_mul(31).wrapping_add(repeat),
                    channel: if term_index % 2 == 0 { "channel-a" } else { "channel-b" },
                    community: Some(u64::from(term_index % 16)),
                    language: Language::English,
                    created_at: bucket * 3_600_000,
                    terms: &terms,
                });
                observations += 1;
            }
        }
        detector.close_bucket(bucket * 3_600_000, (bucket + 1) * 3_600_000);
    }
    let elapsed = started.elapsed();
    println!(
        "signal state with 1,000,000 distinct terms ({observations} observations over 3 buckets): {:.1} MiB, \
         {} exactly tracked terms (cap {}), {:.0} single-term observations/s",
        detector.memory_bytes() as f64 / (1024.0 * 1024.0),
        detector.tracked_term_count(),
        detector.config().max_tracked_terms,
        observations as f64 / elapsed.as_secs_f64()
    );
}

fn bench_throughput(criterion: &mut Criterion) {
    let posts = corpus(20_000, 11);
    let extractor = TermExtractor::default();
    let mut group = criterion.benchmark_group("signals");
    group.throughput(Throughput::Elements(posts.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("extract_terms", |bencher| {
        bencher.iter(|| {
            let mut total_terms = 0usize;
            for (text, language) in &posts {
                total_terms += extractor.extract(text, &[], *language).len();
            }
            black_box(total_terms)
        })
    });
    let extracted: Vec<Vec<String>> =
        posts.iter().map(|(text, language)| extractor.extract(text, &[], *language)).collect();
    group.bench_function("signal_update", |bencher| {
        let mut detector = SignalDetector::new(SignalConfig::default());
        let mut bucket = 0i64;
        bencher.iter(|| {
            for (index, terms) in extracted.iter().enumerate() {
                detector.observe(&SignalObservation {
                    author: index as u32,
                    channel: if index % 3 == 0 { "a" } else { "b" },
                    community: Some((index % 7) as u64),
                    language: Language::French,
                    created_at: bucket,
                    terms,
                });
            }
            black_box(detector.close_bucket(bucket, bucket + 1).signals.len());
            bucket += 1;
        })
    });
    group.bench_function("extract_and_update", |bencher| {
        let mut detector = SignalDetector::new(SignalConfig::default());
        let mut bucket = 0i64;
        bencher.iter(|| {
            for (index, (text, language)) in posts.iter().enumerate() {
                let terms = extractor.extract(text, &[], *language);
                detector.observe(&SignalObservation {
                    author: index as u32,
                    channel: if index % 3 == 0 { "a" } else { "b" },
                    community: Some((index % 7) as u64),
                    language: *language,
                    created_at: bucket,
                    terms: &terms,
                });
            }
            black_box(detector.close_bucket(bucket, bucket + 1).signals.len());
            bucket += 1;
        })
    });
    group.finish();
}

fn main() {
    report_memory_with_a_million_terms();
    let mut criterion = Criterion::default().configure_from_args();
    bench_throughput(&mut criterion);
    criterion.final_summary();
}
