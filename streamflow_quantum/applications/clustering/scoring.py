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
#: MiB per chunk of pairwise distances (scikit-learn's default, 1024, costs ~1 GB here).
WORKING_MEMORY = 64


def assign(points: np.ndarray, candidates: Candidates, selection: np.ndarray) -> np.ndarray:
    """Labels 0..k-1 for the k chosen (disjoint) candidates; uncovered points join the nearest centroid."""
    chosen = np.flatnonzero(selection)
    if not len(chosen):
        raise ValueError("no candidate was chosen: the MIS solution is empty")
    members = candidates.membership()[:, chosen].tocsr()
    covered = np.diff(members.indptr) > 0
    labels = np.empty(len(points), dtype=int)
    labels[covered] = members[covered].indices
    centroids = (members.T @ points) / members.sum(axis=0)[:, None]
    if not covered.all():
        from sklearn.metrics import pairwise_distances_argmin

        labels[~covered] = pairwise_distances_argmin(points[~covered], centroids)
    return labels


def silhouette(points: np.ndarray, labels: np.ndarray) -> float:
    """scikit-learn's silhouette, on a fixed-seed sample for large inputs; -1 for a single cluster."""
    if len(np.unique(labels)) < 2:
        return -1.0
    from sklearn import config_context
    from sklearn.metrics import silhouette_score

    size = SAMPLE_SIZE if len(points) > SAMPLE_SIZE else None
    with config_context(working_memory=WORKING_MEMORY):
        return float(silhouette_score(points, labels, sample_size=size, random_state=SAMPLE_SEED))


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
