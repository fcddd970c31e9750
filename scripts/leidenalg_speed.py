#!/usr/bin/env python3
"""leidenalg's speed on the graph `leiden-eval speed --write-edges FILE` wrote, for the side-by-side
figure of `scripts/leiden-eval`.

FILE holds one undirected edge per line, "u v w" (the CSR murmur ran on: parallel edges already
summed). Runs leidenalg's ModularityVertexPartition from singletons, `--runs` times with seeds
1, 2, ..., under two stopping rules: its default `n_iterations=2`, and `n_iterations=-1` (until an
iteration brings no improvement). Times are CPU seconds of this process (`time.process_time`:
leidenalg and igraph run on one thread); the graph is built once, outside the timing. Prints one
line per rule, in the `key=value` form of `leiden-eval speed`:

    leidenalg: n_iterations=2 runs=3 cpu_seconds_median=... edges_per_cpu_s=... modularity=... communities=...

Usage: leidenalg_speed.py FILE [--runs 3]
"""

import argparse
import statistics
import sys
import time

import igraph
import leidenalg


def read_graph(path):
    sources, targets, weights = [], [], []
    with open(path) as edges_file:
        for line_number, line in enumerate(edges_file, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3:
                raise SystemExit(f"{path}:{line_number}: expected 'u v w', got {line.strip()!r}")
            sources.append(int(fields[0]))
            targets.append(int(fields[1]))
            weights.append(float(fields[2]))
    node_count = max(max(sources, default=-1), max(targets, default=-1)) + 1
    graph = igraph.Graph(n=node_count, edges=list(zip(sources, targets)))
    graph.es["weight"] = weights
    return graph


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("edges")
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    started = time.perf_counter()
    graph = read_graph(arguments.edges)
    print(f"loaded {graph.vcount()} nodes, {graph.ecount()} edges in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    for n_iterations in (2, -1):
        seconds, qualities, communities = [], [], []
        for seed in range(1, arguments.runs + 1):
            started = time.process_time()
            partition = leidenalg.find_partition(
                graph, leidenalg.ModularityVertexPartition, weights="weight", n_iterations=n_iterations, seed=seed
            )
            seconds.append(time.process_time() - started)
            qualities.append(partition.modularity)
            communities.append(len(partition))
        median = statistics.median(seconds)
        print(
            f"leidenalg: n_iterations={n_iterations} runs={arguments.runs} cpu_seconds_median={median:.4f} "
            f"edges_per_cpu_s={graph.ecount() / median:.0f} modularity={statistics.mean(qualities):.4f} "
            f"communities={statistics.mean(communities):.0f}"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
