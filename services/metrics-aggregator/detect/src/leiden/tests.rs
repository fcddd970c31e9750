//! Leiden on graphs whose good partitions are known.

use super::synthetic::PlantedPartition;
use super::*;

/// Zachary's karate club (34 members, 78 friendships), 0-indexed as in networkx.
const KARATE_EDGES: [(u32, u32); 78] = [
    (0, 1),
    (0, 2),
    (0, 3),
    (0, 4),
    (0, 5),
    (0, 6),
    (0, 7),
    (0, 8),
    (0, 10),
    (0, 11),
    (0, 12),
    (0, 13),
    (0, 17),
    (0, 19),
    (0, 21),
    (0, 31),
    (1, 2),
    (1, 3),
    (1, 7),
    (1, 13),
    (1, 17),
    (1, 19),
    (1, 21),
    (1, 30),
    (2, 3),
    (2, 7),
    (2, 8),
    (2, 9),
    (2, 13),
    (2, 27),
    (2, 28),
    (2, 32),
    (3, 7),
    (3, 12),
    (3, 13),
    (4, 6),
    (4, 10),
    (5, 6),
    (5, 10),
    (5, 16),
    (6, 16),
    (8, 30),
    (8, 32),
    (8, 33),
    (9, 33),
    (13, 33),
    (14, 32),
    (14, 33),
    (15, 32),
    (15, 33),
    (18, 32),
    (18, 33),
    (19, 33),
    (20, 32),
    (20, 33),
    (22, 32),
    (22, 33),
    (23, 25),
    (23, 27),
    (23, 29),
    (23, 32),
    (23, 33),
    (24, 25),
    (24, 27),
    (24, 31),
    (25, 31),
    (26, 29),
    (26, 33),
    (27, 33),
    (28, 31),
    (28, 33),
    (29, 32),
    (29, 33),
    (30, 32),
    (30, 33),
    (31, 32),
    (31, 33),
    (32, 33),
];

/// The club each member joined after the split (0 = Mr. Hi's, 1 = the officer's).
const KARATE_FACTIONS: [u32; 34] =
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];

fn unweighted(node_count: usize, edges: &[(u32, u32)]) -> CsrGraph {
    let weighted: Vec<(u32, u32, f64)> = edges.iter().map(|&(source, target)| (source, target, 1.0)).collect();
    CsrGraph::from_edges(node_count, &weighted).expect("valid test graph")
}

fn clique_edges(first_node: u32, size: u32) -> Vec<(u32, u32)> {
    let mut edges = Vec::new();
    for source in first_node..first_node + size {
        for target in source + 1..first_node + size {
            edges.push((source, target));
        }
    }
    edges
}

fn modularity_config(seed: u64) -> LeidenConfig {
    LeidenConfig { seed, ..LeidenConfig::default() }
}

#[test]
fn karate_club_reaches_known_modularity_and_separates_the_two_leaders() {
    let graph = unweighted(34, &KARATE_EDGES);
    for seed in 0..5 {
        let outcome = leiden(&graph, &modularity_config(seed));
        // The best known modularity of the karate club is 0.4198; Leiden finds it or comes close.
        assert!(outcome.quality > 0.41, "seed {seed}: modularity {}", outcome.quality);
        let recomputed =
            partition_quality(&graph, &outcome.membership, QualityFunction::Modularity { resolution: 1.0 });
        assert!((recomputed - outcome.quality).abs() < 1e-12);
        assert_ne!(
            outcome.membership[0], outcome.membership[33],
            "the instructor and the officer lead different groups"
        );
        assert!((3..=5).contains(&outcome.community_count), "{} communities", outcome.community_count);
        assert!(normalized_mutual_information(&outcome.membership, &KARATE_FACTIONS) > 0.5);
        assert_eq!(count_disconnected_communities(&graph, &outcome.membership), 0);
    }
}

#[test]
fn two_cliques_joined_by_a_bridge_are_exactly_two_communities() {
    let mut edges = clique_edges(0, 6);
    edges.extend(clique_edges(6, 6));
    edges.push((5, 6));
    let graph = unweighted(12, &edges);
    let outcome = leiden(&graph, &modularity_config(3));
    assert_eq!(outcome.community_count, 2);
    assert!(outcome.membership[..6].iter().all(|&label| label == outcome.membership[0]));
    assert!(outcome.membership[6..].iter().all(|&label| label == outcome.membership[6]));
    assert_ne!(outcome.membership[0], outcome.membership[6]);
}

