"""The QAOA MaxCut workflow end to end, on a 6-node 3-regular graph."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from streamflow_quantum.applications.qaoa.maxcut import random_regular
from tests.qaoa.test_maxcut_qaoa import assert_quantum_evidence
from tests.workflow_runs import run_cwltool, run_streamflow

pytestmark = pytest.mark.slow

INPUTS = {"nodes": 6, "seed": 3, "maxiter": 5, "shots": 256, "final_shots": 512}


@pytest.mark.parametrize("runner", [run_cwltool, run_streamflow], ids=["cwltool", "streamflow"])
def test_qaoa_workflow_reports_a_real_cut(runner: Callable[..., Path], tmp_path: Path) -> None:
    result = json.loads((runner("qaoa", tmp_path, INPUTS) / "result.json").read_text())
    graph = random_regular(6, seed=3)
    side0, side1 = result["cut"]
    assert sorted(side0 + side1) == sorted(graph)
    assert result["cut_value"] <= result["best_known"] == 7  # brute force on this graph
    assert result["best_known_method"] == "brute-force"
    assert 1 <= result["iterations"] == len(result["energy_history"]) <= 5
    # The best of 512 samples beats edges/2 whatever the angles; the mean cut does not.
    assert_quantum_evidence(result, graph)


@pytest.mark.slurm
def test_on_slurm_the_problem_and_every_update_are_compute_jobs(tmp_path: Path) -> None:
    from streamflow_quantum.cluster.records import last_job_id, read_records

    first = last_job_id()
    out = run_streamflow("qaoa", tmp_path, INPUTS | {"maxiter": 3}, "streamflow-slurm.yml")
    result = json.loads((out / "result.json").read_text())
    jobs = [r for r in read_records(after=first) if r.workdir.startswith(str(tmp_path / "jobs"))]
    # `problem`, then one `update` per evaluation; evaluations run on the qpu.
    assert len(jobs) == 1 + result["iterations"]
    assert all(job.partition == "compute" and job.state == "COMPLETED" for job in jobs)
