from __future__ import annotations

import pytest

from streamflow_quantum.applications.clustering.scoring import read_score
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


def test_malleable_shrinks_to_one_node_for_the_quantum_phase_and_resubmits(
    cluster: ClusterSpec, tmp_path
) -> None:
    from streamflow_quantum.bench.baselines.clustering import MALLEABLE_DONE, MALLEABLE_JOB_NAME
    from streamflow_quantum.bench.workflow import _run_malleable, _wait_drained, figures

    first = last_job_id()
    options = Options(n_points=600, max_rounds=2, quantum_delay=2.0, threshold=1.1, malleable=True)
    _run_malleable([tmp_path / "w0"], options, timeout=900)
    _wait_drained(tmp_path)
    assert (tmp_path / "w0" / MALLEABLE_DONE).exists()
    own = [r for r in read_records(after=first) if r.workdir.startswith(str(tmp_path))]
    rounds = [r for r in own if r.name == MALLEABLE_JOB_NAME]
    # each round: a RESIZING record (3 nodes until the shrink), then its 1-node remainder
    assert [(r.state, r.node_count) for r in rounds] == [("RESIZING", 3), ("COMPLETED", 1)] * 2
    assert len({r.job_id for r in rounds}) == 2  # round 2 is a new allocation
    result, records = figures("malleable", 1, "short", tmp_path, read_records(after=first))
    quantum = [r for r in records if r.partition == "quantum"]
    assert len(quantum) == 2 and all(r.seconds >= 2 for r in quantum)
    # the quantum job ran while the round job held one node, not three
    resized = [r for r in records if r.state == "RESIZING"]
    assert all(r.start < r.end for r in resized)  # the real start was restored
    assert result.node_seconds < 3 * result.wall_s
