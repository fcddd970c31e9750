//! Leiden community detection (V.A. Traag, L. Waltman, N.J. van Eck, "From Louvain to Leiden:
//! guaranteeing well-connected communities", Scientific Reports 9, 5233, 2019).
//!
//! One *iteration* repeats three phases on ever smaller graphs until local moving leaves every
//! node in its own community:
//!
//! 1. **fast local moving** ([`local_moving`]): greedy moves of single nodes, re-examining only
//!    nodes whose neighbourhood changed;
//! 2. **refinement** ([`refine`]): inside each community, singletons merge at random into
//!    well-connected sub-communities, which are therefore connected;
//! 3. **aggregation** ([`aggregate`]): each *refined* community becomes a node, and the
//!    aggregate starts from the *non-refined* partition (a community of aggregate nodes per
//!    community found by local moving), so refinement never undoes the moving phase's work.
//!
//! **Iterations.** Each iteration starts from the previous one's partition. They stop after
//! `max_iterations`, or after `patience + 1` iterations in a row that improve the quality by at
//! most `tolerance × |quality|` (with `tolerance = 0` and `patience = 0`: as soon as one moves
//! no node, which is leidenalg's rule for `n_iterations = −1`).
//!
//! **Level 0.** A run first does the local moving of level 0 on the input graph (from
//! singletons, or, for a warm start, not at all yet). It then copies the graph with its nodes
//! renumbered community by community, in random order within each community ([`reorder`]), and
//! everything else (the rest of iteration 1, and every later iteration) runs on that copy: its
//! rows are read front to back and most neighbours of a node are in the same block of rows,
//! which keeps the memory accesses local once the graph outgrows the caches. The quality
//! reported is computed on the last aggregate of the last iteration (aggregation preserves it),
//! or on the input graph when the connectivity pass split a community.
//!
//! Randomness (the renumbering, the refinement draw) comes from a [`SeededRng`] built from
//! `LeidenConfig::seed`: same graph + same config ⇒ same partition.
//!
//! **Connectivity guarantee.** Every refined community is connected (a node only joins a refined
//! community it has an edge to), and an iteration ends at a level where each community is a
//! single aggregate node, so each community is connected. When refinement cannot merge anything
//! (an aggregate would be as large as its graph) the level loop stops early, and a warm start
//! keeps some communities whole (below); then a final pass splits any community into its
//! connected parts, which never lowers the quality ([`split_disconnected_communities`]);
//! `LeidenOutcome::split_communities` counts such splits and a `debug_assert!` checks the result.
//!
//! **Warm start.** [`Leiden::run_warm`] starts from a previous partition: untouched nodes keep
//! their community and the first local-moving phase only examines the touched nodes and their
//! neighbours (nodes without a previous label start alone). In that first iteration, the
//! communities that local moving left unchanged (no member left or joined) are not refined but
//! enter the aggregate whole: only the communities the update affected are taken apart, which
//! is what makes the update cheap. Later iterations, if any, are ordinary ones.

mod aggregate;
pub(crate) mod csr;
mod local_moving;
mod quality;
mod refine;
mod reorder;
mod rng;
pub mod synthetic;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use csr::{CsrBuildError, CsrGraph, Weight};
use quality::relabel_dense_with;
pub use quality::{
    count_disconnected_communities, normalized_mutual_information, partition_quality, relabel_dense,
    split_disconnected_communities, QualityFunction,
};
pub use rng::SeededRng;

use aggregate::{aggregate_graph, AggregateBuffers};
use local_moving::{fast_move_nodes, vec_bytes, MoveBuffers, MoveOutcome};
use refine::{refine_partition, RefineBuffers, RefineParameters};

/// Label meaning "no previous community" in a warm-start membership.
pub const UNASSIGNED: u32 = u32::MAX;

/// Settings of a Leiden run.
#[derive(Debug, Clone, PartialEq)]
pub struct LeidenConfig {
    /// Objective to maximise.
    pub quality: QualityFunction,
    /// Randomness `θ` of the refinement (0 = greedy), in units of edge weight (as igraph's
    /// `beta`; see `refine`). The paper and igraph use 0.01.
    pub randomness: f64,
    /// Upper bound on iterations.
    pub max_iterations: usize,
    /// An iteration that improves the quality by at most `tolerance × |quality|` is *idle*
    /// (with 0: only an iteration that moves no node is idle).
    pub tolerance: f64,
    /// The run stops after `patience + 1` idle iterations in a row. 0 stops at the first idle
    /// one, leidenalg's rule; since each iteration draws a new refinement, a later iteration can
    /// still improve the partition, and a larger value searches longer.
    pub patience: usize,
    /// Seed of the run's only source of randomness.
    pub seed: u64,
}

