//! Phase 3 of Leiden: aggregation (Traag et al. 2019, Algorithm A.2 `AggregateGraph`).
//!
//! Each refined community becomes one node. The weight between two new nodes is the sum of the
//! weights between their members; edges inside a refined community become the new node's
//! self-loop, and sizes and strengths add up, so the quality of any partition of the aggregate
//! equals the quality of the corresponding partition of the original graph.

use super::csr::CsrGraph;
use super::local_moving::reset;

/// Buffers reused across levels.
#[derive(Debug, Default)]
pub(crate) struct AggregateBuffers {
    start: Vec<usize>,
    members: Vec<u32>,
    accumulated_weight: Vec<f64>,
    touched: Vec<u32>,
}

/// Builds the aggregate graph of `graph` for `refined` (dense labels `0..refined_count`).
pub(crate) fn aggregate_graph(
    graph: &CsrGraph,
    refined: &[u32],
    refined_count: usize,
    buffers: &mut AggregateBuffers,
) -> CsrGraph {
    let node_count = graph.node_count();
    let AggregateBuffers { start, members, accumulated_weight, touched } = buffers;
    reset(start, refined_count + 1, 0);
    for &label in refined {
        start[label as usize + 1] += 1;
    }
    for label in 0..refined_count {
        start[label + 1] += start[label];
    }
    reset(members, node_count, 0);
    {
        let mut cursor: Vec<usize> = start[..refined_count].to_vec();
        for (node, &refined_label) in refined.iter().enumerate() {
            let label = refined_label as usize;
            members[cursor[label]] = node as u32;
            cursor[label] += 1;
        }
    }
    reset(accumulated_weight, refined_count, 0.0);
    touched.clear();

    let mut offsets = Vec::with_capacity(refined_count + 1);
    offsets.push(0usize);
    // An aggregate has at most as many entries as the graph it comes from.
    let mut neighbours: Vec<u32> = Vec::with_capacity(graph.neighbours.len() / 2);
    let mut weights: Vec<f64> = Vec::with_capacity(graph.neighbours.len() / 2);
    let mut self_loops = vec![0.0; refined_count];
    let mut node_sizes = vec![0.0; refined_count];
    for label in 0..refined_count {
        let mut loop_weight = 0.0;
        let mut inside_seen_twice = 0.0;
        let mut size = 0.0;
        for &member in &members[start[label]..start[label + 1]] {
            loop_weight += graph.self_loops[member as usize];
            size += graph.node_sizes[member as usize];
            let (member_neighbours, member_weights) = graph.neighbours(member);
            for (&neighbour, &weight) in member_neighbours.iter().zip(member_weights) {
                let target = refined[neighbour as usize];
                if target as usize == label {
                    inside_seen_twice += weight;
                    continue;
                }
                let slot = &mut accumulated_weight[target as usize];
                if *slot == 0.0 {
                    touched.push(target);
                }
                *slot += weight;
            }
        }
        self_loops[label] = loop_weight + inside_seen_twice / 2.0;
        node_sizes[label] = size;
        for &target in touched.iter() {
            neighbours.push(target);
            weights.push(accumulated_weight[target as usize]);
            accumulated_weight[target as usize] = 0.0;
        }
        touched.clear();
        offsets.push(neighbours.len());
    }
    CsrGraph::from_parts(offsets, neighbours, weights, self_loops, node_sizes)
}
