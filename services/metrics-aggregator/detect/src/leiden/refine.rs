//! Phase 2 of Leiden: refinement (Traag et al. 2019, Algorithms A.2 `RefinePartition` and
//! `MergeNodesSubset`).
//!
//! The refined partition starts as singletons. Inside each community `S` of the partition
//! produced by local moving, nodes are visited in turn; a node `v` is considered only if it is
//! still alone and *well connected* to the rest of `S`: `E(v, S − v) ≥ r · x_v · (X_S − x_v)`.
//! It may join a refined community `C ⊆ S` that is itself well connected,
//! `E(C, S − C) ≥ r · X_C · (X_S − X_C)`, and whose gain `ΔH = w_vC − r · x_v · X_C` is
//! non-negative, chosen at random with probability `∝ exp(ΔH / θ)` (staying alone has
//! `ΔH = 0`). Because `v` only ever joins a community it has an edge to, every refined community
//! is connected, which is what makes Leiden's final communities connected. `θ = 0` makes the
//! choice greedy (largest gain).
//!
//! **Scale of θ.** `ΔH` is the unified gain in units of edge weight (for modularity
//! `w_vC − γ k_v K_C / 2m`, that is `m` times the change of `Q`), the scale igraph's Leiden uses
//! for its `beta`. Measured as a change of `Q` instead, every `ΔQ` of a large graph is far below
//! `θ = 0.01`, all the exponentials are ≈ 1 and the draw becomes uniform among the candidates,
//! which gives poorer refined communities (and measurably lower modularity on LFR graphs).
//! Ties and near-ties are still broken at random.
//!
//! **Visiting order.** The members of a community are visited in index order. That order is
//! random: the level-0 graph is a copy numbered in random order within each community
//! (`reorder`), and aggregate nodes are numbered in the order the refinement of the level below
//! met them. Index order also reads the rows front to back.
//!
//! **Communities kept whole.** A warm start's first iteration passes `keep_whole`: a community
//! flagged there (untouched by the update) is not refined but becomes one refined community, so
//! the aggregate only splits the communities the update affected.
//!
//! **Output order.** Refined labels are dense and numbered community by community (all the
//! refined communities of community 0 first, then those of community 1, ...), so the aggregate
//! nodes of one community are contiguous: the next level's local moving then mostly touches
//! nearby nodes, which keeps its memory accesses local.

use super::csr::{CsrGraph, Weight};
use super::local_moving::{reset, vec_bytes};
use super::rng::SeededRng;

/// Buffers reused across levels and runs.
#[derive(Debug, Default)]
pub(crate) struct RefineBuffers {
    community_start: Vec<usize>,
    members: Vec<u32>,
    cursor: Vec<usize>,
    community_mass: Vec<f64>,
    /// `E(v, S − v)` per node.
    internal_weight: Vec<f64>,
    refined_mass: Vec<f64>,
    /// `E(C, S − C)` per refined community (indexed by its label, a member's node id).
    refined_external_weight: Vec<f64>,
    refined_member_count: Vec<u32>,
    /// `w_vC` per refined community, plus one spare slot for neighbours outside `S`.
    accumulated: Vec<f64>,
    touched: Vec<u32>,
    candidates: Vec<(u32, f64)>,
    dense_label: Vec<u32>,
}

impl RefineBuffers {
    /// Bytes held by the buffers.
    pub(crate) fn memory_bytes(&self) -> usize {
        let Self {
            community_start,
            members,
            cursor,
            community_mass,
            internal_weight,
            refined_mass,
            refined_external_weight,
            refined_member_count,
            accumulated,
            touched,
            candidates,
            dense_label,
        } = self;
        vec_bytes(community_start)
            + vec_bytes(members)
            + vec_bytes(cursor)
            + vec_bytes(community_mass)
            + vec_bytes(internal_weight)
            + vec_bytes(refined_mass)
            + vec_bytes(refined_external_weight)
            + vec_bytes(refined_member_count)
            + vec_bytes(accumulated)
            + vec_bytes(touched)
            + vec_bytes(candidates)
            + vec_bytes(dense_label)
    }
}

/// Parameters of one refinement call.
pub(crate) struct RefineParameters {
    /// `r` of the unified gain.
    pub mass_penalty: f64,
    /// `θ`, in units of the unified gain (edge weight); 0 = greedy.
    pub randomness: f64,
}

