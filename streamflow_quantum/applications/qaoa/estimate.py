"""The ``estimate`` mode of the QAOA MaxCut workflow: ⟨C⟩ from Pauli ZZ expectation values.

Each evaluation hands the bound circuit and one ``Z_i Z_j`` observable per edge to the
estimator step (``sfq estimate``), which cuts a circuit wider than the device or
``max_width`` into pieces; the expected cut is ``⟨C⟩ = Σ_edges (1 - ⟨Z_i Z_j⟩) / 2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx
from networkx.algorithms.approximation import one_exchange


def zz_observables(nodes: Sequence[int], edges: Sequence[Sequence[int]]) -> list[str]:
    """One ``Z_i Z_j`` Pauli string per edge, qubit ``i`` being the ``i``-th node (as in
    :func:`~streamflow_quantum.applications.qaoa.maxcut.maxcut_qubo`), leftmost on the
    highest qubit."""
    index = {node: i for i, node in enumerate(nodes)}
    strings = []
    for u, v in edges:
        paulis = ["I"] * len(nodes)
        paulis[-1 - index[u]] = paulis[-1 - index[v]] = "Z"
        strings.append("".join(paulis))
    return strings


def estimated_record(
    estimates: dict[str, Any], circuit: str, observables: list[str]
) -> dict[str, Any]:
    """The estimator's result for ``circuit``, checked to hold ``observables`` in order."""
    results = estimates.get("results")
    if not isinstance(results, list) or len(results) != 1:
        raise ValueError("an estimates file holds one result; pass the estimator's output")
    record: dict[str, Any] = results[0]
    if "error" in record:
        raise ValueError(f"the estimator refused {record.get('circuit')}: {record['error']}")
    if record["circuit"] != circuit:
        raise ValueError(
            f"these estimates are of {record['circuit']}, not of the state's next circuit "
            f"{circuit}: pass the matching state and estimates files"
        )
    if record["observables"] != observables:
        raise ValueError("the estimates are not of this graph's edge observables")
    return record


def expected_cut(correlations: Sequence[float]) -> float:
    """``Σ_edges (1 - ⟨Z_i Z_j⟩) / 2``: the mean cut of the state the correlations are of."""
    return float(sum((1 - c) / 2 for c in correlations))


def rounded_cut(
    graph: nx.Graph, correlations: dict[tuple[int, int], float], seed: int | None
) -> tuple[dict[int, int], int]:
    """A cut from the edges' ``⟨Z_i Z_j⟩``, and the cut its seeding gave before local search.

    Used when the final circuit is too wide to sample: cutting reconstructs expectation
    values, not a distribution of bitstrings. The seed is a spanning tree of the edges QAOA
    most wants cut (most negative ``⟨Z_i Z_j⟩`` first), its ends put on opposite sides
    where ``⟨Z_i Z_j⟩ < 0``: the partition that honours the most decided correlations. A
    tree cannot honour every edge (an odd cycle never can), so networkx's one-exchange
    local search then moves single nodes while that grows the cut. At p=1 each edge's
    correlation depends only on its neighbourhood, so on a regular graph the seed carries
    little beyond "cut every tree edge" and the local search does much of the work: the
    result records both cut values.
    """
    weighted = nx.Graph()
    weighted.add_nodes_from(graph)
    weighted.add_weighted_edges_from((u, v, -c) for (u, v), c in correlations.items())
    tree = nx.maximum_spanning_tree(weighted)
    side: dict[int, int] = {}
    for component in nx.connected_components(tree):
        root = min(component)
        side[root] = 0
        for u, v in nx.bfs_edges(tree, root):
            side[v] = side[u] ^ (tree[u][v]["weight"] > 0)
    seeded = sum(side[u] != side[v] for u, v in graph.edges())
    _, (ones, _) = one_exchange(graph, {n for n, s in side.items() if s}, seed=seed)
    return {n: int(n in ones) for n in graph}, seeded
