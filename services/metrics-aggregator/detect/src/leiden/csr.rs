//! Compressed sparse row (CSR) storage of a weighted undirected graph, the input of Leiden.
//!
//! Every undirected edge `{u, v}` with `u != v` is stored twice (in the rows of `u` and `v`);
//! a self-loop is kept apart in `self_loops` (stored once) because aggregated graphs carry each
//! community's internal weight as a loop on its node and the local moves never consider a node
//! its own neighbour. Alongside the rows, each node carries:
//!
//! - its *size* `n_v` (how many original nodes it stands for; 1 before aggregation), the node
//!   weight of CPM;
//! - its *strength* `k_v = Σ_{u≠v} w_vu + 2·loop_v`, the degree used by modularity;
//!
//! and the graph carries `m = Σ_v k_v / 2`, the total edge weight (each edge once, loops once).

use std::fmt;

use super::local_moving::vec_bytes;

/// Why a list of edges cannot become a [`CsrGraph`].
#[derive(Debug, Clone, PartialEq)]
pub enum CsrBuildError {
    /// An endpoint is not below the declared node count.
    NodeOutOfRange { node: u32, node_count: usize },
    /// A weight is negative, zero, NaN or infinite: Leiden's gains assume positive weights.
    InvalidWeight { source: u32, target: u32, weight: f64 },
    /// More nodes than `u32` can index.
    TooManyNodes { node_count: usize },
}

impl fmt::Display for CsrBuildError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NodeOutOfRange { node, node_count } => {
                write!(formatter, "node {node} out of range for a graph of {node_count} nodes")
            }
            Self::InvalidWeight { source, target, weight } => {
                write!(formatter, "edge {source}-{target} has invalid weight {weight} (must be finite and > 0)")
            }
            Self::TooManyNodes { node_count } => write!(formatter, "{node_count} nodes exceed the u32 index space"),
        }
    }
}

impl std::error::Error for CsrBuildError {}

/// An edge weight as stored in the rows (see [`stored_weight`]).
pub type Weight = f32;

/// `weight` as stored in a row: single precision, kept positive and finite. Every pass of Leiden
/// streams the rows, and 4 bytes instead of 8 per weight make them a third smaller; sums and gains
/// are computed in double precision.
pub(crate) fn stored_weight(weight: f64) -> Weight {
    (weight as f32).clamp(f32::MIN_POSITIVE, f32::MAX)
}

/// Weighted undirected graph in CSR form with node sizes, strengths and self-loops.
#[derive(Debug, Clone, PartialEq)]
pub struct CsrGraph {
    pub(crate) offsets: Vec<usize>,
    pub(crate) neighbours: Vec<u32>,
    pub(crate) weights: Vec<Weight>,
    pub(crate) self_loops: Vec<f64>,
    pub(crate) node_sizes: Vec<f64>,
    pub(crate) strengths: Vec<f64>,
    pub(crate) total_edge_weight: f64,
}

impl CsrGraph {
    /// Builds a graph of `node_count` nodes from undirected weighted edges `(u, v, w)`.
    /// Parallel edges are summed; `u == v` adds to the node's self-loop.
    pub fn from_edges(node_count: usize, edges: &[(u32, u32, f64)]) -> Result<Self, CsrBuildError> {
        if node_count > u32::MAX as usize {
            return Err(CsrBuildError::TooManyNodes { node_count });
        }
        let mut degree_counts = vec![0usize; node_count + 1];
        let mut self_loops = vec![0.0; node_count];
        for &(source, target, weight) in edges {
            for node in [source, target] {
                if node as usize >= node_count {
                    return Err(CsrBuildError::NodeOutOfRange { node, node_count });
                }
            }
            if !(weight.is_finite() && weight > 0.0) {
                return Err(CsrBuildError::InvalidWeight { source, target, weight });
            }
            if source == target {
                self_loops[source as usize] += weight;
            } else {
                degree_counts[source as usize + 1] += 1;
                degree_counts[target as usize + 1] += 1;
            }
        }
        for node in 0..node_count {
            degree_counts[node + 1] += degree_counts[node];
        }
        let entry_count = degree_counts[node_count];
        let mut neighbours = vec![0u32; entry_count];
        let mut weights = vec![0.0f64; entry_count];
        let mut fill_cursor = degree_counts.clone();
        for &(source, target, weight) in edges {
            if source == target {
                continue;
            }
            for (from, to) in [(source, target), (target, source)] {
                let slot = fill_cursor[from as usize];
                neighbours[slot] = to;
                weights[slot] = weight;
                fill_cursor[from as usize] += 1;
            }
        }
        // Sort each row and sum parallel edges so the rows are canonical (and deterministic).
        let mut compact_offsets = vec![0usize; node_count + 1];
        let mut write_position = 0usize;
        let mut row_buffer: Vec<(u32, f64)> = Vec::new();
        for node in 0..node_count {
            row_buffer.clear();
            let row = degree_counts[node]..degree_counts[node + 1];
            row_buffer.extend(neighbours[row.clone()].iter().copied().zip(weights[row].iter().copied()));
            row_buffer.sort_unstable_by_key(|&(neighbour, _)| neighbour);
            let mut previous: Option<u32> = None;
            for &(neighbour, weight) in &row_buffer {
                if previous == Some(neighbour) {
                    weights[write_position - 1] += weight;
                } else {
                    neighbours[write_position] = neighbour;
                    weights[write_position] = weight;
                    write_position += 1;
                    previous = Some(neighbour);
                }
            }
            compact_offsets[node + 1] = write_position;
        }
        neighbours.truncate(write_position);
        neighbours.shrink_to_fit();
        let weights: Vec<Weight> = weights[..write_position].iter().map(|&weight| stored_weight(weight)).collect();
        Ok(Self::from_parts(compact_offsets, neighbours, weights, self_loops, vec![1.0; node_count]))
    }

