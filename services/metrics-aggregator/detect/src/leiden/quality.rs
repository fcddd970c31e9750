//! Quality functions, the connectivity guarantee check and partition comparison (NMI).
//!
//! Notation: `A_uv` edge weight, `k_v` strength, `m = Σ_v k_v / 2`, `n_v` node size (1 for an
//! original node), `L_c` the weight of edges inside community `c` (each edge once, loops once),
//! `K_c = Σ_{v∈c} k_v`, `N_c = Σ_{v∈c} n_v`, `γ` the resolution.
//!
//! - **Modularity** with resolution (Reichardt–Bornholdt configuration model):
//!   `Q = Σ_c [ L_c / m − γ · (K_c / 2m)² ]`. With `γ = 1` it is Newman–Girvan modularity.
//! - **CPM** (constant Potts model, Traag, Van Dooren & Nesterov 2011):
//!   `H = Σ_c [ L_c − γ · N_c (N_c − 1) / 2 ]`: a community must have internal density above `γ`.
//!
//! Moving an isolated node `v` into community `C` changes them by
//! `ΔQ = (w_vC − γ k_v K_C / 2m) / m` and `ΔH = w_vC − γ n_v N_C`, where `w_vC` is the weight of
//! the edges between `v` and `C`; both are `w_vC − r · x_v · X_C` scaled, with the *mass* `x`
//! the strength (modularity, `r = γ/2m`) or the size (CPM, `r = γ`). The optimiser works with
//! that unified form.

use std::collections::HashMap;

use super::csr::CsrGraph;

/// Which objective Leiden maximises.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QualityFunction {
    /// Modularity with resolution `γ` (1.0 = classic modularity; larger favours smaller groups).
    Modularity { resolution: f64 },
    /// Constant Potts model with resolution `γ` (the minimum internal edge density of a community).
    Cpm { resolution: f64 },
}

impl QualityFunction {
    /// The factor `r` of the unified gain `w_vC − r · x_v · X_C` for this graph.
    pub(crate) fn mass_penalty(&self, graph: &CsrGraph) -> f64 {
        match *self {
            Self::Modularity { resolution } => {
                if graph.total_edge_weight > 0.0 {
                    resolution / (2.0 * graph.total_edge_weight)
                } else {
                    0.0
                }
            }
            Self::Cpm { resolution } => resolution,
        }
    }

    /// Factor turning a unified gain into the change of the quality value (`1/m` or 1).
    pub(crate) fn gain_scale(&self, graph: &CsrGraph) -> f64 {
        match *self {
            Self::Modularity { .. } if graph.total_edge_weight > 0.0 => 1.0 / graph.total_edge_weight,
            Self::Modularity { .. } => 0.0,
            Self::Cpm { .. } => 1.0,
        }
    }

    /// The node masses `x_v`: strengths for modularity, sizes for CPM.
    pub(crate) fn masses<'graph>(&self, graph: &'graph CsrGraph) -> &'graph [f64] {
        match self {
            Self::Modularity { .. } => &graph.strengths,
            Self::Cpm { .. } => &graph.node_sizes,
        }
    }
}

/// Value of `quality` for `membership` (one community label per node, any `u32` labels).
pub fn partition_quality(graph: &CsrGraph, membership: &[u32], quality: QualityFunction) -> f64 {
    let node_count = graph.node_count();
    if membership.len() != node_count {
        return f64::NAN;
    }
    let mut dense_labels = membership.to_vec();
    let community_count = relabel_dense(&mut dense_labels);
    let mut internal_weight = vec![0.0f64; community_count];
    let mut total_strength = vec![0.0f64; community_count];
    let mut total_size = vec![0.0f64; community_count];
    for node in 0..node_count {
        let community = dense_labels[node] as usize;
        total_strength[community] += graph.strengths[node];
        total_size[community] += graph.node_sizes[node];
        internal_weight[community] += graph.self_loops[node];
        let (neighbours, weights) = graph.neighbours(node as u32);
        for (&neighbour, &weight) in neighbours.iter().zip(weights) {
            // Each internal edge is seen from both ends: count half each time.
            if dense_labels[neighbour as usize] as usize == community {
                internal_weight[community] += f64::from(weight) / 2.0;
            }
        }
    }
    match quality {
        QualityFunction::Modularity { resolution } => {
            let total_edge_weight = graph.total_edge_weight;
            if total_edge_weight <= 0.0 {
                return 0.0;
            }
            (0..community_count)
                .map(|community| {
                    let expected = total_strength[community] / (2.0 * total_edge_weight);
                    internal_weight[community] / total_edge_weight - resolution * expected * expected
                })
                .sum()
        }
        QualityFunction::Cpm { resolution } => (0..community_count)
            .map(|community| {
                let size = total_size[community];
                internal_weight[community] - resolution * size * (size - 1.0) / 2.0
            })
            .sum(),
    }
}

