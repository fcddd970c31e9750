//! Evaluation command for murmur's Leiden and interaction graph (prints figures; not a test).
//!
//! ```text
//! leiden-eval lfr DIR                 NMI / modularity / connectivity / time on DIR/lfr_mu*.edges
//!                                     (means over 5 seeds; iterating until the partition stops
//!                                     improving, see LFR_PATIENCE)
//! leiden-eval speed [EDGES] [--write-edges FILE]
//!                                     static runs (median of 9) and an incremental update on a
//!                                     planted-partition graph; FILE gets that graph ("u v w" per
//!                                     edge) for `scripts/leidenalg_speed.py`
//! leiden-eval memory [ACTORS EDGES]   bytes of the interaction graph, its CSR snapshot and Leiden on it
//! ```
//!
//! `scripts/leiden-eval` generates the LFR graphs, runs leidenalg on them and this command, and
//! prints both side by side.

mod shared;

use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use murmur_detect::graph::{GraphConfig, InteractionGraph, InteractionKind};
use murmur_detect::leiden::synthetic::PlantedPartition;
use murmur_detect::leiden::{
    count_disconnected_communities, normalized_mutual_information, CsrGraph, Leiden, LeidenConfig, WarmStart,
};

use shared::report;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let result = match arguments.first().map(String::as_str) {
        Some("lfr") => match arguments.get(1) {
            Some(directory) => evaluate_lfr(Path::new(directory)),
            None => Err("usage: leiden-eval lfr DIR".to_string()),
        },
        Some("speed") => {
            let (numbers, edges_file) = split_option(&arguments[1..], "--write-edges");
            edges_file
                .and_then(|file| parse_or(numbers.first(), 1_000_000).map(|edges| (edges, file)))
                .and_then(|(edges, file)| evaluate_speed(edges, file.as_deref()))
        }
        Some("memory") => parse_or(arguments.get(1), 1_000_000)
            .and_then(|actors| parse_or(arguments.get(2), 10_000_000).map(|edges| (actors, edges)))
            .and_then(|(actors, edges)| evaluate_memory(actors, edges)),
        _ => Err("usage: leiden-eval lfr DIR | speed [EDGES] [--write-edges FILE] | memory [ACTORS EDGES]".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("leiden-eval: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_or(argument: Option<&String>, default: usize) -> Result<usize, String> {
    match argument {
        Some(text) => text.replace('_', "").parse().map_err(|error| format!("bad number {text:?}: {error}")),
        None => Ok(default),
    }
}

/// The arguments without `option VALUE`, and that value (an error when the option has none).
fn split_option(arguments: &[String], option: &str) -> (Vec<String>, Result<Option<String>, String>) {
    let mut rest = Vec::new();
    let mut value = Ok(None);
    let mut remaining = arguments.iter();
    while let Some(argument) = remaining.next() {
        if argument == option {
            value = remaining.next().cloned().map(Some).ok_or_else(|| format!("{option} needs a value"));
        } else {
            rest.push(argument.clone());
        }
    }
    (rest, value)
}

fn read_numbers(path: &Path) -> Result<Vec<Vec<u32>>, String> {
    let text = fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            line.split_whitespace()
                .map(|field| field.parse::<u32>().map_err(|error| format!("{}: {field:?}: {error}", path.display())))
                .collect()
        })
        .collect()
}

/// Seeds per LFR graph (figures are means over them).
const LFR_SEEDS: u64 = 5;

/// Idle iterations tolerated before a run on an LFR graph stops (`LeidenConfig::patience`).
/// leidenalg (`n_iterations = -1`) stops at the first iteration that does not improve the
/// partition; murmur keeps iterating until `LFR_PATIENCE + 1` iterations in a row have not
/// improved it. The table also reports murmur under leidenalg's rule (patience 0).
const LFR_PATIENCE: usize = 10;

/// Means over the seeds of one configuration on one graph.
#[derive(Default)]
struct LfrFigures {
    modularity: f64,
    nmi: f64,
    cpu_seconds: f64,
    communities: f64,
    iterations: f64,
    disconnected: usize,
}

