//! A copy of the input graph with its nodes grouped by community, the level-0 graph of Leiden's
//! refinement, aggregation and later iterations.
//!
//! Those phases visit the members of one community after another, and most edges of a good
//! partition stay inside communities. On the input numbering the members of a community are
//! scattered over the whole graph, so every visit is a cache miss; once the nodes are renumbered
//! community by community, each community is a contiguous block of rows and most neighbours are
//! in the same block. Within a community the new numbering is a random permutation (seeded), so
//! visiting nodes in index order, which reads the rows front to back, also visits each
//! community's members in random order, as the paper asks. Building the copy costs one pass over
//! the edges; it is reused by every later phase and iteration of the run, since nodes rarely
//! change community after the first local moving.

use super::aggregate::sort_by_label;
use super::csr::CsrGraph;
use super::local_moving::reset;
use super::rng::SeededRng;

/// Writes into `output` the graph `graph` renumbered so that the nodes of community 0 come first,
/// in random order, then those of community 1, and so on (`membership`: dense labels below
/// `community_count`). Fills `node_at_position` (new number → input node) and
/// `position_of_node` (its inverse).
pub(crate) fn group_by_community(
    graph: &CsrGraph,
    membership: &[u32],
    community_count: usize,
    node_at_position: &mut Vec<u32>,
    position_of_node: &mut Vec<u32>,
    output: &mut CsrGraph,
    rng: &mut SeededRng,
) {
    let node_count = graph.node_count();
    debug_assert_eq!(membership.len(), node_count);
    let mut block_start = Vec::new();
    sort_by_label(membership, community_count, &mut block_start, node_at_position);
    for community in 0..community_count {
        rng.shuffle(&mut node_at_position[block_start[community]..block_start[community + 1]]);
    }
    reset(position_of_node, node_count, 0);
    for (position, &node) in node_at_position.iter().enumerate() {
        position_of_node[node as usize] = position as u32;
    }

    let CsrGraph { offsets, neighbours, weights, self_loops, node_sizes, strengths, total_edge_weight } = output;
    offsets.clear();
    offsets.reserve(node_count + 1);
    offsets.push(0);
    neighbours.clear();
    neighbours.reserve(graph.neighbours.len());
    weights.clear();
    weights.reserve(graph.weights.len());
    self_loops.clear();
    node_sizes.clear();
    strengths.clear();
    for &node in node_at_position.iter() {
        let (row_neighbours, row_weights) = graph.neighbours(node);
        neighbours.extend(row_neighbours.iter().map(|&neighbour| position_of_node[neighbour as usize]));
        weights.extend_from_slice(row_weights);
        offsets.push(neighbours.len());
        self_loops.push(graph.self_loops[node as usize]);
        node_sizes.push(graph.node_sizes[node as usize]);
        strengths.push(graph.strengths[node as usize]);
    }
    *total_edge_weight = graph.total_edge_weight;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_copy_is_the_same_graph_renumbered() {
        let graph =
            CsrGraph::from_edges(5, &[(0, 1, 1.0), (1, 2, 2.0), (2, 3, 0.5), (3, 4, 1.5), (4, 0, 3.0), (2, 2, 0.25)])
                .expect("valid");
        let membership = [1, 0, 1, 0, 2];
        let (mut node_at_position, mut position_of_node) = (Vec::new(), Vec::new());
        let mut grouped = CsrGraph::empty();
        let mut rng = SeededRng::new(3);
        group_by_community(
            &graph,
            &membership,
            3,
            &mut node_at_position,
            &mut position_of_node,
            &mut grouped,
            &mut rng,
        );
        // Community 0 = {1, 3} first, then community 1 = {0, 2}, then community 2 = {4}.
        let blocks: Vec<u32> = node_at_position.iter().map(|&node| membership[node as usize]).collect();
        assert_eq!(blocks, vec![0, 0, 1, 1, 2]);
        for node in 0..5u32 {
            assert_eq!(node_at_position[position_of_node[node as usize] as usize], node);
            let position = position_of_node[node as usize];
            assert_eq!(grouped.strength(position), graph.strength(node));
            assert_eq!(grouped.self_loop(position), graph.self_loop(node));
            let (neighbours, weights) = graph.neighbours(node);
            let (grouped_neighbours, grouped_weights) = grouped.neighbours(position);
            let renamed: Vec<u32> = neighbours.iter().map(|&neighbour| position_of_node[neighbour as usize]).collect();
            assert_eq!(grouped_neighbours, renamed.as_slice());
            assert_eq!(grouped_weights, weights);
        }
        assert_eq!(grouped.total_edge_weight(), graph.total_edge_weight());
        assert_eq!(grouped.edge_count(), graph.edge_count());
    }
}