    /// Assembles a graph from rows already built (symmetric, no loops in rows, positive weights);
    /// computes strengths and the total weight.
    pub(crate) fn from_parts(
        offsets: Vec<usize>,
        neighbours: Vec<u32>,
        weights: Vec<Weight>,
        self_loops: Vec<f64>,
        node_sizes: Vec<f64>,
    ) -> Self {
        let node_count = self_loops.len();
        debug_assert_eq!(offsets.len(), node_count + 1);
        debug_assert_eq!(node_sizes.len(), node_count);
        let mut graph = Self {
            offsets,
            neighbours,
            weights,
            self_loops,
            node_sizes,
            strengths: Vec::new(),
            total_edge_weight: 0.0,
        };
        graph.recompute_strengths();
        graph
    }

    /// A graph without nodes, whose vectors serve as storage to be filled later.
    pub(crate) fn empty() -> Self {
        Self::from_parts(vec![0], Vec::new(), Vec::new(), Vec::new(), Vec::new())
    }

    /// Recomputes strengths `k_v = Σ_u w_vu + 2·loop_v` and `m = Σ_v k_v / 2` from the rows.
    pub(crate) fn recompute_strengths(&mut self) {
        let node_count = self.self_loops.len();
        self.strengths.clear();
        self.strengths.reserve(node_count);
        let mut total_strength = 0.0;
        for node in 0..node_count {
            let row_weight: f64 =
                self.weights[self.offsets[node]..self.offsets[node + 1]].iter().map(|&weight| f64::from(weight)).sum();
            let strength = row_weight + 2.0 * self.self_loops[node];
            self.strengths.push(strength);
            total_strength += strength;
        }
        self.total_edge_weight = total_strength / 2.0;
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.self_loops.len()
    }

    /// Number of distinct undirected edges between different nodes (loops not counted).
    pub fn edge_count(&self) -> usize {
        self.neighbours.len() / 2
    }

    /// Neighbours of `node` and the weights of the edges to them (empty when out of range).
    pub fn neighbours(&self, node: u32) -> (&[u32], &[Weight]) {
        let node = node as usize;
        if node >= self.node_count() {
            return (&[], &[]);
        }
        let row = self.offsets[node]..self.offsets[node + 1];
        (&self.neighbours[row.clone()], &self.weights[row])
    }

    /// Largest number of neighbours of a node (0 for an empty or edgeless graph).
    pub(crate) fn max_degree(&self) -> usize {
        self.offsets.windows(2).map(|row| row[1] - row[0]).max().unwrap_or(0)
    }

    /// Strength `k_v` (sum of incident edge weights, loops counted twice); 0 when out of range.
    pub fn strength(&self, node: u32) -> f64 {
        self.strengths.get(node as usize).copied().unwrap_or(0.0)
    }

    /// Self-loop weight of `node` (0 in graphs built from distinct actors).
    pub fn self_loop(&self, node: u32) -> f64 {
        self.self_loops.get(node as usize).copied().unwrap_or(0.0)
    }

    /// Total edge weight `m` (each undirected edge once).
    pub fn total_edge_weight(&self) -> f64 {
        self.total_edge_weight
    }

    /// Bytes held by the graph's vectors (capacity, not length): the figure the memory report prints.
    pub fn memory_bytes(&self) -> usize {
        vec_bytes(&self.offsets)
            + vec_bytes(&self.neighbours)
            + vec_bytes(&self.weights)
            + vec_bytes(&self.self_loops)
            + vec_bytes(&self.node_sizes)
            + vec_bytes(&self.strengths)
    }
}

#[cfg(test)]
mod tests {
    use super::{CsrBuildError, CsrGraph};

    #[test]
    fn parallel_edges_are_summed_and_loops_kept_apart() {
        let graph = CsrGraph::from_edges(3, &[(0, 1, 1.0), (1, 0, 2.0), (1, 2, 0.5), (2, 2, 4.0)]).expect("valid");
        assert_eq!(graph.edge_count(), 2);
        let (neighbours, weights) = graph.neighbours(1);
        assert_eq!(neighbours, &[0, 2]);
        assert_eq!(weights, &[3.0, 0.5]);
        assert_eq!(graph.self_loop(2), 4.0);
        assert_eq!(graph.strength(2), 0.5 + 8.0);
        // m = 3 + 0.5 + 4 (the loop once).
        assert!((graph.total_edge_weight() - 7.5).abs() < 1e-12);
    }

    #[test]
    fn invalid_input_is_an_error_not_a_panic() {
        assert_eq!(
            CsrGraph::from_edges(2, &[(0, 2, 1.0)]),
            Err(CsrBuildError::NodeOutOfRange { node: 2, node_count: 2 })
        );
        assert!(matches!(CsrGraph::from_edges(2, &[(0, 1, -1.0)]), Err(CsrBuildError::InvalidWeight { .. })));
        assert!(matches!(CsrGraph::from_edges(2, &[(0, 1, f64::NAN)]), Err(CsrBuildError::InvalidWeight { .. })));
        assert_eq!(graph_neighbours_out_of_range(), 0);
    }

    fn graph_neighbours_out_of_range() -> usize {
        let graph = CsrGraph::from_edges(2, &[(0, 1, 1.0)]).expect("valid");
        graph.neighbours(99).0.len()
    }
}