fn run_lfr_seeds(graph: &CsrGraph, truth: &[u32], patience: usize) -> LfrFigures {
    let mut figures = LfrFigures::default();
    for seed in 1..=LFR_SEEDS {
        // Iterate until the partition stops improving: no tolerance, no practical iteration cap.
        let config = LeidenConfig { max_iterations: 10_000, tolerance: 0.0, patience, seed, ..LeidenConfig::default() };
        let mut optimiser = Leiden::new(config);
        let (outcome, _, seconds) = timed(|| optimiser.run(graph));
        figures.modularity += outcome.quality;
        figures.nmi += normalized_mutual_information(&outcome.membership, truth);
        figures.cpu_seconds += seconds;
        figures.communities += outcome.community_count as f64;
        figures.iterations += outcome.iterations as f64;
        // The worst case, not a mean: every run must keep its communities connected.
        figures.disconnected += count_disconnected_communities(graph, &outcome.membership);
    }
    let runs = LFR_SEEDS as f64;
    figures.modularity /= runs;
    figures.nmi /= runs;
    figures.cpu_seconds /= runs;
    figures.communities /= runs;
    figures.iterations /= runs;
    figures
}

fn evaluate_lfr(directory: &Path) -> Result<(), String> {
    let mut stems: Vec<String> = fs::read_dir(directory)
        .map_err(|error| format!("{}: {error}", directory.display()))?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().to_str().and_then(|name| name.strip_suffix(".edges")).map(String::from))
        .collect();
    stems.sort();
    report!(
        "mu\tnodes\tedges\tmurmur_modularity\tmurmur_nmi\tmurmur_cpu_seconds\t\
         murmur_communities\tmurmur_iterations\tdisconnected\tedges_per_cpu_s\t\
         first_idle_modularity\tfirst_idle_nmi\tfirst_idle_cpu_seconds\tfirst_idle_iterations"
    );
    for stem in stems {
        let edge_rows = read_numbers(&directory.join(format!("{stem}.edges")))?;
        let truth: Vec<u32> = read_numbers(&directory.join(format!("{stem}.truth")))?
            .into_iter()
            .filter_map(|row| row.first().copied())
            .collect();
        let edges: Vec<(u32, u32, f64)> =
            edge_rows.iter().filter(|row| row.len() >= 2).map(|row| (row[0], row[1], 1.0)).collect();
        let graph = CsrGraph::from_edges(truth.len(), &edges).map_err(|error| error.to_string())?;
        let murmur = run_lfr_seeds(&graph, &truth, LFR_PATIENCE);
        let first_idle = run_lfr_seeds(&graph, &truth, 0);
        let mu = stem.trim_start_matches("lfr_mu");
        report!(
            "{mu}\t{}\t{}\t{:.6}\t{:.4}\t{:.4}\t{:.1}\t{:.1}\t{}\t{:.0}\t{:.6}\t{:.4}\t{:.4}\t{:.1}",
            graph.node_count(),
            graph.edge_count(),
            murmur.modularity,
            murmur.nmi,
            murmur.cpu_seconds,
            murmur.communities,
            murmur.iterations,
            murmur.disconnected + first_idle.disconnected,
            graph.edge_count() as f64 / murmur.cpu_seconds,
            first_idle.modularity,
            first_idle.nmi,
            first_idle.cpu_seconds,
            first_idle.iterations,
        );
    }
    Ok(())
}

/// Timed static runs in `leiden-eval speed` (the median is reported, with the slowest and fastest).
const SPEED_RUNS: usize = 9;