impl Default for LeidenConfig {
    fn default() -> Self {
        Self {
            quality: QualityFunction::Modularity { resolution: 1.0 },
            randomness: 0.01,
            max_iterations: 10,
            tolerance: 1e-4,
            patience: 0,
            seed: 1,
        }
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
    /// The input graph grouped by community: the level-0 graph of the iterations.
    grouped: CsrGraph,
    workspace: Workspace,
}

/// Everything a run needs besides the input graph, kept between runs so that a long-running
/// service (or a benchmark loop) does not allocate once the vectors have grown.
#[derive(Debug)]
struct Workspace {
    move_buffers: MoveBuffers,
    refine_buffers: RefineBuffers,
    aggregate_buffers: AggregateBuffers,
    /// Storage for aggregate graphs: the current level's and a spare one to build the next into.
    aggregate: CsrGraph,
    spare_aggregate: CsrGraph,
    /// Community of each node of the current level.
    level_membership: Vec<u32>,
    /// Node of the current level that each level-0 node belongs to.
    level_of_node: Vec<u32>,
    refined: Vec<u32>,
    community_of_refined: Vec<u32>,
    /// Grouped numbering: input node at each position, and position of each input node.
    node_at_position: Vec<u32>,
    position_of_node: Vec<u32>,
    /// Warm start: labels whose members changed during the first local moving, and the dense
    /// communities kept whole by the first refinement.
    changed_labels: Vec<bool>,
    keep_whole: Vec<bool>,
    relabel_scratch: Vec<u32>,
}

impl Default for Workspace {
    fn default() -> Self {
        Self {
            move_buffers: MoveBuffers::default(),
            refine_buffers: RefineBuffers::default(),
            aggregate_buffers: AggregateBuffers::default(),
            aggregate: CsrGraph::empty(),
            spare_aggregate: CsrGraph::empty(),
            level_membership: Vec::new(),
            level_of_node: Vec::new(),
            refined: Vec::new(),
            community_of_refined: Vec::new(),
            node_at_position: Vec::new(),
            position_of_node: Vec::new(),
            changed_labels: Vec::new(),
            keep_whole: Vec::new(),
            relabel_scratch: Vec::new(),
        }
    }
}

/// How the level-0 local moving of an iteration starts.
#[derive(Debug, Clone, Copy)]
enum FirstMoves<'a> {
    /// Every node pending (an ordinary iteration).
    All,
    /// Only these nodes pending; communities whose members do not change are kept whole by the
    /// refinement (the first iteration of a warm start).
    Warm(&'a [u32]),
    /// Already done on the input graph (the first iteration of a cold start).
    Done,
}

/// What one iteration did.
#[derive(Debug, Clone, Copy)]
struct IterationOutcome {
    moves: usize,
    /// Increase of the quality value (sum of the gains of all moves, scaled).
    improvement: f64,
    /// Quality of the partition the iteration ended with.
    quality: f64,
    /// A community may be disconnected: the level loop stopped because refinement merged
    /// nothing (a community may then be a disconnected union of aggregate nodes), or a
    /// community was kept whole.
    may_be_disconnected: bool,
}

/// Runs Leiden once from singletons.
pub fn leiden(graph: &CsrGraph, config: &LeidenConfig) -> LeidenOutcome {
    Leiden::new(config.clone()).run(graph)
}

impl Leiden {
    /// Creates an optimiser with `config`.
    pub fn new(config: LeidenConfig) -> Self {
        Self { config, grouped: CsrGraph::empty(), workspace: Workspace::default() }
    }

    /// The configuration in use.
    pub fn config(&self) -> &LeidenConfig {
        &self.config
    }

