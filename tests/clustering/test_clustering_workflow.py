"""The clustering workflow: CWL validity, and end-to-end runs on small datasets."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from tests.clustering.test_clustering_mis import assert_quantum_evidence
from tests.conftest import REPO, run_tool
from tests.workflow_runs import run_cwltool, run_streamflow

WORKFLOW = REPO / "workflows" / "clustering"
SMALL = {"n_points": 600, "centers": 3, "seed": 11}


@pytest.mark.parametrize("path", sorted(WORKFLOW.rglob("*.cwl")), ids=lambda p: p.name)
def test_every_cwl_file_is_valid(path: Path) -> None:
    done = run_tool("cwltool", "--enable-ext", "--validate", path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "is valid CWL" in done.stdout


def check_outputs(out: Path, n_points: int) -> dict[str, float]:
    """The score, after checking the CSV against it."""
    score = json.loads((out / "score.json").read_text())
    with open(out / "clustering.csv") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["x", "y", "label"]
    table = np.array(rows[1:], dtype=float)
    assert len(table) == n_points
    labels = table[:, 2].astype(int)
    assert score["clusters"] == len(np.unique(labels)) >= 2
    # Below the sampling size the silhouette is exact: recompute it from the CSV.
    assert score["silhouette"] == pytest.approx(silhouette_score(table[:, :2], labels), abs=1e-6)
    return score


@pytest.mark.slow
@pytest.mark.parametrize(
    ("threshold", "rounds"),
    [(0.99, 2), (0.3, 1)],
    ids=["stops-at-max-rounds", "stops-at-threshold"],
)
def test_cwltool_loop_stops_at_the_threshold_or_the_last_round(
    tmp_path: Path, threshold: float, rounds: int
) -> None:
    out = run_cwltool("clustering", tmp_path, SMALL | {"threshold": threshold, "max_rounds": 2})
    score = check_outputs(out, SMALL["n_points"])
    assert score["rounds"] == rounds
    assert score["done"]
    assert (score["silhouette"] >= threshold) == (rounds == 1)


@pytest.mark.slow
def test_streamflow_runs_the_mis_step_as_qaoa_on_the_qpu(tmp_path: Path) -> None:
    out = run_streamflow("clustering", tmp_path, SMALL | {"solver": "qaoa", "max_rounds": 1})
    assert check_outputs(out, SMALL["n_points"])["rounds"] == 1
    solution = json.loads((out / "mis.json").read_text())
    assert solution["solver"] == "qaoa"
    assert_quantum_evidence(solution)


@pytest.mark.slow
@pytest.mark.slurm
def test_on_slurm_classical_steps_are_compute_jobs_idle_while_the_mis_job_runs(
    tmp_path: Path,
) -> None:
    from streamflow_quantum.cluster.records import last_job_id, read_records

    first = last_job_id()
    inputs = SMALL | {"max_rounds": 2, "threshold": 0.99, "quantum_delay": 2.0}
    out = run_streamflow("clustering", tmp_path, inputs, "streamflow-slurm.yml")
    score = check_outputs(out, SMALL["n_points"])
    jobs = [r for r in read_records(after=first) if r.workdir.startswith(str(tmp_path / "jobs"))]
    assert all(job.state == "COMPLETED" and job.node_count == 1 for job in jobs)
    compute = [job for job in jobs if job.partition == "compute"]
    quantum = [job for job in jobs if job.partition == "quantum"]
    # dataset, then per round: three clusterings, the QUBO and the silhouette.
    assert len(compute) == 1 + 5 * score["rounds"]
    assert len(quantum) == score["rounds"] == 2
    for mis in quantum:
        assert mis.seconds >= 2
        assert all(job.end <= mis.start or job.start >= mis.end for job in compute)
