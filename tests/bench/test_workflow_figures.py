"""`sfq bench workflow`'s wall time and node-seconds from hand-written Slurm completion records."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamflow_quantum.bench.workflow import figures
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
