"""From chosen candidates to a clustering, its silhouette, and when to stop."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from streamflow_quantum.applications.clustering.consensus import Candidates
from streamflow_quantum.applications.step_files import read_json

THRESHOLD = 0.8
MAX_ROUNDS = 10
#: The silhouette is O(n^2): on larger inputs it is estimated on this many points.
SAMPLE_SIZE = 10_000
SAMPLE_SEED = 0
#: Rows of pairwise distances computed at once (x SAMPLE_SIZE x 8 bytes: 40 MB).
CHUNK_ROWS = 500


def assign(points: np.ndarray, candidates: Candidates, selection: np.ndarray) -> np.ndarray:
    """Labels 0..k-1 for the k chosen (disjoint) candidates; uncovered points join the nearest centroid."""
    chosen = np.flatnonzero(selection)
    if not len(chosen):
        raise ValueError("no candidate was chosen: the MIS solution is empty")
    position = np.full(candidates.count, -1)
    position[chosen] = np.arange(len(chosen))
    labels = position[candidates.holders()].max(axis=0)
    covered = labels >= 0
    counts = np.bincount(labels[covered], minlength=len(chosen))
    centroids = (
        np.stack(
            [
                np.bincount(labels[covered], weights=axis, minlength=len(chosen))
                for axis in points[covered].T
            ],
            axis=1,
        )
        / counts[:, None]
    )
    if not covered.all():
        labels[~covered] = _nearest(points[~covered], centroids)
    return labels


def _nearest(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of each point's nearest centroid (there are tens of centroids at most)."""
    squared = ((points[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    return np.argmin(squared, axis=1)


def silhouette(points: np.ndarray, labels: np.ndarray, sample_size: int = SAMPLE_SIZE) -> float:
    """The mean silhouette coefficient, -1 for a single cluster.

    It equals scikit-learn's ``silhouette_score(points, labels, sample_size=...,
    random_state=SAMPLE_SEED)``, sample included (the tests compare the two), but is
    computed here: importing ``sklearn.metrics`` takes about 2 s, longer than the
    computation, and the score step is a Slurm job of its own in every round.
    """
    if len(points) > sample_size:
        sample = np.random.RandomState(SAMPLE_SEED).permutation(len(points))[:sample_size]
        points, labels = points[sample], labels[sample]
    names, labels = np.unique(labels, return_inverse=True)
    if len(names) < 2:
        return -1.0
    members = np.zeros((len(points), len(names)))
    members[np.arange(len(points)), labels] = 1.0
    sizes = members.sum(axis=0)
    totals = np.empty_like(members)  # each point's summed distance to each cluster
    squared_norms = (points**2).sum(axis=1)
    for start in range(0, len(points), CHUNK_ROWS):
        rows = slice(start, start + CHUNK_ROWS)
        squared = squared_norms[rows, None] + squared_norms[None, :] - 2 * points[rows] @ points.T
        distances = np.sqrt(np.maximum(squared, 0.0))
        distances[np.arange(len(distances)), np.arange(start, start + len(distances))] = 0.0
        totals[rows] = distances @ members
    own = sizes[labels]
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = totals[np.arange(len(points)), labels] / (own - 1)
        means = totals / sizes
        means[np.arange(len(points)), labels] = np.inf
        nearest = means.min(axis=1)
        values = (nearest - inside) / np.maximum(inside, nearest)
    # A point alone in its cluster scores 0, as in scikit-learn.
    return float(np.where(own > 1, np.nan_to_num(values), 0.0).mean())


@dataclass(frozen=True)
class Score:
    """The best clustering so far (``score.json``); ``done`` tells the loop to stop."""

    silhouette: float
    rounds: int
    clusters: int
    best_round: int
    done: bool

    def to_json(self) -> dict[str, float | int | bool]:
        return asdict(self)


def next_score(
    silhouette_value: float,
    labels: np.ndarray,
    round_number: int,
    best: Score | None,
    threshold: float = THRESHOLD,
    max_rounds: int = MAX_ROUNDS,
) -> Score:
    """The score after ``round_number``: this round's if it beats ``best`` (ties keep the older)."""
    if best is not None and best.silhouette >= silhouette_value:
        value, clusters, best_round = best.silhouette, best.clusters, best.best_round
    else:
        value, clusters, best_round = silhouette_value, len(np.unique(labels)), round_number
    done = value >= threshold or round_number >= max_rounds
    return Score(value, round_number, clusters, best_round, done)


def read_score(path: str | Path) -> Score:
    data = read_json(path)
    try:
        return Score(**data)
    except TypeError:
        raise ValueError(f"{path} is not a score.json written by 'sfq clustering score'") from None
