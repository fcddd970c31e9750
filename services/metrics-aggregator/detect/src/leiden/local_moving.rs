//! Phase 1 of Leiden: fast local moving of nodes (Traag et al. 2019, Algorithm A.2 `MoveNodesFast`).
//!
//! Unlike Louvain, which sweeps every node until nothing moves, the fast variant keeps a queue:
//! all nodes start in it (in random order); a node is popped, moved to the community with the
//! largest quality gain (or left where it is, or put alone in an empty community when every
//! neighbouring community would lower the quality), and when it moves, its neighbours that are
//! not in its new community and not already queued are appended. The phase ends when the queue is
//! empty, so late iterations only revisit the part of the graph that changed.
//!
//! Gain of moving `v` (after removing it from its community) into `C`:
//! `w_vC − r · x_v · X_C` (see `quality` for `r` and the mass `x`). Ties keep the current
//! community, which makes the phase deterministic for a given queue order.

use std::collections::VecDeque;

use super::csr::CsrGraph;

/// Buffers reused across levels and runs so the hot loop never allocates.
#[derive(Debug, Default)]
pub(crate) struct MoveBuffers {
    community_mass: Vec<f64>,
    community_member_count: Vec<u32>,
    empty_communities: Vec<u32>,
    neighbour_community_weight: Vec<f64>,
    neighbour_communities: Vec<u32>,
    queue: VecDeque<u32>,
    in_queue: Vec<bool>,
}

/// Runs the queue-based local moving on `membership` (dense labels below the node count),
/// starting with `initial_queue` (in that order). Returns the number of moves made.
pub(crate) fn fast_move_nodes(
    graph: &CsrGraph,
    masses: &[f64],
    mass_penalty: f64,
    membership: &mut [u32],
    initial_queue: &[u32],
    buffers: &mut MoveBuffers,
) -> usize {
    let node_count = graph.node_count();
    debug_assert_eq!(membership.len(), node_count);
    let MoveBuffers {
        community_mass,
        community_member_count,
        empty_communities,
        neighbour_community_weight,
        neighbour_communities,
        queue,
        in_queue,
    } = buffers;
    reset(community_mass, node_count, 0.0);
    reset(community_member_count, node_count, 0);
    reset(neighbour_community_weight, node_count, 0.0);
    reset(in_queue, node_count, false);
    neighbour_communities.clear();
    queue.clear();
    empty_communities.clear();

    for node in 0..node_count {
        let community = membership[node] as usize;
        debug_assert!(community < node_count);
        community_mass[community] += masses[node];
        community_member_count[community] += 1;
    }
    // Reverse order so that popping hands out the lowest free label first (stable numbering).
    for community in (0..node_count).rev() {
        if community_member_count[community] == 0 {
            empty_communities.push(community as u32);
        }
    }
    for &node in initial_queue {
        if (node as usize) < node_count && !in_queue[node as usize] {
            in_queue[node as usize] = true;
            queue.push_back(node);
        }
    }

    let mut move_count = 0usize;
    while let Some(node) = queue.pop_front() {
        let node_index = node as usize;
        in_queue[node_index] = false;
        let current_community = membership[node_index];
        let node_mass = masses[node_index];

        let (neighbours, weights) = graph.neighbours(node);
        for (&neighbour, &weight) in neighbours.iter().zip(weights) {
            let community = membership[neighbour as usize];
            let slot = &mut neighbour_community_weight[community as usize];
            if *slot == 0.0 {
                neighbour_communities.push(community);
            }
            *slot += weight;
        }

        community_mass[current_community as usize] -= node_mass;
        let mut best_community = current_community;
        let mut best_gain = neighbour_community_weight[current_community as usize]
            - mass_penalty * node_mass * community_mass[current_community as usize];
        for &community in neighbour_communities.iter() {
            let gain = neighbour_community_weight[community as usize]
                - mass_penalty * node_mass * community_mass[community as usize];
            if gain > best_gain {
                best_gain = gain;
                best_community = community;
            }
        }
        // An empty community has gain 0: better when every option is negative. Only useful when
        // the node is not already alone (then its own community is that empty one).
        if best_gain < 0.0 && community_member_count[current_community as usize] > 1 {
            if let Some(&empty) = empty_communities.last() {
                best_community = empty;
            }
        }
        for &community in neighbour_communities.iter() {
            neighbour_community_weight[community as usize] = 0.0;
        }
        neighbour_communities.clear();

        community_mass[best_community as usize] += node_mass;
        if best_community == current_community {
            continue;
        }
        if empty_communities.last() == Some(&best_community) {
            empty_communities.pop();
        }
        community_member_count[current_community as usize] -= 1;
        community_member_count[best_community as usize] += 1;
        if community_member_count[current_community as usize] == 0 {
            empty_communities.push(current_community);
        }
        membership[node_index] = best_community;
        move_count += 1;
        for &neighbour in neighbours {
            let neighbour_index = neighbour as usize;
            if !in_queue[neighbour_index] && membership[neighbour_index] != best_community {
                in_queue[neighbour_index] = true;
                queue.push_back(neighbour);
            }
        }
    }
    move_count
}

/// Clears `buffer` and refills it with `length` copies of `value`, keeping its capacity.
pub(crate) fn reset<T: Copy>(buffer: &mut Vec<T>, length: usize, value: T) {
    buffer.clear();
    buffer.resize(length, value);
}
