//! Leiden community detection (V.A. Traag, L. Waltman, N.J. van Eck, "From Louvain to Leiden:
//! guaranteeing well-connected communities", Scientific Reports 9, 5233, 2019).
//!
//! One *iteration* repeats three phases on ever smaller graphs until local moving leaves every
//! node in its own community:
//!
//! 1. **fast local moving** ([`local_moving`]): queue-based greedy moves of single nodes;
//! 2. **refinement** ([`refine`]): inside each community, singletons merge at random into
//!    well-connected sub-communities, which are therefore connected;
//! 3. **aggregation** ([`aggregate`]): each *refined* community becomes a node, and the
//!    aggregate starts from the *non-refined* partition (a community of aggregate nodes per
//!    community found by local moving), so refinement never undoes the moving phase's work.
//!
//! Iterations repeat, each starting from the previous result, until one moves no node or
//! `max_iterations` is reached. Randomness (node orders, the refinement draw) comes from a
//! [`SeededRng`] built from `LeidenConfig::seed`: same graph + same config ⇒ same partition.
//!
//! **Connectivity guarantee.** Every refined community is connected (a node only joins a refined
//! community it has an edge to), and an iteration ends at a level where each community is a
//! single aggregate node, so each community is connected. When refinement cannot merge anything
//! (an aggregate would be as large as its graph) the level loop stops early; a final pass then
//! splits any community into its connected parts, which never lowers the quality
//! ([`split_disconnected_communities`]); `LeidenOutcome::split_communities` counts such splits and
//! a `debug_assert!` checks the result.
//!
//! **Warm start.** [`Leiden::run_warm`] starts from a previous partition: untouched nodes keep
//! their community and the first local-moving phase only queues the touched nodes and their
//! neighbours (nodes without a previous label start alone). Later iterations, if any, queue
//! every node as usual.

mod aggregate;
mod csr;
mod local_moving;
mod quality;
mod refine;
mod rng;
pub mod synthetic;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use csr::{CsrBuildError, CsrGraph};
pub use quality::{
    count_disconnected_communities, normalized_mutual_information, partition_quality, relabel_dense,
    split_disconnected_communities, QualityFunction,
};
pub use rng::SeededRng;

use aggregate::{aggregate_graph, AggregateBuffers};
use local_moving::{fast_move_nodes, MoveBuffers};
use refine::{refine_partition, RefineBuffers, RefineParameters};

/// Label meaning "no previous community" in a warm-start membership.
pub const UNASSIGNED: u32 = u32::MAX;

/// Settings of a Leiden run.
#[derive(Debug, Clone, PartialEq)]
pub struct LeidenConfig {
    /// Objective to maximise.
    pub quality: QualityFunction,
    /// Randomness `θ` of the refinement (0 = greedy). The paper and leidenalg use 0.01.
    pub randomness: f64,
    /// Upper bound on iterations; the run stops earlier as soon as an iteration moves no node.
    pub max_iterations: usize,
    /// Seed of the run's only source of randomness.
    pub seed: u64,
}

impl Default for LeidenConfig {
    fn default() -> Self {
        Self { quality: QualityFunction::Modularity { resolution: 1.0 }, randomness: 0.01, max_iterations: 10, seed: 1 }
    }
}

/// A previous partition to start from.
#[derive(Debug, Clone, Copy)]
pub struct WarmStart<'a> {
    /// One label per node (any `u32`, [`UNASSIGNED`] for nodes without one); shorter slices
    /// leave the remaining nodes unassigned.
    pub initial_membership: &'a [u32],
    /// Nodes whose edges changed since that partition; they and their neighbours are queued.
    pub touched_nodes: &'a [u32],
}

/// Result of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct LeidenOutcome {
    /// Community of every node, dense labels `0..community_count` in order of first appearance.
    pub membership: Vec<u32>,
    /// Number of communities.
    pub community_count: usize,
    /// Value of the configured quality function for `membership`.
    pub quality: f64,
    /// Iterations run.
    pub iterations: usize,
    /// Node moves made by local moving over all iterations and levels.
    pub moves: usize,
    /// Communities split by the final connectivity pass (0 in normal operation).
    pub split_communities: usize,
}

/// A Leiden optimiser holding reusable buffers (create once, run many times).
#[derive(Debug)]
pub struct Leiden {
    config: LeidenConfig,
    move_buffers: MoveBuffers,
    refine_buffers: RefineBuffers,
    aggregate_buffers: AggregateBuffers,
}

/// Runs Leiden once from singletons.
pub fn leiden(graph: &CsrGraph, config: &LeidenConfig) -> LeidenOutcome {
    Leiden::new(config.clone()).run(graph)
}

