"""Slurm's own job completion records: the source of wall time and node-seconds.

jobcomp/filetxt appends one line per finished job, ``Key=Value`` pairs separated by
spaces, e.g. ``JobId=7 ... Name=wrap JobState=COMPLETED Partition=compute ...
StartTime=2026-11-21T04:50:01 EndTime=2026-11-21T04:50:03 NodeList=c[1-3] NodeCnt=3``.
Times have one-second resolution.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from streamflow_quantum.cluster.config import completion_log

#: A field starts at a space followed by ``Key=``; values (job names) may hold spaces.
_FIELD = re.compile(r"(?:^| )([A-Za-z]+)=")
CLASSICAL_PARTITIONS = ("compute",)


@dataclass(frozen=True)
class JobRecord:
    job_id: int
    name: str
    partition: str
    nodes: str
    node_count: int
    start: datetime
    end: datetime
    state: str
    workdir: str

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def node_seconds(self) -> float:
        return self.node_count * self.seconds


def parse_line(line: str) -> JobRecord:
    marks = list(_FIELD.finditer(line.rstrip("\n")))
    fields = {
        m.group(1): line[
            m.end() : marks[i + 1].start() if i + 1 < len(marks) else len(line)
        ].strip()
        for i, m in enumerate(marks)
    }
    return JobRecord(
        job_id=int(fields["JobId"]),
        name=fields.get("Name", ""),
        partition=fields.get("Partition", ""),
        nodes=fields.get("NodeList", ""),
        node_count=int(fields.get("NodeCnt", "0") or 0),
        start=datetime.fromisoformat(fields["StartTime"]),
        end=datetime.fromisoformat(fields["EndTime"]),
        state=fields.get("JobState", ""),
        workdir=fields.get("WorkDir", ""),
    )


def read_records(path: Path | None = None, after: int = 0) -> list[JobRecord]:
    """Every job that finished, in completion order; ``after`` skips job ids up to it.

    Jobs cancelled before they started carry StartTime=Unknown or None and are skipped:
    they held no node.
    """
    path = path or completion_log()
    records = []
    for line in path.read_text().splitlines():
        if "JobId=" not in line or "StartTime=Unknown" in line or "StartTime=None" in line:
            continue
        record = parse_line(line)
        if record.job_id > after:
            records.append(record)
    return records


def wait_for_records(
    job_ids: Iterable[int], timeout: float = 30.0, path: Path | None = None
) -> list[JobRecord]:
    """The records of these jobs, waiting for Slurm to write them (after the job ends)."""
    wanted = set(job_ids)
    deadline = time.monotonic() + timeout
    while True:
        found = {r.job_id: r for r in read_records(path) if r.job_id in wanted}
        if len(found) == len(wanted):
            return [found[i] for i in sorted(found)]
        if time.monotonic() > deadline:
            missing = sorted(wanted - set(found))
            raise TimeoutError(f"no completion record for jobs {missing} after {timeout:.0f} s")
        time.sleep(0.5)


def node_seconds(
    records: Iterable[JobRecord], partitions: Iterable[str] = CLASSICAL_PARTITIONS
) -> float:
    """Classical node-seconds: sum of nodes x (end - start) over jobs on these partitions."""
    wanted = set(partitions)
    return sum(r.node_seconds for r in records if r.partition in wanted)


def wall_seconds(records: Iterable[JobRecord]) -> float:
    """First start to last end, over every partition."""
    records = list(records)
    if not records:
        return 0.0
    return (max(r.end for r in records) - min(r.start for r in records)).total_seconds()


def last_job_id() -> int:
    """The newest job id Slurm has handed out (0 on a fresh cluster): a run's records are those after it."""
    done = subprocess.run(
        ["scontrol", "show", "config"], capture_output=True, text=True, check=True
    )
    match = re.search(r"^NEXT_JOB_ID\s*=\s*(\d+)", done.stdout, re.MULTILINE)
    return int(match.group(1)) - 1 if match else 0


def sbatch(options: list[str], command: str, env: dict[str, str] | None = None) -> int:
    """Submit ``command`` as a batch job and return its id."""
    done = subprocess.run(
        ["sbatch", "--parsable", *options, "--wrap", command],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        why = done.stderr.strip() or f"the job failed (exit {done.returncode})"
        raise RuntimeError(f"sbatch {shlex.join(options)}: {why}")
    return int(done.stdout.strip().split(";")[0])