fn evaluate_speed(edge_target: usize, edges_file: Option<&str>) -> Result<(), String> {
    let average_degree = 20;
    let node_count = (edge_target * 2 / average_degree).max(100);
    let generator = PlantedPartition {
        node_count,
        community_count: (node_count / 200).max(2),
        average_degree,
        mixing: 0.3,
        seed: 7,
    };
    let (mut edges, truth) = generator.generate();
    let graph = CsrGraph::from_edges(node_count, &edges).map_err(|error| error.to_string())?;
    if let Some(path) = edges_file {
        write_edges(&graph, Path::new(path))?;
    }
    let config = LeidenConfig::default();
    let mut optimiser = Leiden::new(config.clone());
    // Warm the buffers once, as a long-running service would have. Then SPEED_RUNS timed runs
    // (identical: the seed is fixed): one run is a fifth of a second, so a single figure is at
    // the mercy of whatever else the machine does; the median is the figure to quote.
    let _ = optimiser.run(&graph);
    let mut cpu_seconds = Vec::with_capacity(SPEED_RUNS);
    let mut cold = None;
    for _ in 0..SPEED_RUNS {
        let (outcome, _, seconds) = timed(|| optimiser.run(&graph));
        cpu_seconds.push(seconds);
        cold = Some(outcome);
    }
    let cold = cold.expect("at least one run");
    cpu_seconds.sort_by(f64::total_cmp);
    let rate = |seconds: f64| graph.edge_count() as f64 / seconds;
    let median = cpu_seconds[SPEED_RUNS / 2];
    report!(
        "static: nodes={} edges={} runs={SPEED_RUNS} cpu_seconds_median={median:.4} edges_per_cpu_s={:.0} \
         edges_per_cpu_s_min={:.0} edges_per_cpu_s_max={:.0} modularity={:.4} nmi={:.4} iterations={} \
         communities={} disconnected={}",
        graph.node_count(),
        graph.edge_count(),
        rate(median),
        rate(cpu_seconds[SPEED_RUNS - 1]),
        rate(cpu_seconds[0]),
        cold.quality,
        normalized_mutual_information(&cold.membership, &truth),
        cold.iterations,
        cold.community_count,
        count_disconnected_communities(&graph, &cold.membership),
    );

    // A small batch: 1000 new edges (0.1 % of a 1M-edge graph) inside planted communities.
    let community_count = generator.community_count as u32;
    let mut touched = Vec::new();
    for index in 0..1000u32 {
        let source = (index * 7919) % node_count as u32;
        let target = (source + community_count * (1 + index % 5)) % node_count as u32;
        edges.push((source, target, 1.0));
        touched.extend([source, target]);
    }
    let updated = CsrGraph::from_edges(node_count, &edges).map_err(|error| error.to_string())?;
    let (recomputed, _, recompute_seconds) = timed(|| optimiser.run(&updated));
    let warm_start = WarmStart { initial_membership: &cold.membership, touched_nodes: &touched };
    let (incremental, _, incremental_seconds) = timed(|| optimiser.run_warm(&updated, &warm_start));
    report!(
        "incremental: new_edges=1000 recompute_cpu_seconds={recompute_seconds:.4} \
         incremental_cpu_seconds={incremental_seconds:.4} \
         speedup={:.1}x recompute_modularity={:.4} incremental_modularity={:.4} nmi_incremental_vs_previous={:.4} \
         disconnected={}",
        recompute_seconds / incremental_seconds,
        recomputed.quality,
        incremental.quality,
        normalized_mutual_information(&incremental.membership, &cold.membership),
        count_disconnected_communities(&updated, &incremental.membership),
    );
    Ok(())
}

/// `graph`'s edges, one "u v w" line each (u < v, parallel edges summed as murmur sees them).
fn write_edges(graph: &CsrGraph, path: &Path) -> Result<(), String> {
    use std::io::Write;
    let failed = |error: std::io::Error| format!("{}: {error}", path.display());
    let mut output = std::io::BufWriter::new(fs::File::create(path).map_err(failed)?);
    for node in 0..graph.node_count() as u32 {
        let (neighbours, weights) = graph.neighbours(node);
        for (&neighbour, &weight) in neighbours.iter().zip(weights) {
            if node < neighbour {
                writeln!(output, "{node} {neighbour} {weight}").map_err(failed)?;
            }
        }
    }
    output.flush().map_err(failed)
}

