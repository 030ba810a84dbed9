"""`sfq bench workflow`'s wall time and node-seconds from hand-written Slurm completion records."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from streamflow_quantum.bench.workflow import (
    PAPER_RATIO,
    Result,
    figures,
    point_row,
    rotated,
    with_ratios,
)
from streamflow_quantum.cluster.records import read_records


def _line(job: int, partition: str, start: str, end: str, nodes: int, workdir: Path) -> str:
    """One jobcomp/filetxt line, as cluster/records.py documents it."""
    return (
        f"JobId={job} UserId=sfq(1000) GroupId=sfq(1000) Name=wrap step JobState=COMPLETED "
        f"Partition={partition} TimeLimit=UNLIMITED StartTime=2026-11-21T04:{start} "
        f"EndTime=2026-11-21T04:{end} NodeList=c[1-{nodes}] NodeCnt={nodes} ProcCnt={nodes} "
        f"WorkDir={workdir} ReservationName= Tres=cpu={nodes} Account= QOS= WcKey= Cluster=sfq "
        f"SubmitTime=2026-11-21T04:00:00 EligibleTime=2026-11-21T04:00:00 DerivedExitCode=0:0 "
        f"ExitCode=0:0"
    )


def test_wall_and_node_seconds_of_a_run(tmp_path: Path) -> None:
    run = tmp_path / "workflow-1-long"
    log = tmp_path / "jobcomp.log"
    log.write_text(
        "\n".join(
            [
                # an earlier run's job, before the run's first id
                _line(3, "compute", "00:00", "09:00", 3, tmp_path / "baseline-1-long" / "w0"),
                # the run: two classical steps and a quantum one
                _line(4, "compute", "10:00", "10:40", 1, run / "w0" / "jobs" / "a"),
                _line(5, "quantum", "10:40", "12:40", 1, run / "w0" / "jobs" / "b"),
                _line(6, "compute", "12:40", "13:00", 2, run / "w0" / "jobs" / "c"),
                # another run whose name starts with this one's
                _line(7, "compute", "10:00", "20:00", 3, tmp_path / "workflow-1-longer" / "w0"),
                # cancelled before it started: it held no node
                "JobId=8 Name=wrap JobState=CANCELLED Partition=compute StartTime=Unknown "
                f"EndTime=2026-11-21T04:30:00 NodeList=None NodeCnt=0 WorkDir={run}",
            ]
        )
        + "\n"
    )
    result, records = figures("workflow", 1, "long", run, read_records(log, after=3))
    assert [r.job_id for r in records] == [4, 5, 6]
    assert (result.mode, result.concurrency, result.quantum_phase) == ("workflow", 1, "long")
    assert result.wall_s == pytest.approx(180.0)  # 04:10:00 to 04:13:00, quantum job included
    assert result.node_seconds == pytest.approx(1 * 40 + 2 * 20)  # compute partition only


def test_a_run_with_no_record_is_an_error(tmp_path: Path) -> None:
    log = tmp_path / "jobcomp.log"
    log.write_text(_line(4, "compute", "10:00", "10:40", 1, tmp_path / "other") + "\n")
    with pytest.raises(RuntimeError, match="no completion record"):
        figures("baseline", 1, "short", tmp_path / "baseline-1-short", read_records(log))


def test_malleable_node_seconds_from_a_shrinking_job(tmp_path: Path) -> None:
    """A round job holds 3 nodes 04:10:00-04:10:30, shrinks to 1 for the quantum job and
    the score until 04:11:00; Slurm 22.05 stamps its RESIZING record with the shrink time
    as start, and the job saved its real start before shrinking."""
    run = tmp_path / "malleable-1-ratio-r0"
    (run / "w0").mkdir(parents=True)
    (run / "w0" / "slurm-start-4.txt").write_text("2026-11-21T04:10:00\n")
    resizing = _line(4, "compute", "10:30", "10:30", 3, run / "w0").replace(
        "JobState=COMPLETED", "JobState=RESIZING"
    )
    log = tmp_path / "jobcomp.log"
    log.write_text(
        "\n".join(
            [
                resizing,
                _line(5, "quantum", "10:30", "10:50", 1, run / "w0"),
                _line(4, "compute", "10:30", "11:00", 1, run / "w0"),
                # the next round, resubmitted by the shrunk job: 3 nodes for 10 s, never shrunk
                _line(6, "compute", "11:00", "11:10", 3, run / "w0"),
            ]
        )
        + "\n"
    )
    result, records = figures("malleable", 1, "ratio", run, read_records(log))
    assert records[0].start.isoformat() == "2026-11-21T04:10:00"  # restored
    assert result.node_seconds == pytest.approx(3 * 30 + 1 * 30 + 3 * 10)
    assert result.wall_s == pytest.approx(70.0)
    assert (result.quantum_s, result.rounds) == (20.0, 1.0)


def test_rows_average_runs_and_ratio_to_the_baseline() -> None:
    base = [Result("baseline", 1, "ratio", w, 3 * w, 8.0, 3) for w in (100.0, 110.0)]
    flow = [Result("workflow", 1, "ratio", w, n, 8.0, 3) for w, n in ((105.0, 30.0), (115.0, 36.0))]
    rows = with_ratios([point_row(base, 10.0), point_row(flow, 10.0)])
    b, f = rows
    assert (b["runs"], b["wall_s"], b["wall_s_sd"]) == (2, 105.0, pytest.approx(math.sqrt(50)))
    assert [run["wall_s"] for run in f["per_run"]] == [105.0, 115.0]
    assert [run["node_seconds"] for run in f["per_run"]] == [30.0, 36.0]
    assert b["node_seconds_over_baseline"] == 1.0 and b["node_seconds_over_baseline_sd"] == 0.0
    assert f["node_seconds_over_baseline"] == pytest.approx(33.0 / 315.0)
    assert f["wall_over_baseline"] == pytest.approx(110.0 / 105.0)
    assert f["quantum_classical_ratio"] == pytest.approx(0.8)  # 8 s quantum job, 10 s classical
    assert f["paper_node_seconds_over_baseline"] == pytest.approx(1161.20 / 3058.74)
    assert f["paper_quantum_classical_ratio"] == pytest.approx(120 / (539.44 / 4))
    assert abs(PAPER_RATIO - 0.89) < 0.005


def test_modes_take_turns_at_running_first() -> None:
    modes = ["baseline", "workflow", "malleable"]
    orders = [rotated(modes, run) for run in range(3)]
    assert all(sorted(order) == sorted(modes) for order in orders)
    assert [order[0] for order in orders] == modes
    assert [order[-1] for order in orders] == ["malleable", "baseline", "workflow"]
    assert rotated(modes, 3) == modes
