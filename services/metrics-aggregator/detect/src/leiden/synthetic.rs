//! Seeded synthetic graphs with planted communities, for tests, benchmarks and the memory report.
//!
//! Not a substitute for LFR (whose degrees and community sizes follow power laws; the
//! `scripts/leiden-eval` command uses networkx's LFR generator): this one is cheap to build at
//! millions of edges inside a benchmark. Node `v` belongs to community `v mod community_count`;
//! each node draws `average_degree / 2` edges, each going with probability `1 − mixing` to a
//! uniformly chosen member of its own community and otherwise to any node.

use super::rng::SeededRng;

/// Parameters of a planted-partition graph.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlantedPartition {
    /// Number of nodes.
    pub node_count: usize,
    /// Number of planted communities (equal sizes up to one node).
    pub community_count: usize,
    /// Mean degree (each node draws half of it; parallel edges may occur and are summed by the CSR).
    pub average_degree: usize,
    /// Probability that an edge leaves its community (μ).
    pub mixing: f64,
    /// Seed of the generator.
    pub seed: u64,
}

impl PlantedPartition {
    /// Generates `(edges, ground_truth)`; self-loops are never produced.
    pub fn generate(&self) -> (Vec<(u32, u32, f64)>, Vec<u32>) {
        let node_count = self.node_count.max(2);
        let community_count = self.community_count.clamp(1, node_count);
        let mut rng = SeededRng::new(self.seed);
        let edges_per_node = (self.average_degree / 2).max(1);
        let mut edges = Vec::with_capacity(node_count * edges_per_node);
        let ground_truth: Vec<u32> = (0..node_count).map(|node| (node % community_count) as u32).collect();
        for node in 0..node_count {
            let community = node % community_count;
            // Members of `community` are community, community + k, community + 2k, ...
            let community_size = (node_count - community).div_ceil(community_count);
            for _ in 0..edges_per_node {
                let target = if rng.next_f64() >= self.mixing && community_size > 1 {
                    community + rng.below(community_size) * community_count
                } else {
                    rng.below(node_count)
                };
                if target != node {
                    edges.push((node as u32, target as u32, 1.0));
                }
            }
        }
        (edges, ground_truth)
    }
}