#[test]
fn disconnected_components_never_share_a_community() {
    // Three triangles, a path of two nodes, and two isolated nodes.
    let mut edges = clique_edges(0, 3);
    edges.extend(clique_edges(3, 3));
    edges.extend(clique_edges(6, 3));
    edges.push((9, 10));
    let graph = unweighted(13, &edges);
    let component = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5];
    for seed in 0..10 {
        let outcome = leiden(&graph, &modularity_config(seed));
        for first in 0..13 {
            for second in 0..13 {
                if component[first] != component[second] {
                    assert_ne!(outcome.membership[first], outcome.membership[second], "seed {seed}: {first} {second}");
                }
            }
        }
        // The cliques themselves are found.
        assert_eq!(outcome.community_count, 6, "seed {seed}");
    }
}

#[test]
fn ring_of_cliques_finds_every_clique() {
    let clique_count = 10u32;
    let clique_size = 5u32;
    let mut edges = Vec::new();
    for clique in 0..clique_count {
        edges.extend(clique_edges(clique * clique_size, clique_size));
        let next_clique = (clique + 1) % clique_count;
        edges.push((clique * clique_size, next_clique * clique_size + 1));
    }
    let graph = unweighted((clique_count * clique_size) as usize, &edges);
    let truth: Vec<u32> = (0..clique_count * clique_size).map(|node| node / clique_size).collect();
    let outcome = leiden(&graph, &modularity_config(11));
    assert_eq!(outcome.community_count, clique_count as usize);
    assert!((normalized_mutual_information(&outcome.membership, &truth) - 1.0).abs() < 1e-12);
}

#[test]
fn same_seed_gives_the_same_partition() {
    let (edges, _) =
        PlantedPartition { node_count: 2000, community_count: 20, average_degree: 12, mixing: 0.4, seed: 5 }.generate();
    let graph = CsrGraph::from_edges(2000, &edges).expect("valid");
    let first = leiden(&graph, &modularity_config(99));
    let second = leiden(&graph, &modularity_config(99));
    assert_eq!(first, second);
}

#[test]
fn cpm_resolution_sets_the_minimum_density() {
    let mut edges = clique_edges(0, 5);
    edges.extend(clique_edges(5, 5));
    edges.push((4, 5));
    let graph = unweighted(10, &edges);
    let cpm =
        |resolution: f64| LeidenConfig { quality: QualityFunction::Cpm { resolution }, ..LeidenConfig::default() };
    // γ = 0.5: H(cliques) = 2·(10 − 0.5·10) = 10 beats H(union) = 21 − 0.5·45 = −1.5.
    let split = leiden(&graph, &cpm(0.5));
    assert_eq!(split.community_count, 2);
    assert!((split.quality - 2.0 * (10.0 - 0.5 * 10.0)).abs() < 1e-9);
    // Merging the cliques gains the bridge (1) and costs γ·5·5: worth it only below γ = 0.04.
    let merged = leiden(&graph, &cpm(0.02));
    assert_eq!(merged.community_count, 1);
    // γ above 1: no pair of nodes is dense enough, every node stays alone.
    let alone = leiden(&graph, &cpm(1.5));
    assert_eq!(alone.community_count, 10);
}

#[test]
fn higher_modularity_resolution_gives_smaller_communities() {
    let (edges, _) =
        PlantedPartition { node_count: 1000, community_count: 10, average_degree: 16, mixing: 0.2, seed: 8 }.generate();
    let graph = CsrGraph::from_edges(1000, &edges).expect("valid");
    let coarse = leiden(&graph, &modularity_config(1));
    let fine = leiden(
        &graph,
        &LeidenConfig { quality: QualityFunction::Modularity { resolution: 8.0 }, ..LeidenConfig::default() },
    );
    assert!(fine.community_count > coarse.community_count);
}

#[test]
fn communities_are_connected_on_random_graphs() {
    for seed in 0..12 {
        let (edges, _) = PlantedPartition {
            node_count: 1500,
            community_count: 15,
            average_degree: 4 + (seed as usize % 4) * 2,
            mixing: 0.3 + 0.05 * (seed % 5) as f64,
            seed,
        }
        .generate();
        let graph = CsrGraph::from_edges(1500, &edges).expect("valid");
        for quality in [QualityFunction::Modularity { resolution: 1.0 }, QualityFunction::Cpm { resolution: 0.05 }] {
            let outcome = leiden(&graph, &LeidenConfig { quality, seed, ..LeidenConfig::default() });
            assert_eq!(count_disconnected_communities(&graph, &outcome.membership), 0, "seed {seed}");
            assert_eq!(outcome.split_communities, 0, "seed {seed}: the algorithm itself kept communities connected");
        }
    }
}

