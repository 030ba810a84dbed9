"""The vQPU experiment's metrics ("Three ways to share a QPU", section 4.3.1), as pure
functions of recorded intervals (wall-clock seconds), so they can be checked on
hand-built schedules.

- QPU occupancy: the union of the QPU's busy intervals (its backend jobs) inside
  the run, over the run's total time.
- Total time: the first job's start to the last job's end.
- Queue time of a job: the wait for its QPU license (launch to start) plus, for
  each of its quantum executions, the wait in the broker's queue (submitted to
  started); the mean is over jobs.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Execution:
    """One quantum execution of a job, as the broker stamped it."""

    submitted: float
    started: float
    finished: float

    @property
    def queue_s(self) -> float:
        return self.started - self.submitted

    @property
    def quantum_s(self) -> float:
        return self.finished - self.started


@dataclass
class JobRecord:
    launched: float
    start: float
    end: float
    executions: list[Execution] = field(default_factory=list)

    @property
    def runtime_s(self) -> float:
        return self.end - self.start

    @property
    def queue_s(self) -> float:
        return (self.start - self.launched) + sum(e.queue_s for e in self.executions)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        return cls(
            data["launched"],
            data["start"],
            data["end"],
            [Execution(**e) for e in data["executions"]],
        )


def busy_time(intervals: Iterable[tuple[float, float]], start: float, end: float) -> float:
    """Length of the union of ``intervals`` clipped to ``[start, end]``."""
    busy, reached = 0.0, start
    for begin, finish in sorted(intervals):
        clipped_begin, clipped_finish = max(begin, reached), min(finish, end)
        if clipped_finish > clipped_begin:
            busy += clipped_finish - clipped_begin
            reached = clipped_finish
    return busy


def summarise(jobs: Sequence[JobRecord], qpu_intervals: Sequence[tuple[float, float]]) -> dict:
    """Total time, QPU busy time and occupancy, mean queue time and per-job runtimes of one run."""
    start = min(job.start for job in jobs)
    end = max(job.end for job in jobs)
    total = end - start
    busy = busy_time(qpu_intervals, start, end)
    return {
        "total_s": total,
        "qpu_busy_s": busy,
        "qpu_occupancy": busy / total if total > 0 else 0.0,
        "mean_queue_s": statistics.fmean(job.queue_s for job in jobs),
        "runtimes_s": [job.runtime_s for job in jobs],
        "executions": sum(len(job.executions) for job in jobs),
        "batches": len(qpu_intervals),
    }
