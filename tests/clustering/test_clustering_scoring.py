from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from streamflow_quantum.applications.clustering import scoring
from streamflow_quantum.applications.clustering.consensus import Candidates


def test_chosen_candidates_label_their_points_and_the_rest_join_the_nearest_centroid() -> None:
    points = np.array([[0.0, 0], [1, 0], [10, 0], [11, 0], [4, 0], [9, 0]])
    # Method a: {0,1} {2,3} {4,5}; method b: {0,1,4} {2,3,5}.
    candidates = Candidates.from_labels(
        {"a": np.array([0, 0, 1, 1, 2, 2]), "b": np.array([0, 0, 1, 1, 0, 1])}
    )
    labels = scoring.assign(points, candidates, np.array([1, 1, 0, 0, 0]))
    # Centroids 0.5 and 10.5: point 4 (x=4) joins the first, point 5 (x=9) the second.
    assert labels.tolist() == [0, 0, 1, 1, 0, 1]


def test_an_empty_choice_is_a_clear_error() -> None:
    candidates = Candidates.from_labels({"a": np.array([0, 1])})
    with pytest.raises(ValueError, match="no candidate was chosen"):
        scoring.assign(np.zeros((2, 2)), candidates, np.zeros(2, dtype=int))


def test_silhouette_of_separated_blobs_passes_the_threshold_and_a_single_cluster_scores_minus_one() -> (
    None
):
    points, truth = make_blobs(n_samples=400, centers=[[-10, 0], [10, 0]], random_state=0)
    assert scoring.silhouette(points, truth) > scoring.THRESHOLD
    assert scoring.silhouette(points, np.zeros(len(points), dtype=int)) == -1.0
    halves = (points[:, 1] > 0).astype(int)
    assert scoring.silhouette(points, halves) < 0.5


def test_silhouette_of_a_large_input_is_sampled_with_a_fixed_seed() -> None:
    points, truth = make_blobs(n_samples=scoring.SAMPLE_SIZE + 2000, centers=4, random_state=1)
    first = scoring.silhouette(points, truth)
    assert first == scoring.silhouette(points, truth)
    assert first == pytest.approx(
        scoring.silhouette(points[: scoring.SAMPLE_SIZE], truth[: scoring.SAMPLE_SIZE]), abs=0.02
    )


def test_the_best_score_is_kept_and_the_loop_stops_at_the_threshold_or_the_last_round() -> None:
    labels = np.array([0, 1, 2])
    first = scoring.next_score(0.6, labels, 1, None)
    assert first == scoring.Score(0.6, 1, 3, 1, done=False)
    worse = scoring.next_score(0.5, np.array([0, 1]), 2, first)
    assert worse == scoring.Score(0.6, 2, 3, 1, done=False)
    assert scoring.next_score(0.6, labels, 3, worse).best_round == 1
    assert scoring.next_score(0.8, labels, 3, worse) == scoring.Score(0.8, 3, 3, 3, done=True)
    assert scoring.next_score(0.5, labels, scoring.MAX_ROUNDS, worse).done
    assert not scoring.next_score(0.5, labels, 4, worse, max_rounds=5).done
    assert scoring.next_score(0.5, labels, 4, worse, threshold=0.55).done


@pytest.mark.parametrize(
    ("n_samples", "sample_size"), [(300, scoring.SAMPLE_SIZE), (1500, 400), (1500, 1499)]
)
def test_silhouette_equals_scikit_learns_sample_included(n_samples: int, sample_size: int) -> None:
    from sklearn.metrics import silhouette_score

    points, truth = make_blobs(n_samples=n_samples, centers=5, cluster_std=2.5, random_state=3)
    labels = truth.copy()
    labels[:3] = [7, 8, 9]  # three clusters of one point each score 0
    expected = silhouette_score(
        points,
        labels,
        sample_size=sample_size if n_samples > sample_size else None,
        random_state=scoring.SAMPLE_SEED,
    )
    assert scoring.silhouette(points, labels, sample_size) == pytest.approx(expected, abs=1e-9)
