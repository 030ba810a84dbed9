"""The three clusterings of a round: k-means, DBSCAN and single linkage.

Single linkage and DBSCAN both come from the Euclidean minimum spanning tree, which
lies inside the Delaunay triangulation: O(n) edges instead of the n x n distances that
SciPy's and scikit-learn's single linkage build, and instead of the neighbour lists
scikit-learn's DBSCAN keeps (on the papers' 80000 points with eps 4.5 that is about
10000 neighbours per point, several GB).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import Delaunay

from streamflow_quantum.applications.clustering import METHODS

MIN_SAMPLES = 10


@dataclass(frozen=True)
class RoundParameters:
    """What a round draws, from a generator seeded by the round number."""

    kmeans_k: int
    eps: float
    single_k: int

    @classmethod
    def of_round(cls, round_number: int) -> RoundParameters:
        rng = np.random.default_rng(round_number)
        return cls(
            kmeans_k=int(rng.integers(4, 11)),
            eps=float(rng.uniform(1.2, 4.5)),
            single_k=int(rng.integers(4, 11)),
        )


def kmeans(points: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=min(k, len(points)), random_state=seed).fit_predict(points)


def dbscan(points: np.ndarray, eps: float, min_samples: int = MIN_SAMPLES) -> np.ndarray:
    """DBSCAN labels (-1 for noise), as scikit-learn defines them, in O(n) memory.

    Core points (at least ``min_samples`` points, themselves included, within
    ``eps``) are clustered by the components of their spanning tree cut at ``eps``:
    exactly the components of the eps-neighbour graph. A border point joins the
    cluster of its nearest core point (scikit-learn picks any core neighbour).
    """
    from sklearn.neighbors import KDTree

    core = KDTree(points).query_radius(points, eps, count_only=True) >= min_samples
    labels = np.full(len(points), -1)
    if not core.any():
        return labels
    labels[core] = _tree_components(points[core], max_edge=eps)
    border = np.flatnonzero(~core)
    if len(border):
        distance, nearest = KDTree(points[core]).query(points[border], k=1)
        reached = distance[:, 0] <= eps
        labels[border[reached]] = labels[core][nearest[reached, 0]]
    return labels


def single_linkage(points: np.ndarray, k: int) -> np.ndarray:
    """Single-linkage clusters cut at ``k`` clusters (the k-1 longest tree edges removed)."""
    return _tree_components(points, n_clusters=k)


def cluster(points: np.ndarray, method: str, round_number: int) -> np.ndarray:
    """The labels ``method`` gives in round ``round_number`` (-1 marks DBSCAN noise)."""
    params = RoundParameters.of_round(round_number)
    if method == "kmeans":
        return kmeans(points, params.kmeans_k, seed=round_number)
    if method == "dbscan":
        return dbscan(points, params.eps)
    if method == "single":
        return single_linkage(points, params.single_k)
    raise ValueError(f"unknown clustering method {method!r}; choose one of {', '.join(METHODS)}")


def euclidean_mst(points: np.ndarray) -> sparse.csr_array:
    """The minimum spanning tree of distinct points under Euclidean distance."""
    n = len(points)
    if n < 3:
        edges = np.array(list(combinations(range(n), 2)), dtype=int).reshape(-1, 2)
    else:
        # QJ joggles the input so that every point is a vertex, even collinear ones.
        simplices = Delaunay(points, qhull_options="QJ").simplices
        pairs = combinations(range(simplices.shape[1]), 2)
        edges = np.unique(
            np.sort(np.concatenate([simplices[:, pair] for pair in pairs]), axis=1), axis=0
        )
    weights = np.linalg.norm(points[edges[:, 0]] - points[edges[:, 1]], axis=1)
    graph = sparse.csr_array((weights, (edges[:, 0], edges[:, 1])), shape=(n, n))
    return minimum_spanning_tree(graph)


def _tree_components(
    points: np.ndarray, max_edge: float | None = None, n_clusters: int | None = None
) -> np.ndarray:
    """Labels of the spanning tree's components once cut by edge length or into ``n_clusters``.

    Duplicate points are merged first: a zero-length edge would read as no edge.
    """
    distinct, inverse = np.unique(points, axis=0, return_inverse=True)
    tree = sparse.coo_array(euclidean_mst(distinct))
    keep = np.ones(tree.nnz, dtype=bool)
    if max_edge is not None:
        keep &= tree.data <= max_edge
    if n_clusters is not None and n_clusters > 1:
        keep[np.argsort(tree.data)[-(n_clusters - 1) :]] = False
    kept = sparse.csr_array((tree.data[keep], (tree.row[keep], tree.col[keep])), shape=tree.shape)
    _, labels = connected_components(kept, directed=False)
    return labels[inverse.ravel()]