    /// Bytes the optimiser keeps between runs (capacities): the grouped copy of the last input graph,
    /// the aggregate graphs and the phases' buffers. An upper bound of what is resident: each
    /// aggregate reserves as many entries as the input graph has and fills only what its level
    /// needs. A run also allocates its result's membership and, for a warm start, one flag and
    /// one queue entry per node.
    pub fn memory_bytes(&self) -> usize {
        self.grouped.memory_bytes() + self.workspace.memory_bytes()
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

    /// Runs iterations from `membership` (any labels below the node count). `warm_queue`: the
    /// nodes pending in the first local-moving phase of a warm start (`None`: a cold start).
    fn optimise(&mut self, graph: &CsrGraph, mut membership: Vec<u32>, warm_queue: Option<Vec<u32>>) -> LeidenOutcome {
        let config = &self.config;
        let mut rng = SeededRng::new(config.seed);
        let workspace = &mut self.workspace;
        let mut community_count = relabel_dense_with(&mut membership, &mut workspace.relabel_scratch);

        // Cold start: level-0 local moving of iteration 1 on the input graph, then the grouped
        // copy by the communities it found. Warm start: the copy grouped by the previous
        // partition right away.
        let mut cold_moves = MoveOutcome::default();
        if warm_queue.is_none() {
            cold_moves = fast_move_nodes(
                graph,
                config.quality.masses(graph),
                config.quality.mass_penalty(graph),
                &mut membership,
                None,
                None,
                &mut workspace.move_buffers,
            );
            community_count = relabel_dense_with(&mut membership, &mut workspace.relabel_scratch);
        }
        reorder::group_by_community(
            graph,
            &membership,
            community_count,
            &mut workspace.node_at_position,
            &mut workspace.position_of_node,
            &mut self.grouped,
            &mut rng,
        );
        let grouped = &self.grouped;
        let mut grouped_membership: Vec<u32> =
            workspace.node_at_position.iter().map(|&node| membership[node as usize]).collect();
        let warm_pending: Option<Vec<u32>> = warm_queue
            .map(|queue| queue.iter().map(|&node| workspace.position_of_node[node as usize]).collect::<Vec<u32>>());

        let mut iterations = 0usize;
        let mut idle_iterations = 0usize;
        let mut moves = 0usize;
        let mut may_be_disconnected = false;
        let mut quality = f64::NAN;
        while iterations < config.max_iterations.max(1) {
            let first_moves = match (iterations, &warm_pending) {
                (0, Some(pending)) => FirstMoves::Warm(pending),
                (0, None) => FirstMoves::Done,
                _ => FirstMoves::All,
            };
            iterations += 1;
            let mut outcome = workspace.one_iteration(config, grouped, &mut grouped_membership, first_moves, &mut rng);
            if iterations == 1 {
                outcome.moves += cold_moves.moves;
                outcome.improvement += cold_moves.improvement * config.quality.gain_scale(graph);
            }
            moves += outcome.moves;
            quality = outcome.quality;
            may_be_disconnected = outcome.may_be_disconnected;
            if outcome.moves == 0 || outcome.improvement <= config.tolerance * quality.abs() {
                idle_iterations += 1;
                if idle_iterations > config.patience {
                    break;
                }
            } else {
                idle_iterations = 0;
            }
        }
        let split_communities =
            if may_be_disconnected { split_disconnected_communities(grouped, &mut grouped_membership) } else { 0 };
        for (position, &node) in workspace.node_at_position.iter().enumerate() {
            membership[node as usize] = grouped_membership[position];
        }
        let community_count = relabel_dense_with(&mut membership, &mut workspace.relabel_scratch);
        debug_assert_eq!(count_disconnected_communities(graph, &membership), 0);
        if split_communities > 0 || !quality.is_finite() {
            quality = partition_quality(graph, &membership, config.quality);
        }
        LeidenOutcome { membership, community_count, quality, iterations, moves, split_communities }
    }
}

impl Workspace {
    fn memory_bytes(&self) -> usize {
        let Workspace {
            move_buffers,
            refine_buffers,
            aggregate_buffers,
            aggregate,
            spare_aggregate,
            level_membership,
            level_of_node,
            refined,
            community_of_refined,
            node_at_position,
            position_of_node,
            changed_labels,
            keep_whole,
            relabel_scratch,
        } = self;
        move_buffers.memory_bytes()
            + refine_buffers.memory_bytes()
            + aggregate_buffers.memory_bytes()
            + aggregate.memory_bytes()
            + spare_aggregate.memory_bytes()
            + vec_bytes(level_membership)
            + vec_bytes(level_of_node)
            + vec_bytes(refined)
            + vec_bytes(community_of_refined)
            + vec_bytes(node_at_position)
            + vec_bytes(position_of_node)
            + vec_bytes(changed_labels)
            + vec_bytes(keep_whole)
            + vec_bytes(relabel_scratch)
    }