/// Rewrites labels in place to `0..k` in order of first appearance and returns `k`.
/// `u32::MAX` is treated like any other label.
pub fn relabel_dense(labels: &mut [u32]) -> usize {
    relabel_dense_with(labels, &mut Vec::new())
}

/// [`relabel_dense`] with a reusable scratch vector (no allocation once it has grown).
pub(crate) fn relabel_dense_with(labels: &mut [u32], scratch: &mut Vec<u32>) -> usize {
    let node_count = labels.len();
    if labels.iter().all(|&label| (label as usize) < node_count) {
        scratch.clear();
        scratch.resize(node_count, u32::MAX);
        let mut next_label = 0u32;
        for label in labels.iter_mut() {
            let slot = &mut scratch[*label as usize];
            if *slot == u32::MAX {
                *slot = next_label;
                next_label += 1;
            }
            *label = *slot;
        }
        return next_label as usize;
    }
    let mut mapping: HashMap<u32, u32> = HashMap::new();
    for label in labels.iter_mut() {
        let next_label = mapping.len() as u32;
        *label = *mapping.entry(*label).or_insert(next_label);
    }
    mapping.len()
}

/// Number of communities whose members do not form one connected subgraph (using only edges
/// inside the community). Leiden guarantees 0; this is the check the tests and the eval use.
pub fn count_disconnected_communities(graph: &CsrGraph, membership: &[u32]) -> usize {
    let mut labels = membership.to_vec();
    let components = connected_parts_within_communities(graph, &mut labels);
    components.saturating_sub(count_distinct(membership))
}

/// Splits every community into its connected parts (each part gets its own dense label) and
/// returns how many extra communities that created. Splitting a disconnected community never
/// lowers modularity or CPM (for `γ > 0` it strictly raises them: the parts share no edge but
/// pay the `γ` penalty of being together).
pub fn split_disconnected_communities(graph: &CsrGraph, membership: &mut [u32]) -> usize {
    let before = count_distinct(membership);
    let after = connected_parts_within_communities(graph, membership);
    after.saturating_sub(before)
}

fn count_distinct(labels: &[u32]) -> usize {
    let mut copy = labels.to_vec();
    relabel_dense(&mut copy)
}

/// Relabels `labels` so that each connected part of each community gets its own label (dense,
/// in order of the lowest node of each part) and returns the number of parts.
fn connected_parts_within_communities(graph: &CsrGraph, labels: &mut [u32]) -> usize {
    let node_count = graph.node_count();
    if labels.len() != node_count {
        return 0;
    }
    let mut part_of = vec![u32::MAX; node_count];
    let mut stack: Vec<u32> = Vec::new();
    let mut part_count = 0u32;
    for start in 0..node_count {
        if part_of[start] != u32::MAX {
            continue;
        }
        part_of[start] = part_count;
        stack.push(start as u32);
        while let Some(node) = stack.pop() {
            let (neighbours, _) = graph.neighbours(node);
            for &neighbour in neighbours {
                if part_of[neighbour as usize] == u32::MAX && labels[neighbour as usize] == labels[node as usize] {
                    part_of[neighbour as usize] = part_count;
                    stack.push(neighbour);
                }
            }
        }
        part_count += 1;
    }
    labels.copy_from_slice(&part_of);
    part_count as usize
}