fn evaluate_memory(actor_count: usize, edge_count: usize) -> Result<(), String> {
    let config = GraphConfig::default();
    let mut graph = InteractionGraph::with_capacity(config.clone(), actor_count, edge_count);
    let generator = PlantedPartition {
        node_count: actor_count,
        community_count: (actor_count / 500).max(1),
        average_degree: (2 * edge_count / actor_count.max(1)).max(2),
        mixing: 0.3,
        seed: 3,
    };
    let started = Instant::now();
    let names: Vec<String> = (0..actor_count).map(|actor| format!("actor-{actor:08x}")).collect();
    let ids: Vec<u32> = names.iter().map(|name| graph.actor(name, 0)).collect();
    let (edges, _) = generator.generate();
    let step_ms = config.window_ms / 2 / edges.len().max(1) as i64;
    let mut rejected = 0usize;
    for (index, &(source, target, _)) in edges.iter().enumerate() {
        let time = index as i64 * step_ms;
        if graph.add_interaction(ids[source as usize], ids[target as usize], InteractionKind::Reply, 1.0, time).is_err()
        {
            rejected += 1;
        }
    }
    let fill_seconds = started.elapsed().as_secs_f64();
    let interaction_count = edges.len();
    drop(edges);
    let graph_bytes = graph.memory_bytes();
    let started = Instant::now();
    let snapshot = graph.snapshot(config.window_ms / 2);
    let snapshot_seconds = started.elapsed().as_secs_f64();
    let csr_bytes = snapshot.graph.memory_bytes();
    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    report!(
        "memory: actors={} interactions={interaction_count} rejected={rejected} live_pairs={} \
         fill_seconds={fill_seconds:.1} graph_bytes={graph_bytes} ({:.0} MiB, {:.1} bytes/pair) \
         snapshot_seconds={snapshot_seconds:.2} csr_bytes={csr_bytes} \
         ({:.0} MiB) peak_rss={}",
        graph.live_actor_count(),
        graph.pair_count(),
        mib(graph_bytes),
        graph_bytes as f64 / graph.pair_count().max(1) as f64,
        mib(csr_bytes),
        peak_resident_set().unwrap_or_else(|| "unknown".to_string()),
    );
    // Leiden on that snapshot, as a detection run does: the optimiser's grouped copy and buffers
    // come on top of the graph and the snapshot.
    let mut optimiser = Leiden::new(LeidenConfig::default());
    let (outcome, _, leiden_cpu_seconds) = timed(|| optimiser.run(&snapshot.graph));
    let leiden_bytes = optimiser.memory_bytes();
    report!(
        "leiden: cpu_seconds={leiden_cpu_seconds:.2} edges_per_cpu_s={:.0} communities={} iterations={} \
         workspace_bytes={leiden_bytes} ({:.0} MiB, {:.2}x the snapshot) peak_rss={}",
        snapshot.graph.edge_count() as f64 / leiden_cpu_seconds.max(1e-9),
        outcome.community_count,
        outcome.iterations,
        mib(leiden_bytes),
        leiden_bytes as f64 / csr_bytes.max(1) as f64,
        peak_resident_set().unwrap_or_else(|| "unknown".to_string()),
    );
    Ok(())
}

/// Seconds this thread has spent on a CPU (Linux schedstat), so figures taken on a busy shared
/// machine are not inflated by time-slicing; falls back to 0 elsewhere.
fn thread_cpu_seconds() -> f64 {
    fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next().and_then(|field| field.parse::<f64>().ok()))
        .map_or(0.0, |nanoseconds| nanoseconds / 1e9)
}

/// Wall and CPU seconds of `work`.
fn timed<T>(work: impl FnOnce() -> T) -> (T, f64, f64) {
    let cpu_started = thread_cpu_seconds();
    let started = Instant::now();
    let value = work();
    (value, started.elapsed().as_secs_f64(), thread_cpu_seconds() - cpu_started)
}

/// Peak resident set size from /proc (Linux); None elsewhere.
fn peak_resident_set() -> Option<String> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|line| line.starts_with("VmHWM"))
        .map(|line| line.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
}