    /// One Leiden iteration (move, refine, aggregate until stable) on `graph`; updates
    /// `membership` in place (dense labels on entry and exit).
    fn one_iteration(
        &mut self,
        config: &LeidenConfig,
        graph: &CsrGraph,
        membership: &mut [u32],
        first_moves: FirstMoves<'_>,
        rng: &mut SeededRng,
    ) -> IterationOutcome {
        let quality_function = config.quality;
        let Workspace {
            move_buffers,
            refine_buffers,
            aggregate_buffers,
            aggregate,
            spare_aggregate,
            level_membership,
            level_of_node,
            refined,
            community_of_refined,
            changed_labels,
            keep_whole,
            relabel_scratch,
            ..
        } = self;
        let node_count = graph.node_count();
        level_membership.clear();
        level_membership.extend_from_slice(membership);
        level_of_node.clear();
        level_of_node.extend(0..node_count as u32);
        let mut moves = 0usize;
        let mut improvement = 0.0;
        let mut may_be_disconnected = false;
        let mut aggregated = false;
        loop {
            let level_graph: &CsrGraph = if aggregated { aggregate } else { graph };
            let level_node_count = level_graph.node_count();
            let masses = quality_function.masses(level_graph);
            let mass_penalty = quality_function.mass_penalty(level_graph);
            let warm = match first_moves {
                FirstMoves::Warm(pending) if !aggregated => Some(pending),
                _ => None,
            };
            let outcome = match first_moves {
                FirstMoves::Done if !aggregated => MoveOutcome::default(),
                _ => {
                    let touched_labels = match warm {
                        Some(_) => {
                            changed_labels.clear();
                            changed_labels.resize(level_node_count, false);
                            Some(&mut changed_labels[..])
                        }
                        None => None,
                    };
                    fast_move_nodes(
                        level_graph,
                        masses,
                        mass_penalty,
                        level_membership,
                        warm,
                        touched_labels,
                        move_buffers,
                    )
                }
            };
            moves += outcome.moves;
            improvement += outcome.improvement * quality_function.gain_scale(level_graph);
            let community_count = relabel_dense_with(level_membership, relabel_scratch);
            if community_count == level_node_count {
                // Every community is one node of this level, i.e. one refined community of the
                // level below: connected.
                break;
            }
            let kept_whole = match warm {
                Some(_) => {
                    // relabel_scratch maps each label still in use to its dense label.
                    keep_whole.clear();
                    keep_whole.resize(community_count, true);
                    for (label, &dense) in relabel_scratch.iter().enumerate() {
                        if dense != u32::MAX && changed_labels[label] {
                            keep_whole[dense as usize] = false;
                        }
                    }
                    may_be_disconnected |= keep_whole.iter().any(|&kept| kept);
                    Some(&keep_whole[..])
                }
                None => None,
            };
            let parameters = RefineParameters { mass_penalty, randomness: config.randomness };
            let refined_count = refine_partition(
                level_graph,
                masses,
                &parameters,
                level_membership,
                community_count,
                kept_whole,
                rng,
                refine_buffers,
                refined,
                community_of_refined,
            );
            if refined_count == level_node_count {
                // Nothing merged: aggregating would not shrink the graph.
                may_be_disconnected = true;
                break;
            }
            aggregate_graph(level_graph, refined, refined_count, aggregate_buffers, spare_aggregate);
            std::mem::swap(aggregate, spare_aggregate);
            aggregated = true;
            for level_node in level_of_node.iter_mut() {
                *level_node = refined[*level_node as usize];
            }
            // The aggregate starts from the non-refined partition.
            std::mem::swap(level_membership, community_of_refined);
        }
        let level_graph: &CsrGraph = if aggregated { aggregate } else { graph };
        let quality = partition_quality(level_graph, level_membership, quality_function);
        for (label, level_node) in membership.iter_mut().zip(level_of_node.iter()) {
            *label = level_membership[*level_node as usize];
        }
        relabel_dense_with(membership, relabel_scratch);
        IterationOutcome { moves, improvement, quality, may_be_disconnected }
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
