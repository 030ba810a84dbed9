from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import DBSCAN
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from streamflow_quantum.applications.clustering import methods


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    points, _ = make_blobs(
        n_samples=600, centers=5, cluster_std=1.5, random_state=3, center_box=(-15, 15)
    )
    return points


@pytest.mark.parametrize("k", [1, 2, 4, 7, 10])
def test_single_linkage_matches_scipy(blobs: np.ndarray, k: int) -> None:
    expected = fcluster(linkage(blobs, method="single"), t=k, criterion="maxclust")
    labels = methods.single_linkage(blobs, k)
    assert len(np.unique(labels)) == k
    assert adjusted_rand_score(expected, labels) == 1.0


def test_single_linkage_handles_duplicates_and_collinear_points() -> None:
    line = np.column_stack([[0.0, 1.0, 2.0, 10.0, 11.0, 30.0], np.zeros(6)])
    points = np.concatenate([line, line[:2]])
    assert methods.single_linkage(points, 3).tolist() == pytest.approx([0, 0, 0, 1, 1, 2, 0, 0])


@pytest.mark.parametrize("eps", [0.4, 0.9, 2.5])
def test_dbscan_matches_scikit_learn(blobs: np.ndarray, eps: float) -> None:
    reference = DBSCAN(eps=eps, min_samples=10).fit(blobs)
    core = np.zeros(len(blobs), dtype=bool)
    core[reference.core_sample_indices_] = True
    labels = methods.dbscan(blobs, eps, min_samples=10)
    assert ((labels == -1) == (reference.labels_ == -1)).all()
    assert adjusted_rand_score(reference.labels_[core], labels[core]) == 1.0
    # A border point joins the cluster of a core point within eps.
    for point in np.flatnonzero(~core & (labels >= 0)):
        near = np.linalg.norm(blobs[core] - blobs[point], axis=1) <= eps
        assert labels[point] in set(labels[core][near])


def test_dbscan_without_core_points_is_all_noise(blobs: np.ndarray) -> None:
    assert (methods.dbscan(blobs, eps=1e-6) == -1).all()


# The peak is this process's own (VmHWM): getrusage's ru_maxrss survives exec, so a child
# of a large pytest process would report its parent's peak.
PEAK_MEMORY_SCRIPT = """
import json, re
from streamflow_quantum.applications.clustering import methods
from streamflow_quantum.applications.clustering.dataset import make_dataset

def peak_mib():
    status = open("/proc/self/status").read()
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) // 1024

points = make_dataset()
peaks = {}
for method in methods.METHODS:
    labels = methods.cluster(points, method, 1)  # round 1: eps 4.34, ~10000 neighbours per point
    peaks[method] = [peak_mib(), len(set(labels.tolist()) - {-1})]
print(json.dumps(peaks))
"""


def test_methods_cluster_papers_dataset_in_linear_memory() -> None:
    """80000 points: a distance matrix takes 25-51 GB; scikit-learn's DBSCAN ~10 GB (680 MB at 20000)."""
    run = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY_SCRIPT], capture_output=True, text=True, check=True
    )
    peaks = json.loads(run.stdout)
    for method, (peak_mib, clusters) in peaks.items():
        assert peak_mib < 400, method
        assert 2 <= clusters <= 10, method


def test_round_parameters_are_seeded_by_the_round_and_in_range() -> None:
    drawn = [methods.RoundParameters.of_round(r) for r in range(1, 201)]
    assert drawn[0] == methods.RoundParameters.of_round(1)
    assert len(set(drawn)) == len(drawn)
    assert {p.kmeans_k for p in drawn} == set(range(4, 11)) == {p.single_k for p in drawn}
    assert all(1.2 <= p.eps < 4.5 for p in drawn)


def test_kmeans_round_gives_its_k_clusters(blobs: np.ndarray) -> None:
    labels = methods.cluster(blobs, "kmeans", 5)
    assert len(np.unique(labels)) == methods.RoundParameters.of_round(5).kmeans_k


def test_unknown_method_is_a_clear_error(blobs: np.ndarray) -> None:
    with pytest.raises(ValueError, match="choose one of kmeans, dbscan, single"):
        methods.cluster(blobs, "ward", 1)
