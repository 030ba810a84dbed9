from __future__ import annotations

import pytest

from streamflow_quantum.applications.clustering.files import read_score
from streamflow_quantum.bench.baselines.clustering import JOB_NAME, Options, submit
from streamflow_quantum.cluster.config import ClusterSpec
from streamflow_quantum.cluster.records import (
    last_job_id,
    node_seconds,
    read_records,
    wait_for_records,
)

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def test_baseline_holds_three_compute_nodes_for_its_whole_run(
    cluster: ClusterSpec, tmp_path
) -> None:
    first = last_job_id()
    job = submit(tmp_path, Options(n_points=600, max_rounds=2, quantum_delay=2.0))
    (baseline,) = wait_for_records([job], timeout=900)
    assert (baseline.name, baseline.state, baseline.partition) == (JOB_NAME, "COMPLETED", "compute")
    assert (baseline.node_count, baseline.nodes) == (3, "c[1-3]")

    score = read_score(tmp_path / "score.json")
    quantum = [
        r
        for r in read_records(after=first)
        if r.partition == "quantum" and r.workdir == str(tmp_path)
    ]
    assert len(quantum) == score.rounds >= 1
    # every MIS solve ran on q1 while the baseline still held its three nodes, idle
    assert all(
        r.nodes == "q1" and baseline.start <= r.start and r.end <= baseline.end for r in quantum
    )
    assert all(r.seconds >= 2 for r in quantum)  # the quantum delay happened inside the quantum job
    own = [r for r in read_records(after=first) if r.workdir == str(tmp_path)]
    assert node_seconds(own) == 3 * baseline.seconds
