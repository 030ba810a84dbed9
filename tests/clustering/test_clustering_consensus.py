from __future__ import annotations

import numpy as np

from streamflow_quantum.applications.clustering.consensus import (
    Candidates,
    conflicts_of,
    mis_qubo,
    weights_of,
)

# Six points; k-means splits {0,1,2} | {3,4,5}; DBSCAN finds {0,1}, {3,4} and noise {2,5}.
LABELINGS = {"kmeans": np.array([1, 1, 1, 0, 0, 0]), "dbscan": np.array([0, 0, -1, 1, 1, -1])}


def test_every_cluster_is_a_candidate_and_noise_is_one_more() -> None:
    candidates = Candidates.from_labels(LABELINGS)
    assert candidates.methods == ("kmeans", "dbscan")
    assert candidates.count == 5
    holders = candidates.holders()
    assert [set(np.flatnonzero((holders == c).any(axis=0))) for c in range(5)] == [
        {3, 4, 5},
        {0, 1, 2},
        {2, 5},
        {0, 1},
        {3, 4},
    ]
    assert candidates.sizes().tolist() == [3, 3, 2, 2, 2]


def test_candidates_conflict_when_they_share_a_point() -> None:
    conflicts = Candidates.from_labels(LABELINGS).conflicts()
    expected = {(0, 2), (0, 4), (1, 2), (1, 3)}
    assert {(i, j) for i, j in zip(*np.nonzero(conflicts), strict=True) if i < j} == expected
    assert (conflicts == conflicts.T).all()


def test_mis_qubo_penalises_conflicts_with_n_and_rewards_relative_size() -> None:
    candidates = Candidates.from_labels(LABELINGS)
    conflicts = candidates.conflicts()
    q = mis_qubo(conflicts, candidates.sizes())
    n = candidates.count
    assert (np.tril(q, -1) == 0).all()
    assert (np.triu(q, 1)[np.triu(conflicts, 1)] == n).all()
    assert (np.triu(q, 1)[~np.triu(conflicts, 1)] == 0).all()
    assert np.diag(q).tolist() == [-1, -1, -2 / 3, -2 / 3, -2 / 3]
    assert (conflicts_of(q) == conflicts).all()
    assert weights_of(q).tolist() == [1, 1, 2 / 3, 2 / 3, 2 / 3]
    kmeans_only, conflicting = np.array([1, 1, 0, 0, 0]), np.array([1, 1, 1, 0, 0])
    assert kmeans_only @ q @ kmeans_only == -2
    assert conflicting @ q @ conflicting > 0


def test_clusters_of_one_method_never_conflict() -> None:
    rng = np.random.default_rng(0)
    labelings = {name: rng.integers(0, 6, size=300) for name in ("a", "b", "c")}
    candidates = Candidates.from_labels(labelings)
    conflicts = candidates.conflicts()
    for start, stop in zip(candidates.offsets[:-1], candidates.offsets[1:], strict=True):
        assert not conflicts[start:stop, start:stop].any()
    assert conflicts[candidates.offsets[0] : candidates.offsets[1], candidates.offsets[1] :].all()