/// Refines `membership` (dense, `community_count` labels) into `refined` (dense labels numbered
/// community by community) and writes the community of every refined label into
/// `community_of_refined`. Communities flagged in `keep_whole` become one refined community
/// each. Returns the number of refined communities.
#[allow(clippy::too_many_arguments)]
pub(crate) fn refine_partition(
    graph: &CsrGraph,
    masses: &[f64],
    parameters: &RefineParameters,
    membership: &[u32],
    community_count: usize,
    keep_whole: Option<&[bool]>,
    rng: &mut SeededRng,
    buffers: &mut RefineBuffers,
    refined: &mut Vec<u32>,
    community_of_refined: &mut Vec<u32>,
) -> usize {
    let node_count = graph.node_count();
    debug_assert_eq!(membership.len(), node_count);
    let RefineBuffers {
        community_start,
        members,
        cursor,
        community_mass,
        internal_weight,
        refined_mass,
        refined_external_weight,
        refined_member_count,
        accumulated,
        touched,
        candidates,
        dense_label,
    } = buffers;
    let mass_penalty = parameters.mass_penalty;

    // Group nodes by community (counting sort, index order kept): the visiting order.
    reset(community_start, community_count + 1, 0);
    reset(community_mass, community_count, 0.0);
    for (&community, &mass) in membership.iter().zip(masses) {
        community_start[community as usize + 1] += 1;
        community_mass[community as usize] += mass;
    }
    for community in 0..community_count {
        community_start[community + 1] += community_start[community];
    }
    cursor.clear();
    cursor.extend_from_slice(&community_start[..community_count]);
    reset(members, node_count, 0);
    for (node, &community) in membership.iter().enumerate() {
        members[cursor[community as usize]] = node as u32;
        cursor[community as usize] += 1;
    }
    let keep = |community: usize| keep_whole.is_some_and(|flags| flags[community]);

    // E(v, S − v) for every node (one pass over the rows, community by community; not needed in
    // communities kept whole). Whether a neighbour is inside S is unpredictable, so instead of a
    // branch the weight is ANDed with an all-ones or all-zeros mask (see `weight_inside`). A
    // community whose members are consecutive nodes (every community right after the grouped
    // copy or an aggregation, most of them later) is tested by range, without reading the
    // neighbour's label.
    reset(internal_weight, node_count, 0.0);
    for community in 0..community_count {
        let community_members = &members[community_start[community]..community_start[community + 1]];
        let (Some(&first), Some(&last)) = (community_members.first(), community_members.last()) else { continue };
        if keep(community) {
            continue;
        }
        let count = community_members.len() as u32;
        // Members are in index order, so they are consecutive exactly when they span `count` nodes.
        let consecutive = last - first + 1 == count;
        let label = community as u32;
        for &node in community_members {
            let (neighbours, weights) = graph.neighbours(node);
            internal_weight[node as usize] = if consecutive {
                weight_inside(neighbours, weights, |neighbour| neighbour.wrapping_sub(first) < count)
            } else {
                weight_inside(neighbours, weights, |neighbour| membership[neighbour as usize] == label)
            };
        }
    }

    refined.clear();
    refined.extend(0..node_count as u32);
    refined_mass.clear();
    refined_mass.extend_from_slice(masses);
    refined_external_weight.clear();
    refined_external_weight.extend_from_slice(internal_weight);
    reset(refined_member_count, node_count, 1);
    // Slot `node_count` collects the weight to neighbours outside the community (ignored).
    let outside = node_count as u32;
    reset(accumulated, node_count + 1, 0.0);
    reset(touched, graph.max_degree() + 1, 0);

    let offsets = &graph.offsets[..];
    let all_neighbours = &graph.neighbours[..];
    let all_weights = &graph.weights[..];
    let refined = &mut refined[..];
    let refined_mass = &mut refined_mass[..];
    let refined_external_weight = &mut refined_external_weight[..];
    let refined_member_count = &mut refined_member_count[..];
    let accumulated = &mut accumulated[..];
    let touched = &mut touched[..];
    let internal_weight = &internal_weight[..];
    for community in 0..community_count {
        let community_members = &members[community_start[community]..community_start[community + 1]];
        if keep(community) {
            for &node in community_members {
                refined[node as usize] = community_members[0];
            }
            continue;
        }
        let community_total_mass = community_mass[community];
        let community_label = community as u32;
        for &node in community_members {
            let node_index = node as usize;
            let own_refined = refined[node_index];
            if refined_member_count[own_refined as usize] != 1 {
                continue;
            }
            let node_mass = masses[node_index];
            if internal_weight[node_index] < mass_penalty * node_mass * (community_total_mass - node_mass) {
                continue;
            }
            let row = offsets[node_index]..offsets[node_index + 1];
            let mut touched_count = 0usize;
            for (&neighbour, &weight) in all_neighbours[row.clone()].iter().zip(&all_weights[row]) {
                // Branch-free select of the slot: the neighbour's refined community when it is
                // inside S, else the ignored slot.
                let inside_mask = u32::from(membership[neighbour as usize] == community_label).wrapping_neg();
                let target = outside ^ ((refined[neighbour as usize] ^ outside) & inside_mask);
                let slot = &mut accumulated[target as usize];
                touched[touched_count] = target;
                touched_count += usize::from(*slot == 0.0);
                *slot += f64::from(weight);
            }
            // Leaving its singleton empties it: its mass goes to 0.
            refined_mass[own_refined as usize] = 0.0;
            candidates.clear();
            let mut best_gain = 0.0f64;
            let mut best_target = own_refined;
            for &target in &touched[..touched_count] {
                if target == outside || target == own_refined {
                    continue;
                }
                let target_mass = refined_mass[target as usize];
                let well_connected = refined_external_weight[target as usize]
                    >= mass_penalty * target_mass * (community_total_mass - target_mass);
                let gain = accumulated[target as usize] - mass_penalty * node_mass * target_mass;
                if well_connected && gain >= 0.0 {
                    candidates.push((target, gain));
                    if gain > best_gain {
                        best_gain = gain;
                        best_target = target;
                    }
                }
            }
            let chosen = if candidates.is_empty() {
                own_refined
            } else if parameters.randomness <= 0.0 {
                best_target
            } else {
                choose_randomly(own_refined, candidates, best_gain, parameters.randomness, rng)
            };
            if chosen != own_refined {
                refined[node_index] = chosen;
                refined_member_count[own_refined as usize] = 0;
                refined_member_count[chosen as usize] += 1;
                refined_mass[chosen as usize] += node_mass;
                // E(C + v, S − C − v) = E(C, S − C) + E(v, S − v) − 2·w_vC.
                refined_external_weight[chosen as usize] +=
                    internal_weight[node_index] - 2.0 * accumulated[chosen as usize];
            } else {
                refined_mass[own_refined as usize] = node_mass;
            }
            for &target in &touched[..touched_count] {
                accumulated[target as usize] = 0.0;
            }
        }
    }

    // Dense labels, community by community (members are grouped by community already).
    reset(dense_label, node_count, u32::MAX);
    community_of_refined.clear();
    for community in 0..community_count {
        for &node in &members[community_start[community]..community_start[community + 1]] {
            let label = &mut dense_label[refined[node as usize] as usize];
            if *label == u32::MAX {
                *label = community_of_refined.len() as u32;
                community_of_refined.push(community as u32);
            }
        }
    }
    for label in refined.iter_mut() {
        *label = dense_label[*label as usize];
    }
    community_of_refined.len()
}