/// Normalised mutual information between two labelings of the same nodes, arithmetic-mean
/// normalisation: `NMI = 2·I(X;Y) / (H(X) + H(Y))` with `I(X;Y) = Σ_xy p_xy ln(p_xy / (p_x p_y))`
/// and `H(X) = −Σ_x p_x ln p_x`. 1 for identical partitions (up to renaming), ~0 for
/// independent ones; defined as 1 when both are a single community.
pub fn normalized_mutual_information(first: &[u32], second: &[u32]) -> f64 {
    if first.len() != second.len() || first.is_empty() {
        return 0.0;
    }
    let total = first.len() as f64;
    let mut first_labels = first.to_vec();
    let mut second_labels = second.to_vec();
    let first_count = relabel_dense(&mut first_labels);
    let second_count = relabel_dense(&mut second_labels);
    let mut first_sizes = vec![0u64; first_count];
    let mut second_sizes = vec![0u64; second_count];
    let mut joint: HashMap<(u32, u32), u64> = HashMap::new();
    for (&first_label, &second_label) in first_labels.iter().zip(&second_labels) {
        first_sizes[first_label as usize] += 1;
        second_sizes[second_label as usize] += 1;
        *joint.entry((first_label, second_label)).or_insert(0) += 1;
    }
    let entropy = |sizes: &[u64]| -> f64 {
        sizes
            .iter()
            .filter(|&&size| size > 0)
            .map(|&size| {
                let probability = size as f64 / total;
                -probability * probability.ln()
            })
            .sum()
    };
    let first_entropy = entropy(&first_sizes);
    let second_entropy = entropy(&second_sizes);
    if first_entropy + second_entropy <= 0.0 {
        return 1.0;
    }
    let mutual_information: f64 = joint
        .iter()
        .map(|(&(first_label, second_label), &count)| {
            let joint_probability = count as f64 / total;
            let first_probability = first_sizes[first_label as usize] as f64 / total;
            let second_probability = second_sizes[second_label as usize] as f64 / total;
            joint_probability * (joint_probability / (first_probability * second_probability)).ln()
        })
        .sum();
    (2.0 * mutual_information / (first_entropy + second_entropy)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_triangles() -> CsrGraph {
        CsrGraph::from_edges(6, &[(0, 1, 1.0), (1, 2, 1.0), (0, 2, 1.0), (3, 4, 1.0), (4, 5, 1.0), (3, 5, 1.0)])
            .expect("valid")
    }

    #[test]
    fn modularity_of_two_separate_triangles_is_one_half() {
        // Each triangle: L_c = 3, K_c = 6, m = 6 ⇒ Q = 2·(3/6 − (6/12)²) = 0.5.
        let graph = two_triangles();
        let quality = partition_quality(&graph, &[0, 0, 0, 1, 1, 1], QualityFunction::Modularity { resolution: 1.0 });
        assert!((quality - 0.5).abs() < 1e-12, "{quality}");
        let single = partition_quality(&graph, &[0; 6], QualityFunction::Modularity { resolution: 1.0 });
        assert!(single.abs() < 1e-12);
    }

    #[test]
    fn cpm_counts_internal_edges_minus_density_penalty() {
        // Two triangles, γ = 0.5: each 3 − 0.5·3 = 1.5 ⇒ 3.0; all in one: 6 − 0.5·15 = −1.5.
        let graph = two_triangles();
        let cpm = QualityFunction::Cpm { resolution: 0.5 };
        assert!((partition_quality(&graph, &[0, 0, 0, 1, 1, 1], cpm) - 3.0).abs() < 1e-12);
        assert!((partition_quality(&graph, &[0; 6], cpm) + 1.5).abs() < 1e-12);
    }

    #[test]
    fn disconnected_communities_are_counted_and_split() {
        let graph = two_triangles();
        let mut membership = vec![7, 7, 7, 7, 7, 7];
        assert_eq!(count_disconnected_communities(&graph, &membership), 1);
        assert_eq!(split_disconnected_communities(&graph, &mut membership), 1);
        assert_eq!(membership, vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(count_disconnected_communities(&graph, &membership), 0);
    }

    #[test]
    fn nmi_is_one_for_renamed_partitions_and_low_for_unrelated_ones() {
        let truth = [0, 0, 0, 1, 1, 1, 2, 2, 2];
        let renamed = [5, 5, 5, 9, 9, 9, 1, 1, 1];
        assert!((normalized_mutual_information(&truth, &renamed) - 1.0).abs() < 1e-12);
        let crossed = [0, 1, 2, 0, 1, 2, 0, 1, 2];
        assert!(normalized_mutual_information(&truth, &crossed) < 1e-9);
    }

    #[test]
    fn relabel_handles_large_labels() {
        let mut labels = vec![u32::MAX, 40, u32::MAX, 3];
        assert_eq!(relabel_dense(&mut labels), 3);
        assert_eq!(labels, vec![0, 1, 0, 2]);
    }
}
