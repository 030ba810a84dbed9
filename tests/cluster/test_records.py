from __future__ import annotations

from datetime import datetime

from streamflow_quantum.cluster.records import node_seconds, parse_line, read_records, wall_seconds

LINES = [
    "JobId=12 UserId=root(0) GroupId=root(0) Name=k means round 1 JobState=COMPLETED Partition=compute "
    "TimeLimit=UNLIMITED StartTime=2026-11-21T04:46:33 EndTime=2026-11-21T04:46:40 NodeList=c1 NodeCnt=1 "
    "ProcCnt=1 WorkDir=/tmp/a b ReservationName= Tres=cpu=1,node=1 ExitCode=0:0 ",
    "JobId=13 UserId=root(0) GroupId=root(0) Name=baseline JobState=COMPLETED Partition=compute "
    "TimeLimit=UNLIMITED StartTime=2026-11-21T04:46:30 EndTime=2026-11-21T04:47:00 NodeList=c[1-3] NodeCnt=3 "
    "ProcCnt=3 WorkDir=/tmp ReservationName= ExitCode=0:0 ",
    "JobId=14 UserId=root(0) GroupId=root(0) Name=mis JobState=COMPLETED Partition=quantum "
    "TimeLimit=UNLIMITED StartTime=2026-11-21T04:46:41 EndTime=2026-11-21T04:47:05 NodeList=q1 NodeCnt=1 "
    "ProcCnt=1 WorkDir=/tmp ReservationName= ExitCode=0:0 ",
    "JobId=15 UserId=root(0) GroupId=root(0) Name=never JobState=CANCELLED Partition=compute "
    "TimeLimit=UNLIMITED StartTime=Unknown EndTime=2026-11-21T04:47:05 NodeList=(null) NodeCnt=0 "
    "ProcCnt=0 WorkDir=/tmp ReservationName= ExitCode=0:0 ",
]


def test_parse_line_keeps_names_and_paths_with_spaces() -> None:
    record = parse_line(LINES[0])
    assert record.job_id == 12
    assert record.name == "k means round 1"
    assert record.workdir == "/tmp/a b"
    assert (record.partition, record.nodes, record.node_count) == ("compute", "c1", 1)
    assert record.start == datetime(2026, 11, 21, 4, 46, 33)
    assert record.seconds == 7


def test_node_seconds_count_classical_partitions_only(tmp_path) -> None:
    log = tmp_path / "jobcomp.log"
    log.write_text("\n".join(LINES) + "\n")
    records = read_records(log)
    assert [r.job_id for r in records] == [12, 13, 14]  # the never-started job held no node
    assert node_seconds(records) == 7 + 3 * 30
    assert wall_seconds(records) == 35  # 04:46:30 .. 04:47:05, quantum job included
    assert [r.job_id for r in read_records(log, after=12)] == [13, 14]
