"""Candidates and the weighted maximum-independent-set QUBO that picks a consensus.

Every cluster of every method is a candidate; two candidates conflict when they
share a point. Clusters of one method never conflict (each method partitions the
points, DBSCAN's noise being a candidate of its own), so the conflicts are the pairs
of candidates of two methods that hold one point.

NumPy only: the QUBO, MIS and score steps import this module, each a Slurm job of its
own in every round, and SciPy's sparse module would add about 0.3 s to each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np


@dataclass(frozen=True)
class Candidates:
    """Candidate ``offsets[m] + labels[m, p]`` is the cluster of method ``m`` holding point ``p``."""

    methods: tuple[str, ...]
    labels: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_labels(cls, labelings: Mapping[str, np.ndarray]) -> Candidates:
        """Candidates from each method's labels (any integers; -1, DBSCAN's noise, included)."""
        dense = [np.unique(labels, return_inverse=True)[1].ravel() for labels in labelings.values()]
        if len({len(labels) for labels in dense}) != 1:
            raise ValueError("every method must label the same points")
        counts = [int(np.max(labels)) + 1 for labels in dense]
        return cls(tuple(labelings), np.stack(dense), np.concatenate([[0], np.cumsum(counts)]))

    @property
    def count(self) -> int:
        return int(self.offsets[-1])

    def holders(self) -> np.ndarray:
        """The (methods x points) candidate holding each point, one row per method."""
        return self.labels + self.offsets[:-1, None]

    def sizes(self) -> np.ndarray:
        return np.concatenate([np.bincount(labels) for labels in self.labels])

    def conflicts(self) -> np.ndarray:
        """The symmetric boolean (candidates x candidates) conflict matrix."""
        shared = np.zeros((self.count, self.count), dtype=bool)
        for first, second in combinations(self.holders(), 2):
            shared[first, second] = True
        return shared | shared.T


def mis_qubo(conflicts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Upper-triangular QUBO: ``n`` for conflicting ``i < j``, ``-|C_i| / max_k |C_k|`` on the diagonal.

    A penalty of ``n`` outweighs any gain (at most 1 per candidate), so minima are
    independent sets; the weights favour covering many points.
    """
    q = np.triu(conflicts, 1) * float(len(sizes))
    np.fill_diagonal(q, -np.asarray(sizes, dtype=float) / np.max(sizes))
    return q


def conflicts_of(qubo: np.ndarray) -> np.ndarray:
    """The conflict matrix encoded by a :func:`mis_qubo`."""
    upper = np.triu(qubo, 1) > 0
    return upper | upper.T


def weights_of(qubo: np.ndarray) -> np.ndarray:
    """Each candidate's weight (its relative size) encoded by a :func:`mis_qubo`."""
    return -np.diag(qubo)
