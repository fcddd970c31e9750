//! Phase 3 of Leiden: aggregation (Traag et al. 2019, Algorithm A.2 `AggregateGraph`).
//!
//! Each refined community becomes one node. The weight between two new nodes is the sum of the
//! weights between their members; edges inside a refined community become the new node's
//! self-loop, and sizes and strengths add up, so the quality of any partition of the aggregate
//! equals the quality of the corresponding partition of the original graph.
//!
//! No hashing: the members of each refined community are grouped by a counting sort on the
//! refined labels, and each new row is accumulated in a flat array indexed by the neighbouring
//! refined label, with a touched-list to emit and clear it. The new graph is written into the
//! vectors of a graph that is no longer needed (`output`), so levels reuse their memory.

use super::csr::{stored_weight, CsrGraph};
use super::local_moving::{reset, vec_bytes};

/// Buffers reused across levels.
#[derive(Debug, Default)]
pub(crate) struct AggregateBuffers {
    start: Vec<usize>,
    members: Vec<u32>,
    accumulated_weight: Vec<f64>,
    touched: Vec<u32>,
}

impl AggregateBuffers {
    /// Bytes held by the buffers.
    pub(crate) fn memory_bytes(&self) -> usize {
        let Self { start, members, accumulated_weight, touched } = self;
        vec_bytes(start) + vec_bytes(members) + vec_bytes(accumulated_weight) + vec_bytes(touched)
    }
}

/// Counting sort of the nodes by label (`labels`: dense, below `label_count`): on return the
/// nodes with label `l` are `members[start[l]..start[l + 1]]`, in increasing node order.
pub(crate) fn sort_by_label(labels: &[u32], label_count: usize, start: &mut Vec<usize>, members: &mut Vec<u32>) {
    reset(start, label_count + 1, 0);
    for &label in labels {
        start[label as usize + 1] += 1;
    }
    for label in 0..label_count {
        start[label + 1] += start[label];
    }
    // `start` is shifted by one label while it serves as the cursor and ends up back in place.
    reset(members, labels.len(), 0);
    for (node, &label) in labels.iter().enumerate() {
        let slot = &mut start[label as usize];
        members[*slot] = node as u32;
        *slot += 1;
    }
    for label in (1..=label_count).rev() {
        start[label] = start[label - 1];
    }
    start[0] = 0;
}

/// Writes into `output` the aggregate graph of `graph` for `refined` (dense labels
/// `0..refined_count`); whatever `output` held before is discarded (its capacity is kept).
/// Strengths and `m` are carried over (sums of the members' values) rather than recomputed.
pub(crate) fn aggregate_graph(
    graph: &CsrGraph,
    refined: &[u32],
    refined_count: usize,
    buffers: &mut AggregateBuffers,
    output: &mut CsrGraph,
) {
    let node_count = graph.node_count();
    debug_assert_eq!(refined.len(), node_count);
    let AggregateBuffers { start, members, accumulated_weight, touched } = buffers;
    sort_by_label(refined, refined_count, start, members);
    reset(accumulated_weight, refined_count, 0.0);
    reset(touched, refined_count + 1, 0);

    let CsrGraph { offsets, neighbours, weights, self_loops, node_sizes, strengths, total_edge_weight } = output;
    offsets.clear();
    offsets.reserve(refined_count + 1);
    offsets.push(0);
    // An aggregate has at most as many entries as the graph it comes from. Reserved, not touched:
    // the part beyond what the levels fill costs address space, not resident memory.
    neighbours.clear();
    neighbours.reserve(graph.neighbours.len());
    weights.clear();
    weights.reserve(graph.neighbours.len());
    reset(self_loops, refined_count, 0.0);
    reset(node_sizes, refined_count, 0.0);
    reset(strengths, refined_count, 0.0);
    let graph_offsets = &graph.offsets[..];
    let graph_neighbours = &graph.neighbours[..];
    let graph_weights = &graph.weights[..];
    let accumulated_weight = &mut accumulated_weight[..];
    let touched = &mut touched[..];
    for label in 0..refined_count {
        let mut loop_weight = 0.0;
        let mut size = 0.0;
        let mut strength = 0.0;
        let mut touched_count = 0usize;
        for &member in &members[start[label]..start[label + 1]] {
            let member = member as usize;
            loop_weight += graph.self_loops[member];
            size += graph.node_sizes[member];
            strength += graph.strengths[member];
            let row = graph_offsets[member]..graph_offsets[member + 1];
            // Edges inside the refined community accumulate in its own slot like the others
            // (no unpredictable branch); that slot is read as the internal weight below.
            for (&neighbour, &weight) in graph_neighbours[row.clone()].iter().zip(&graph_weights[row]) {
                let target = refined[neighbour as usize];
                let slot = &mut accumulated_weight[target as usize];
                touched[touched_count] = target;
                touched_count += usize::from(*slot == 0.0);
                *slot += f64::from(weight);
            }
        }
        // Each internal edge was seen from both ends.
        self_loops[label] = loop_weight + accumulated_weight[label] / 2.0;
        node_sizes[label] = size;
        // k = Σ member strengths (= row weights + 2 × loop, as for any node).
        strengths[label] = strength;
        for &target in &touched[..touched_count] {
            if target as usize != label {
                neighbours.push(target);
                weights.push(stored_weight(accumulated_weight[target as usize]));
            }
            accumulated_weight[target as usize] = 0.0;
        }
        offsets.push(neighbours.len());
    }
    *total_edge_weight = graph.total_edge_weight;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leiden::quality::{partition_quality, QualityFunction};
    use crate::leiden::synthetic::PlantedPartition;

    #[test]
    fn aggregate_preserves_every_coarser_partition_quality() {
        let (edges, _) =
            PlantedPartition { node_count: 400, community_count: 8, average_degree: 8, mixing: 0.3, seed: 4 }
                .generate();
        let graph = CsrGraph::from_edges(400, &edges).expect("valid");
        // Refined communities: blocks of 5 consecutive nodes (need not be connected here).
        let refined: Vec<u32> = (0..400u32).map(|node| node / 5).collect();
        let mut output = CsrGraph::empty();
        // Run twice into the same output: the second run must not see the first one's data.
        for _ in 0..2 {
            aggregate_graph(&graph, &refined, 80, &mut AggregateBuffers::default(), &mut output);
        }
        assert_eq!(output.node_count(), 80);
        assert!((output.total_edge_weight() - graph.total_edge_weight()).abs() < 1e-9);
        // Any partition of the aggregate nodes, lifted to the original nodes, keeps its quality.
        let coarse: Vec<u32> = (0..80u32).map(|aggregate| aggregate % 7).collect();
        let lifted: Vec<u32> = refined.iter().map(|&label| coarse[label as usize]).collect();
        for quality in [QualityFunction::Modularity { resolution: 1.0 }, QualityFunction::Cpm { resolution: 0.02 }] {
            let on_aggregate = partition_quality(&output, &coarse, quality);
            let on_graph = partition_quality(&graph, &lifted, quality);
            assert!((on_aggregate - on_graph).abs() < 1e-9, "{quality:?}: {on_aggregate} vs {on_graph}");
        }
        // Rows are symmetric and loop-free.
        for node in 0..80u32 {
            let (neighbours, weights) = output.neighbours(node);
            for (&neighbour, &weight) in neighbours.iter().zip(weights) {
                assert_ne!(neighbour, node);
                let (back, back_weights) = output.neighbours(neighbour);
                let position = back.iter().position(|&other| other == node).expect("symmetric");
                assert_eq!(back_weights[position], weight);
            }
        }
    }
}