#[test]
fn planted_partition_is_recovered() {
    let (edges, truth) =
        PlantedPartition { node_count: 3000, community_count: 30, average_degree: 20, mixing: 0.3, seed: 21 }
            .generate();
    let graph = CsrGraph::from_edges(3000, &edges).expect("valid");
    let outcome = leiden(&graph, &modularity_config(4));
    assert!(normalized_mutual_information(&outcome.membership, &truth) > 0.95);
}

#[test]
fn warm_start_keeps_a_good_partition_and_absorbs_new_edges() {
    let generator =
        PlantedPartition { node_count: 3000, community_count: 30, average_degree: 16, mixing: 0.2, seed: 2 };
    let (mut edges, truth) = generator.generate();
    let graph = CsrGraph::from_edges(3000, &edges).expect("valid");
    let cold = leiden(&graph, &modularity_config(4));

    // A small batch of new edges inside planted communities, touching 20 nodes.
    let mut touched = Vec::new();
    for index in 0..10u32 {
        let source = index * 30;
        let target = source + 30 * 7;
        edges.push((source, target, 1.0));
        touched.extend([source, target]);
    }
    let updated = CsrGraph::from_edges(3000, &edges).expect("valid");
    let mut optimiser = Leiden::new(modularity_config(4));
    let warm =
        optimiser.run_warm(&updated, &WarmStart { initial_membership: &cold.membership, touched_nodes: &touched });
    let recomputed = leiden(&updated, &modularity_config(4));
    assert!(warm.quality >= recomputed.quality - 0.005, "warm {} vs cold {}", warm.quality, recomputed.quality);
    assert!(normalized_mutual_information(&warm.membership, &cold.membership) > 0.98);
    assert!(normalized_mutual_information(&warm.membership, &truth) > 0.95);
    assert_eq!(count_disconnected_communities(&updated, &warm.membership), 0);
}