impl Leiden {
    /// Creates an optimiser with `config`.
    pub fn new(config: LeidenConfig) -> Self {
        Self {
            config,
            move_buffers: MoveBuffers::default(),
            refine_buffers: RefineBuffers::default(),
            aggregate_buffers: AggregateBuffers::default(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &LeidenConfig {
        &self.config
    }

    /// Runs from the singleton partition (every node alone).
    pub fn run(&mut self, graph: &CsrGraph) -> LeidenOutcome {
        let membership: Vec<u32> = (0..graph.node_count() as u32).collect();
        self.optimise(graph, membership, None)
    }

    /// Runs from a previous partition, revisiting touched nodes and their neighbours first.
    pub fn run_warm(&mut self, graph: &CsrGraph, warm_start: &WarmStart<'_>) -> LeidenOutcome {
        let node_count = graph.node_count();
        let membership = prepare_initial_membership(warm_start.initial_membership, node_count);
        let mut queued = vec![false; node_count];
        let mut first_queue: Vec<u32> = Vec::new();
        for &node in warm_start.touched_nodes {
            if (node as usize) < node_count && !queued[node as usize] {
                queued[node as usize] = true;
                first_queue.push(node);
            }
        }
        // Nodes new to the partition are touched by definition.
        for (node, &label) in warm_start.initial_membership.iter().enumerate().take(node_count) {
            if label == UNASSIGNED && !queued[node] {
                queued[node] = true;
                first_queue.push(node as u32);
            }
        }
        for (node, was_queued) in queued.iter_mut().enumerate().skip(warm_start.initial_membership.len()) {
            if !*was_queued {
                *was_queued = true;
                first_queue.push(node as u32);
            }
        }
        let touched_count = first_queue.len();
        for position in 0..touched_count {
            let (neighbours, _) = graph.neighbours(first_queue[position]);
            for &neighbour in neighbours {
                if !queued[neighbour as usize] {
                    queued[neighbour as usize] = true;
                    first_queue.push(neighbour);
                }
            }
        }
        self.optimise(graph, membership, Some(first_queue))
    }

    fn optimise(&mut self, graph: &CsrGraph, mut membership: Vec<u32>, first_queue: Option<Vec<u32>>) -> LeidenOutcome {
        let mut rng = SeededRng::new(self.config.seed);
        relabel_dense(&mut membership);
        let mut first_queue_opt = first_queue;
        if let Some(queue) = first_queue_opt.as_mut() {
            rng.shuffle(queue);
        }
        let mut iterations = 0usize;
        let mut total_moves = 0usize;
        while iterations < self.config.max_iterations.max(1) {
            iterations += 1;
            let moves = self.one_iteration(graph, &mut membership, first_queue_opt.take(), &mut rng);
            total_moves += moves;
            if moves == 0 {
                break;
            }
        }
        let split_communities = split_disconnected_communities(graph, &mut membership);
        let community_count = relabel_dense(&mut membership);
        debug_assert_eq!(count_disconnected_communities(graph, &membership), 0);
        let quality = partition_quality(graph, &membership, self.config.quality);
        LeidenOutcome { membership, community_count, quality, iterations, moves: total_moves, split_communities }
    }

    /// One Leiden iteration (move, refine, aggregate until stable); updates `membership` in
    /// place (dense labels on entry and exit) and returns the number of moves.
    fn one_iteration(
        &mut self,
        graph: &CsrGraph,
        membership: &mut [u32],
        first_queue: Option<Vec<u32>>,
        rng: &mut SeededRng,
    ) -> usize {
        let quality_function = self.config.quality;
        let mut aggregate_opt: Option<CsrGraph> = None;
        let mut level_membership: Vec<u32> = membership.to_vec();
        let mut level_of_node: Vec<u32> = (0..graph.node_count() as u32).collect();
        let mut refined: Vec<u32> = Vec::new();
        let mut queue = first_queue;
        let mut total_moves = 0usize;
        loop {
            let level_graph: &CsrGraph = aggregate_opt.as_ref().unwrap_or(graph);
            let level_node_count = level_graph.node_count();
            let masses = quality_function.masses(level_graph);
            let mass_penalty = quality_function.mass_penalty(level_graph);
            let level_queue = match queue.take() {
                Some(queue) => queue,
                None => {
                    let mut order: Vec<u32> = (0..level_node_count as u32).collect();
                    rng.shuffle(&mut order);
                    order
                }
            };
            total_moves += fast_move_nodes(
                level_graph,
                masses,
                mass_penalty,
                &mut level_membership,
                &level_queue,
                &mut self.move_buffers,
            );
            let community_count = relabel_dense(&mut level_membership);
            if community_count == level_node_count {
                break;
            }
            let parameters = RefineParameters {
                mass_penalty,
                gain_scale: quality_function.gain_scale(level_graph),
                randomness: self.config.randomness,
            };
            refine_partition(
                level_graph,
                masses,
                &parameters,
                &level_membership,
                community_count,
                rng,
                &mut self.refine_buffers,
                &mut refined,
            );
            let refined_count = relabel_dense(&mut refined);
            if refined_count == level_node_count {
                // Nothing merged: aggregating would not shrink the graph.
                break;
            }
            let next_graph = aggregate_graph(level_graph, &refined, refined_count, &mut self.aggregate_buffers);
            let mut next_membership = vec![0u32; refined_count];
            for (node, &refined_label) in refined.iter().enumerate() {
                next_membership[refined_label as usize] = level_membership[node];
            }
            for level_node in level_of_node.iter_mut() {
                *level_node = refined[*level_node as usize];
            }
            level_membership = next_membership;
            aggregate_opt = Some(next_graph);
        }
        for (node, level_node) in level_of_node.iter().enumerate() {
            membership[node] = level_membership[*level_node as usize];
        }
        relabel_dense(membership);
        total_moves
    }
}

/// Turns a caller's membership (any labels, [`UNASSIGNED`] or missing for new nodes) into dense
/// labels where every unassigned node is alone.
fn prepare_initial_membership(initial_membership: &[u32], node_count: usize) -> Vec<u32> {
    let mut mapping: HashMap<u32, u32> = HashMap::new();
    let mut membership = Vec::with_capacity(node_count);
    let mut fresh_nodes = Vec::new();
    for node in 0..node_count {
        let label = initial_membership.get(node).copied().unwrap_or(UNASSIGNED);
        if label == UNASSIGNED {
            membership.push(0);
            fresh_nodes.push(node);
        } else {
            let next_label = mapping.len() as u32;
            membership.push(*mapping.entry(label).or_insert(next_label));
        }
    }
    let first_fresh_label = mapping.len() as u32;
    for (offset, node) in fresh_nodes.into_iter().enumerate() {
        membership[node] = first_fresh_label + offset as u32;
    }
    membership
}
