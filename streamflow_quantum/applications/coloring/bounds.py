"""Bounds on the chromatic number used by BBQ-MIS to bound and order the search."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np

#: Eigenvalues closer to zero than this count as zero (inertia) and bounds are
#: rounded up only past this tolerance, so float noise never inflates a bound.
TOLERANCE = 1e-9
#: Up to this many vertices the clique bound is exact (networkx's branch and bound);
#: beyond it a greedy clique from every vertex.
EXACT_CLIQUE_MAX_NODES = 60


def spectral_lower_bound(graph: nx.Graph) -> int:
    """The largest of the Hoffman, Elphick-Wocjan (inertia) and Edwards-Elphick bounds.

    Hoffman: ``1 + λ1 / |λn|``; inertia: ``1 + max(n+/n-, n-/n+)``;
    Edwards-Elphick: ``n / (n - λ1)``, with ``λ`` the adjacency eigenvalues and
    ``n±`` the numbers of positive and negative ones. 0 for no vertices, 1 with
    no edges.
    """
    n = graph.number_of_nodes()
    if graph.number_of_edges() == 0:
        return min(n, 1)
    eigenvalues = np.linalg.eigvalsh(nx.to_numpy_array(graph))
    largest, smallest = eigenvalues[-1], eigenvalues[0]
    positive = int((eigenvalues > TOLERANCE).sum())
    negative = int((eigenvalues < -TOLERANCE).sum())
    bound = max(
        1 + largest / -smallest,
        1 + max(positive / negative, negative / positive),
        n / (n - largest),
    )
    return math.ceil(bound - TOLERANCE)


def clique_lower_bound(graph: nx.Graph) -> int:
    """The size of a clique: the largest on small graphs, a greedy one beyond."""
    if graph.number_of_nodes() <= EXACT_CLIQUE_MAX_NODES:
        _, size = nx.max_weight_clique(graph, weight=None)
        return int(size)
    return max(len(_greedy_clique(graph, v)) for v in graph)


def _greedy_clique(graph: nx.Graph, start: int) -> set[int]:
    """Grow a clique from ``start``, adding the candidate with most candidate neighbours."""
    clique = {start}
    candidates = set(graph[start])
    while candidates:
        best = max(sorted(candidates), key=lambda v: len(candidates.intersection(graph[v])))
        clique.add(best)
        candidates.intersection_update(graph[best])
    return clique


def lower_bound(graph: nx.Graph) -> int:
    """The best of the spectral and clique lower bounds on the chromatic number."""
    return max(spectral_lower_bound(graph), clique_lower_bound(graph))


def degree_upper_bound(graph: nx.Graph) -> int:
    """Welsh-Powell: ``max_i min(d_i + 1, i)`` over degrees sorted in descending order."""
    degrees = sorted((d for _, d in graph.degree()), reverse=True)
    return max((min(d + 1, i) for i, d in enumerate(degrees, start=1)), default=0)


def greedy_coloring(graph: nx.Graph) -> dict[int, int]:
    """DSATUR, networkx's best greedy strategy on small graphs."""
    return nx.greedy_color(graph, strategy="DSATUR")
