//! Leiden benchmarks: a static run on a planted-partition graph of ~1M edges, and an incremental
//! (warm-start) update after 1000 new edges against recomputing from scratch.
//!
//! Run with `cargo bench -p murmur-detect --bench leiden`. `leiden-eval speed` prints the same
//! figures once, with CPU time, as edges per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use murmur_detect::leiden::synthetic::PlantedPartition;
use murmur_detect::leiden::{CsrGraph, Leiden, LeidenConfig, WarmStart};

const NODE_COUNT: usize = 100_000;

fn planted_graph() -> (Vec<(u32, u32, f64)>, CsrGraph) {
    let generator =
        PlantedPartition { node_count: NODE_COUNT, community_count: 500, average_degree: 20, mixing: 0.3, seed: 7 };
    let (edges, _) = generator.generate();
    let graph = CsrGraph::from_edges(NODE_COUNT, &edges).expect("generated edges are valid");
    (edges, graph)
}

fn static_run(criterion: &mut Criterion) {
    let (_, graph) = planted_graph();
    let mut optimiser = Leiden::new(LeidenConfig::default());
    let mut group = criterion.benchmark_group("leiden");
    group.sample_size(10);
    group.throughput(Throughput::Elements(graph.edge_count() as u64));
    group.bench_function("static_1m_edges", |bencher| bencher.iter(|| optimiser.run(&graph)));
    group.finish();
}

fn incremental_update(criterion: &mut Criterion) {
    let (mut edges, graph) = planted_graph();
    let mut optimiser = Leiden::new(LeidenConfig::default());
    let previous = optimiser.run(&graph);
    let mut touched = Vec::new();
    for index in 0..1000u32 {
        let source = (index * 7919) % NODE_COUNT as u32;
        let target = (source + 500 * (1 + index % 5)) % NODE_COUNT as u32;
        edges.push((source, target, 1.0));
        touched.extend([source, target]);
    }
    let updated = CsrGraph::from_edges(NODE_COUNT, &edges).expect("valid");
    let mut group = criterion.benchmark_group("leiden_after_1000_new_edges");
    group.sample_size(10);
    group.bench_function("recompute", |bencher| bencher.iter(|| optimiser.run(&updated)));
    group.bench_function("warm_start", |bencher| {
        bencher.iter(|| {
            optimiser
                .run_warm(&updated, &WarmStart { initial_membership: &previous.membership, touched_nodes: &touched })
        })
    });
    group.finish();
}

criterion_group!(benches, static_run, incremental_update);
criterion_main!(benches);
