//! Transformer throughput on the CPU: texts per second of one model call (MiniLM embedding plus
//! the softmax head when MURMUR_TRANSFORMER_HEAD exists) at batch sizes 1, 8 and 32, on tweets
//! from ../shared/data when present (else generated tweet-length texts).
//!
//! `eval "$(scripts/torch-env)"; cargo bench -p sentiment-scorer --features transformer --bench transformer`

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sentiment_scorer::transformer::encoder::SentenceEncoder;
use sentiment_scorer::transformer::head::{LexiconFeatures, SoftmaxHead};
use sentiment_scorer::transformer::scorer::{TransformerJob, TransformerModels};
use sentiment_scorer::transformer::BatchModel;

fn sample_texts() -> Vec<String> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sentiment/en_dev.tsv");
    let from_data: Vec<String> = std::fs::read_to_string(data)
        .map(|content| {
            content
                .lines()
                .skip(1)
                .filter_map(|line| line.split_once('\t'))
                .map(|(_, text)| text.to_string())
                .take(256)
                .collect()
        })
        .unwrap_or_default();
    if from_data.len() >= 32 {
        return from_data;
    }
    (0..256)
        .map(|index| format!("Post {index}: honestly the new trail shoes feel great on long runs, but the laces keep coming undone @user #running"))
        .collect()
}

fn transformer_throughput(criterion: &mut Criterion) {
    let model_dir = PathBuf::from(
        std::env::var_os("MURMUR_TRANSFORMER_MODEL_DIR").expect("run `eval \"$(scripts/torch-env)\"` first"),
    );
    let encoder = SentenceEncoder::load(&model_dir).expect("MiniLM loads");
    let head = std::env::var_os("MURMUR_TRANSFORMER_HEAD")
        .map(PathBuf::from)
        .filter(|path| path.is_file())
        .map(|path| SoftmaxHead::load(&path).expect("head loads"));
    let with_head = head.is_some();
    let mut models = TransformerModels::new(encoder, head, None);
    let texts = sample_texts();

    let mut group =
        criterion.benchmark_group(if with_head { "transformer_embed_and_head" } else { "transformer_embed" });
    group.sample_size(10);
    for batch_size in [1usize, 8, 32] {
        let jobs: Vec<Vec<TransformerJob>> = texts
            .chunks(batch_size)
            .filter(|chunk| chunk.len() == batch_size)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|text| TransformerJob {
                        text: text.clone(),
                        lexicon: LexiconFeatures::default(),
                        want_sentiment: with_head,
                        want_embedding: true,
                    })
                    .collect()
            })
            .collect();
        group.throughput(Throughput::Elements(batch_size as u64));
        let mut next = 0;
        group.bench_with_input(BenchmarkId::new("batch", batch_size), &batch_size, |bencher, _| {
            bencher.iter(|| {
                let batch = &jobs[next % jobs.len()];
                next += 1;
                models.run_batch(batch).expect("runs")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, transformer_throughput);
criterion_main!(benches);
