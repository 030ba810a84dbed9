"""The vQPU benchmark's arithmetic on hand-built schedules with known answers."""

from __future__ import annotations

import pytest

from streamflow_quantum.bench.vqpu_metrics import Execution, JobRecord, busy_time, summarise


def test_busy_time_merges_overlaps_and_clips_to_the_run() -> None:
    # [0,2] and [1,3] overlap into [0,3]; [5,6] alone; [9,12] clipped at 10; [-2,-1] outside.
    intervals = [(5.0, 6.0), (1.0, 3.0), (0.0, 2.0), (9.0, 12.0), (-2.0, -1.0)]
    assert busy_time(intervals, 0.0, 10.0) == pytest.approx(3.0 + 1.0 + 1.0)


def test_packed_batch_counts_once() -> None:
    # Two programs in one batch share the same interval: the QPU was busy once.
    assert busy_time([(1.0, 2.0), (1.0, 2.0)], 0.0, 4.0) == pytest.approx(1.0)


def test_exclusive_schedule() -> None:
    """Two jobs launched at 0 holding one license: each runs 4 s with two 1-s executions."""
    first = JobRecord(
        launched=0.0,
        start=0.0,
        end=4.0,
        executions=[Execution(0.0, 0.0, 1.0), Execution(2.0, 2.0, 3.0)],
    )
    second = JobRecord(
        launched=0.0,
        start=4.0,
        end=8.0,
        executions=[Execution(4.0, 4.0, 5.0), Execution(6.0, 6.0, 7.0)],
    )
    qpu = [(0.0, 1.0), (2.0, 3.0), (4.0, 5.0), (6.0, 7.0)]
    summary = summarise([first, second], qpu)
    assert summary["total_s"] == pytest.approx(8.0)
    assert summary["qpu_busy_s"] == pytest.approx(4.0)
    assert summary["qpu_occupancy"] == pytest.approx(0.5)
    # The second job waited 4 s for the license; nobody waited in the QPU queue.
    assert summary["mean_queue_s"] == pytest.approx(2.0)
    assert summary["runtimes_s"] == pytest.approx([4.0, 4.0])
    assert (summary["executions"], summary["batches"]) == (4, 4)


def test_time_shared_schedule() -> None:
    """The same two jobs sharing the QPU in time (k=1): B's first execution queues behind A's."""
    a = JobRecord(0.0, 0.0, 4.0, [Execution(0.0, 0.0, 1.0), Execution(2.0, 2.0, 3.0)])
    b = JobRecord(0.0, 0.0, 5.0, [Execution(0.0, 1.0, 2.0), Execution(3.0, 3.0, 4.0)])
    qpu = [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)]
    summary = summarise([a, b], qpu)
    assert summary["total_s"] == pytest.approx(5.0)
    assert summary["qpu_occupancy"] == pytest.approx(4.0 / 5.0)
    assert summary["mean_queue_s"] == pytest.approx((0.0 + 1.0) / 2)
    assert sorted(summary["runtimes_s"]) == pytest.approx([4.0, 5.0])


def test_record_from_a_job_file() -> None:
    data = {
        "launched": 1.0,
        "start": 3.0,
        "end": 9.0,
        "executions": [{"submitted": 3.5, "started": 4.0, "finished": 5.0}],
    }
    job = JobRecord.from_dict(data)
    assert job.runtime_s == pytest.approx(6.0)
    assert job.queue_s == pytest.approx(2.0 + 0.5)
    assert job.executions[0].quantum_s == pytest.approx(1.0)
