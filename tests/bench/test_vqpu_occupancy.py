"""`sfq bench vqpu`'s QPU occupancy at the edges of a run (tests/vqpu has the schedules)."""

from __future__ import annotations

import pytest

from streamflow_quantum.bench.vqpu_metrics import Execution, JobRecord, summarise


def test_a_batch_running_when_the_first_job_starts_counts_from_the_start() -> None:
    # The QPU runs [-1, 2] (a batch of an earlier run) and [6, 12]; the run is [0, 10].
    job = JobRecord(0.0, 0.0, 10.0, [Execution(6.0, 6.0, 12.0)])
    summary = summarise([job], [(-1.0, 2.0), (6.0, 12.0)])
    assert summary["qpu_busy_s"] == pytest.approx(2.0 + 4.0)
    assert summary["qpu_occupancy"] == pytest.approx(0.6)


def test_jobs_sharing_one_batch_occupy_the_qpu_once() -> None:
    a = JobRecord(0.0, 0.0, 4.0, [Execution(0.0, 1.0, 3.0)])
    b = JobRecord(0.0, 1.0, 4.0, [Execution(1.0, 1.0, 3.0)])
    summary = summarise([a, b], [(1.0, 3.0)])
    assert summary["qpu_occupancy"] == pytest.approx(2.0 / 4.0)
    assert summary["mean_queue_s"] == pytest.approx((1.0 + 1.0) / 2)  # a: QPU queue; b: license


def test_an_empty_run_has_no_occupancy() -> None:
    job = JobRecord(5.0, 5.0, 5.0)
    assert summarise([job], [(5.0, 5.0)])["qpu_occupancy"] == 0.0