/// Total weight of the neighbours `inside` accepts. Branch-free: each weight is ANDed with a mask
/// of all ones or all zeros, which `black_box` hides from the optimiser (it would otherwise turn
/// the AND back into an unpredictable branch). Four partial sums, so the additions do not wait
/// for each other.
#[inline]
fn weight_inside(neighbours: &[u32], weights: &[Weight], inside: impl Fn(u32) -> bool) -> f64 {
    let masked = |neighbour: u32, weight: Weight| {
        let mask = std::hint::black_box(u32::from(inside(neighbour)).wrapping_neg());
        f64::from(Weight::from_bits(weight.to_bits() & mask))
    };
    let mut sums = [0.0f64; 4];
    let neighbour_chunks = neighbours.chunks_exact(4);
    let weight_chunks = weights.chunks_exact(4);
    let mut rest = 0.0;
    for (&neighbour, &weight) in neighbour_chunks.remainder().iter().zip(weight_chunks.remainder()) {
        rest += masked(neighbour, weight);
    }
    for (neighbour, weight) in neighbour_chunks.zip(weight_chunks) {
        for lane in 0..4 {
            sums[lane] += masked(neighbour[lane], weight[lane]);
        }
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + rest
}

/// Relative weights `exp((gain − best)/θ)` below `exp(−NEGLIGIBLE_EXPONENT)` (≈ 2·10⁻²²) are
/// treated as 0: such an option could only be drawn with a probability below the resolution of
/// the uniform draw (2⁻⁵³ ≈ 10⁻¹⁶), and skipping `exp` there avoids its slow underflow path.
const NEGLIGIBLE_EXPONENT: f64 = 50.0;

/// Relative weight `exp(exponent)` of an option (`exponent ≤ 0`), 0 when negligible.
fn relative_weight(exponent: f64) -> f64 {
    if exponent < -NEGLIGIBLE_EXPONENT {
        0.0
    } else {
        exp_nonpositive(exponent)
    }
}

/// `eˣ` for `x` in `[−NEGLIGIBLE_EXPONENT, 0]`, relative error below 10⁻⁸: `x = k·ln 2 + r` with
/// `|r| ≤ ln 2 / 2`, `eʳ` by its Taylor series to degree 7 (Horner form; the remainder is below
/// `0.35⁸/8! ≈ 5·10⁻⁹`) and `2ᵏ` built from the exponent bits.
/// Plain arithmetic, several times faster than the C library's `exp` (the refinement evaluates
/// one per candidate) and the same on every platform, so seeded runs stay reproducible.
fn exp_nonpositive(x: f64) -> f64 {
    debug_assert!((-NEGLIGIBLE_EXPONENT..=0.0).contains(&x));
    // ln 2 split in a part exact in few bits and the rest, so that k·LN2_HIGH is exact.
    const LN2_HIGH: f64 = 0.693_147_180_369_123_8;
    const LN2_LOW: f64 = 1.908_214_929_270_587_7e-10;
    // Nearest integer to x / ln 2 (x ≤ 0, so truncating −x/ln 2 + ½ rounds).
    let k = -((-x * std::f64::consts::LOG2_E + 0.5) as i64);
    let r = (x - k as f64 * LN2_HIGH) - k as f64 * LN2_LOW;
    // 1/n! for n = 7 down to 0.
    const COEFFICIENTS: [f64; 8] = [1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 1.0 / 2.0, 1.0, 1.0];
    let series = COEFFICIENTS.iter().fold(0.0, |sum, &coefficient| sum * r + coefficient);
    series * f64::from_bits(((k + 1023) as u64) << 52)
}

/// Draws among staying alone (gain 0) and `candidates` with probability `∝ exp(gain/θ)`,
/// shifted by the best gain so the exponentials cannot overflow. The candidates' gains are
/// replaced by their relative weights.
fn choose_randomly(
    own_refined: u32,
    candidates: &mut [(u32, f64)],
    best_gain: f64,
    randomness: f64,
    rng: &mut SeededRng,
) -> u32 {
    let factor = 1.0 / randomness;
    let stay_weight = relative_weight((0.0 - best_gain) * factor);
    let mut total = stay_weight;
    for (_, gain) in candidates.iter_mut() {
        *gain = relative_weight((*gain - best_gain) * factor);
        total += *gain;
    }
    let mut threshold = rng.next_f64() * total;
    if threshold < stay_weight {
        return own_refined;
    }
    threshold -= stay_weight;
    for &(target, weight) in candidates.iter() {
        if threshold < weight {
            return target;
        }
        threshold -= weight;
    }
    // Rounding can leave a sliver of probability: give it to the last candidate with a weight.
    candidates.iter().rev().find(|&&(_, weight)| weight > 0.0).map_or(own_refined, |&(target, _)| target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leiden::quality::{count_disconnected_communities, QualityFunction};
    use crate::leiden::synthetic::PlantedPartition;

    #[test]
    fn the_weight_inside_is_the_sum_over_the_accepted_neighbours_whatever_the_row_length() {
        for length in 0..11u32 {
            let neighbours: Vec<u32> = (0..length).map(|index| index * 3).collect();
            let weights: Vec<Weight> = (0..length).map(|index| (index + 1) as Weight * 0.5).collect();
            let inside = |neighbour: u32| neighbour.is_multiple_of(2);
            let expected: f64 = neighbours
                .iter()
                .zip(&weights)
                .filter(|(&neighbour, _)| inside(neighbour))
                .map(|(_, &weight)| f64::from(weight))
                .sum();
            assert_eq!(weight_inside(&neighbours, &weights, inside), expected, "row of {length}");
        }
    }

    fn refine(graph: &CsrGraph, membership: &[u32], randomness: f64, seed: u64) -> (Vec<u32>, Vec<u32>) {
        refine_keeping(graph, membership, None, randomness, seed)
    }

    fn refine_keeping(
        graph: &CsrGraph,
        membership: &[u32],
        keep_whole: Option<&[bool]>,
        randomness: f64,
        seed: u64,
    ) -> (Vec<u32>, Vec<u32>) {
        let quality = QualityFunction::Modularity { resolution: 1.0 };
        let mut dense = membership.to_vec();
        let community_count = crate::leiden::relabel_dense(&mut dense);
        let mut refined = Vec::new();
        let mut community_of_refined = Vec::new();
        let count = refine_partition(
            graph,
            quality.masses(graph),
            &RefineParameters { mass_penalty: quality.mass_penalty(graph), randomness },
            &dense,
            community_count,
            keep_whole,
            &mut SeededRng::new(seed),
            &mut RefineBuffers::default(),
            &mut refined,
            &mut community_of_refined,
        );
        assert_eq!(count, community_of_refined.len());
        // Each refined community lies inside one community, given by community_of_refined.
        for (node, &label) in refined.iter().enumerate() {
            assert!((label as usize) < count);
            assert_eq!(community_of_refined[label as usize], dense[node]);
        }
        (refined, community_of_refined)
    }

    #[test]
    fn exp_nonpositive_matches_the_library_exp() {
        let mut x = 0.0;
        while x >= -NEGLIGIBLE_EXPONENT {
            let expected = x.exp();
            assert!(((exp_nonpositive(x) - expected) / expected).abs() < 1e-8, "x = {x}");
            x -= 0.0137;
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(relative_weight(-NEGLIGIBLE_EXPONENT - 1.0), 0.0);
    }

    #[test]
    fn refined_labels_are_dense_and_numbered_community_by_community() {
        let (edges, truth) =
            PlantedPartition { node_count: 600, community_count: 6, average_degree: 10, mixing: 0.2, seed: 3 }
                .generate();
        let graph = CsrGraph::from_edges(600, &edges).expect("valid");
        for randomness in [0.0, 0.01, 1.0] {
            let (refined, community_of_refined) = refine(&graph, &truth, randomness, 9);
            // Non-decreasing: the labels of community c come before those of community c + 1.
            assert!(community_of_refined.windows(2).all(|pair| pair[0] <= pair[1]), "θ = {randomness}");
            // Refined communities merge something on this dense graph and are connected.
            assert!(community_of_refined.len() < 600);
            assert_eq!(count_disconnected_communities(&graph, &refined), 0, "θ = {randomness}");
        }
    }

    #[test]
    fn greedy_refinement_rebuilds_cliques_that_are_communities() {
        // Two 5-cliques joined by one edge, each its own community: every node is well
        // connected, joining the largest refined community always gains most, so each clique
        // becomes exactly one refined community.
        let mut edges = Vec::new();
        for first in [0u32, 5] {
            for source in first..first + 5 {
                for target in source + 1..first + 5 {
                    edges.push((source, target, 1.0));
                }
            }
        }
        edges.push((4, 5, 1.0));
        let graph = CsrGraph::from_edges(10, &edges).expect("valid");
        for seed in 0..5 {
            let (refined, community_of_refined) = refine(&graph, &[0, 0, 0, 0, 0, 1, 1, 1, 1, 1], 0.0, seed);
            assert_eq!(refined, vec![0, 0, 0, 0, 0, 1, 1, 1, 1, 1], "seed {seed}");
            assert_eq!(community_of_refined, vec![0, 1]);
        }
    }

    #[test]
    fn communities_kept_whole_become_one_refined_community() {
        let (edges, truth) =
            PlantedPartition { node_count: 300, community_count: 3, average_degree: 10, mixing: 0.2, seed: 5 }
                .generate();
        let graph = CsrGraph::from_edges(300, &edges).expect("valid");
        // Community labels in order of first appearance: node 0 is in community 0, and so on.
        let (refined, community_of_refined) = refine_keeping(&graph, &truth, Some(&[true, false, true]), 0.01, 2);
        let kept_zero: Vec<u32> = (0..300).filter(|node| node % 3 == 0).map(|node| refined[node]).collect();
        assert!(kept_zero.iter().all(|&label| label == kept_zero[0]));
        assert_eq!(community_of_refined.iter().filter(|&&community| community == 0).count(), 1);
        assert_eq!(community_of_refined.iter().filter(|&&community| community == 2).count(), 1);
        // The community not kept whole is refined into several parts.
        assert!(community_of_refined.iter().filter(|&&community| community == 1).count() > 1);
    }
}
