//! Phase 2 of Leiden: refinement (Traag et al. 2019, Algorithms A.2 `RefinePartition` and
//! `MergeNodesSubset`).
//!
//! The refined partition starts as singletons. Inside each community `S` of the partition
//! produced by local moving, nodes are visited in random order; a node `v` is considered only if
//! it is still alone and *well connected* to the rest of `S`:
//! `E(v, S − v) ≥ r · x_v · (X_S − x_v)`. It may join a refined community `C ⊆ S` that is itself
//! well connected, `E(C, S − C) ≥ r · X_C · (X_S − X_C)`, and whose gain
//! `ΔH = w_vC − r · x_v · X_C` is non-negative, chosen at random with probability
//! `∝ exp(ΔH · s / θ)` (`s` turns the gain into a change of the quality value; staying alone
//! has `ΔH = 0`). Because `v` only ever joins a community it has an edge to, every refined
//! community is connected, which is what makes Leiden's final communities connected.
//! `θ = 0` makes the choice greedy (largest gain).

use super::csr::CsrGraph;
use super::local_moving::reset;
use super::rng::SeededRng;

/// Buffers reused across levels and runs.
#[derive(Debug, Default)]
pub(crate) struct RefineBuffers {
    order: Vec<u32>,
    community_start: Vec<usize>,
    members: Vec<u32>,
    community_mass: Vec<f64>,
    external_weight: Vec<f64>,
    refined_mass: Vec<f64>,
    refined_external_weight: Vec<f64>,
    refined_member_count: Vec<u32>,
    neighbour_weight: Vec<f64>,
    neighbour_communities: Vec<u32>,
    candidates: Vec<(u32, f64)>,
}

/// Parameters of one refinement call.
pub(crate) struct RefineParameters {
    pub mass_penalty: f64,
    pub gain_scale: f64,
    pub randomness: f64,
}

/// Refines `membership` (dense, `community_count` labels) and writes refined labels (node ids of
/// an arbitrary member, not dense) into `refined`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn refine_partition(
    graph: &CsrGraph,
    masses: &[f64],
    parameters: &RefineParameters,
    membership: &[u32],
    community_count: usize,
    rng: &mut SeededRng,
    buffers: &mut RefineBuffers,
    refined: &mut Vec<u32>,
) {
    let node_count = graph.node_count();
    let RefineBuffers {
        order,
        community_start,
        members,
        community_mass,
        external_weight,
        refined_mass,
        refined_external_weight,
        refined_member_count,
        neighbour_weight,
        neighbour_communities,
        candidates,
    } = buffers;
    let mass_penalty = parameters.mass_penalty;

    // Group nodes by community, in a random order within each community (counting sort of a
    // shuffled order keeps the shuffle inside each group).
    order.clear();
    order.extend(0..node_count as u32);
    rng.shuffle(order);
    reset(community_start, community_count + 1, 0);
    reset(community_mass, community_count, 0.0);
    for node in 0..node_count {
        community_start[membership[node] as usize + 1] += 1;
        community_mass[membership[node] as usize] += masses[node];
    }
    for community in 0..community_count {
        community_start[community + 1] += community_start[community];
    }
    reset(members, node_count, 0);
    {
        let mut cursor: Vec<usize> = community_start[..community_count].to_vec();
        for &node in order.iter() {
            let community = membership[node as usize] as usize;
            members[cursor[community]] = node;
            cursor[community] += 1;
        }
    }

    // E(v, S − v) for every node.
    reset(external_weight, node_count, 0.0);
    for node in 0..node_count {
        let (neighbours, weights) = graph.neighbours(node as u32);
        let community = membership[node];
        let mut inside = 0.0;
        for (&neighbour, &weight) in neighbours.iter().zip(weights) {
            if membership[neighbour as usize] == community {
                inside += weight;
            }
        }
        external_weight[node] = inside;
    }

    refined.clear();
    refined.extend(0..node_count as u32);
    refined_mass.clear();
    refined_mass.extend_from_slice(masses);
    refined_external_weight.clear();
    refined_external_weight.extend_from_slice(external_weight);
    reset(refined_member_count, node_count, 1);
    reset(neighbour_weight, node_count, 0.0);
    neighbour_communities.clear();

    for community in 0..community_count {
        let community_total_mass = community_mass[community];
        for &node in &members[community_start[community]..community_start[community + 1]] {
            let node_index = node as usize;
            let own_refined = refined[node_index];
            if refined_member_count[own_refined as usize] != 1 {
                continue;
            }
            let node_mass = masses[node_index];
            if external_weight[node_index] < mass_penalty * node_mass * (community_total_mass - node_mass) {
                continue;
            }
            let (neighbours, weights) = graph.neighbours(node);
            for (&neighbour, &weight) in neighbours.iter().zip(weights) {
                if membership[neighbour as usize] as usize != community {
                    continue;
                }
                let target = refined[neighbour as usize];
                let slot = &mut neighbour_weight[target as usize];
                if *slot == 0.0 {
                    neighbour_communities.push(target);
                }
                *slot += weight;
            }
            // Leaving its singleton empties it: its mass goes to 0.
            refined_mass[own_refined as usize] = 0.0;
            candidates.clear();
            let mut best_gain = 0.0f64;
            let mut best_target = own_refined;
            for &target in neighbour_communities.iter() {
                if target == own_refined {
                    continue;
                }
                let target_mass = refined_mass[target as usize];
                let well_connected = refined_external_weight[target as usize]
                    >= mass_penalty * target_mass * (community_total_mass - target_mass);
                if !well_connected {
                    continue;
                }
                let gain = neighbour_weight[target as usize] - mass_penalty * node_mass * target_mass;
                if gain >= 0.0 {
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
                choose_randomly(own_refined, candidates, best_gain, parameters, rng)
            };
            if chosen == own_refined {
                refined_mass[own_refined as usize] = node_mass;
            } else {
                refined[node_index] = chosen;
                refined_member_count[own_refined as usize] = 0;
                refined_member_count[chosen as usize] += 1;
                refined_mass[chosen as usize] += node_mass;
                refined_external_weight[chosen as usize] +=
                    external_weight[node_index] - 2.0 * neighbour_weight[chosen as usize];
            }
            for &target in neighbour_communities.iter() {
                neighbour_weight[target as usize] = 0.0;
            }
            neighbour_communities.clear();
        }
    }
}

/// Draws among staying alone (gain 0) and `candidates` with probability `∝ exp(gain·s/θ)`,
/// shifted by the best gain so the exponentials cannot overflow.
fn choose_randomly(
    own_refined: u32,
    candidates: &[(u32, f64)],
    best_gain: f64,
    parameters: &RefineParameters,
    rng: &mut SeededRng,
) -> u32 {
    let factor = parameters.gain_scale / parameters.randomness;
    let stay_weight = ((0.0 - best_gain) * factor).exp();
    let total: f64 = stay_weight + candidates.iter().map(|&(_, gain)| ((gain - best_gain) * factor).exp()).sum::<f64>();
    let mut threshold = rng.next_f64() * total;
    if threshold < stay_weight {
        return own_refined;
    }
    threshold -= stay_weight;
    for &(target, gain) in candidates {
        let weight = ((gain - best_gain) * factor).exp();
        if threshold < weight {
            return target;
        }
        threshold -= weight;
    }
    // Rounding can leave a sliver of probability: give it to the last candidate.
    candidates.last().map(|&(target, _)| target).unwrap_or(own_refined)
}