#[test]
fn warm_start_from_the_optimum_moves_nothing() {
    let mut edges = clique_edges(0, 6);
    edges.extend(clique_edges(6, 6));
    edges.push((5, 6));
    let graph = unweighted(12, &edges);
    let initial = [7, 7, 7, 7, 7, 7, 3, 3, 3, 3, 3, 3];
    let outcome = Leiden::new(modularity_config(1))
        .run_warm(&graph, &WarmStart { initial_membership: &initial, touched_nodes: &[0, 11] });
    assert_eq!(outcome.moves, 0);
    assert_eq!(outcome.membership, vec![0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
}

#[test]
fn warm_start_places_new_nodes() {
    // Node 12 is new and attached to the second clique.
    let mut edges = clique_edges(0, 6);
    edges.extend(clique_edges(6, 6));
    edges.extend([(5, 6), (12, 6), (12, 7), (12, 8)]);
    let graph = unweighted(13, &edges);
    let initial = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
    let outcome = Leiden::new(modularity_config(1))
        .run_warm(&graph, &WarmStart { initial_membership: &initial, touched_nodes: &[] });
    assert_eq!(outcome.membership[12], outcome.membership[6]);
    assert_eq!(outcome.community_count, 2);
}

#[test]
fn empty_and_edgeless_graphs_are_handled() {
    let empty = CsrGraph::from_edges(0, &[]).expect("valid");
    assert_eq!(leiden(&empty, &LeidenConfig::default()).community_count, 0);
    let edgeless = CsrGraph::from_edges(4, &[]).expect("valid");
    let outcome = leiden(&edgeless, &LeidenConfig::default());
    assert_eq!(outcome.community_count, 4);
}

#[test]
fn further_iterations_never_lower_the_quality() {
    // Same seed, one more iteration allowed: the longer run continues the shorter one.
    let (edges, _) =
        PlantedPartition { node_count: 2000, community_count: 20, average_degree: 10, mixing: 0.5, seed: 9 }.generate();
    let graph = CsrGraph::from_edges(2000, &edges).expect("valid");
    let mut previous = f64::NEG_INFINITY;
    for max_iterations in 1..6 {
        let config = LeidenConfig { max_iterations, tolerance: 0.0, seed: 3, ..LeidenConfig::default() };
        let outcome = leiden(&graph, &config);
        assert!(outcome.quality >= previous - 1e-12, "{max_iterations}: {} < {previous}", outcome.quality);
        assert_eq!(count_disconnected_communities(&graph, &outcome.membership), 0);
        previous = outcome.quality;
    }
}

#[test]
fn patience_keeps_iterating_after_idle_iterations() {
    let (edges, _) =
        PlantedPartition { node_count: 1500, community_count: 15, average_degree: 10, mixing: 0.5, seed: 4 }.generate();
    let graph = CsrGraph::from_edges(1500, &edges).expect("valid");
    let strict =
        |patience| LeidenConfig { max_iterations: 1000, tolerance: 0.0, patience, seed: 8, ..LeidenConfig::default() };
    let first_idle = leiden(&graph, &strict(0));
    let patient = leiden(&graph, &strict(3));
    // The patient run repeats the first one, then needs 4 idle iterations in a row to stop.
    assert!(patient.iterations >= first_idle.iterations + 3, "{} vs {}", patient.iterations, first_idle.iterations);
    assert!(patient.quality >= first_idle.quality - 1e-12);
    assert_eq!(count_disconnected_communities(&graph, &patient.membership), 0);
}

#[test]
fn tolerance_stops_after_an_iteration_that_improves_too_little() {
    let (edges, _) =
        PlantedPartition { node_count: 1000, community_count: 10, average_degree: 12, mixing: 0.3, seed: 2 }.generate();
    let graph = CsrGraph::from_edges(1000, &edges).expect("valid");
    // Any improvement is "too little" with an infinite tolerance: one iteration only.
    let lax = leiden(&graph, &LeidenConfig { tolerance: f64::INFINITY, ..LeidenConfig::default() });
    assert_eq!(lax.iterations, 1);
    // With no tolerance the run goes on until an iteration moves nothing.
    let strict = leiden(&graph, &LeidenConfig { tolerance: 0.0, max_iterations: 1000, ..LeidenConfig::default() });
    assert!(strict.iterations >= 2);
    assert!(strict.quality >= lax.quality - 1e-12);
}

#[test]
fn warm_start_splits_a_disconnected_community_it_kept_whole() {
    // Two triangles far apart share a label; nothing is touched, so the first iteration keeps
    // that community whole and the final connectivity pass must split it.
    let mut edges = clique_edges(0, 3);
    edges.extend(clique_edges(3, 3));
    edges.extend(clique_edges(6, 4));
    edges.push((2, 6));
    let graph = unweighted(10, &edges);
    let initial = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
    let outcome = Leiden::new(modularity_config(1))
        .run_warm(&graph, &WarmStart { initial_membership: &initial, touched_nodes: &[] });
    assert_eq!(count_disconnected_communities(&graph, &outcome.membership), 0);
    assert_ne!(outcome.membership[0], outcome.membership[3]);
    let recomputed = partition_quality(&graph, &outcome.membership, QualityFunction::Modularity { resolution: 1.0 });
    assert!((recomputed - outcome.quality).abs() < 1e-12);
}

#[test]
fn warm_start_keeps_untouched_communities_and_matches_a_cold_run() {
    // A ring of 12 cliques; a warm start from the cliques with one new edge inside a clique.
    let mut edges = Vec::new();
    for clique in 0..12u32 {
        edges.extend(clique_edges(clique * 6, 6));
        edges.push((clique * 6, ((clique + 1) % 12) * 6 + 1));
    }
    let before = unweighted(72, &edges);
    let cold = leiden(&before, &modularity_config(5));
    assert_eq!(cold.community_count, 12);
    edges.push((13, 13 + 1));
    let after = unweighted(72, &edges);
    let warm = Leiden::new(modularity_config(5))
        .run_warm(&after, &WarmStart { initial_membership: &cold.membership, touched_nodes: &[13, 14] });
    assert_eq!(warm.membership, cold.membership);
    assert_eq!(warm.split_communities, 0);
}

#[test]
fn the_optimiser_keeps_its_memory_between_runs_and_reports_it() {
    let (edges, _) =
        PlantedPartition { node_count: 2_000, community_count: 10, average_degree: 12, mixing: 0.3, seed: 11 }
            .generate();
    let graph = CsrGraph::from_edges(2_000, &edges).expect("valid");
    let mut optimiser = Leiden::new(LeidenConfig::default());
    assert!(optimiser.memory_bytes() < 1_024, "only empty graphs before the first run");
    let first = optimiser.run(&graph);
    let after_first = optimiser.memory_bytes();
    // At least the grouped copy (as large as the input graph) and the per-node buffers.
    assert!(after_first >= graph.memory_bytes() + 2_000 * std::mem::size_of::<u32>(), "{after_first}");
    // The two aggregate graphs take turns as input and output, so each has served at every level
    // after the second run; from then on the same graph reuses every buffer: same result, nothing grows.
    let second = optimiser.run(&graph);
    assert_eq!(second.membership, first.membership);
    let settled = optimiser.memory_bytes();
    assert!(settled >= after_first);
    for run in 3..6 {
        let again = optimiser.run(&graph);
        assert_eq!(again.membership, first.membership);
        assert_eq!(optimiser.memory_bytes(), settled, "run {run}");
    }
}
