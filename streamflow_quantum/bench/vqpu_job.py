"""One colouring job of `sfq bench vqpu`, run as its own process.

    python -m streamflow_quantum.bench.vqpu_job --k K --record FILE [--license FILE]
        [--wait-go] -- <sfq coloring solve options>

It runs ``sfq coloring solve`` (the functions the workflow's steps call) against
the QPU named by ``SFQ_BROKER`` and, like the paper's jobs, sleeps ``k`` times the
quantum execution time after every quantum execution: the colouring CLI is
given a sampler that wraps the broker client's ``sample`` and then sleeps.
As a Slurm job (the default) the job holds its licence from Slurm; ``--license``
instead holds an exclusive lock on a file for the whole run (one licence without
Slurm, an explicit option). ``--wait-go`` prints ``ready`` once Qiskit is loaded
and starts when a line arrives on stdin; ``--ready FILE --go FILE`` do the same
through files, for Slurm jobs: both let N jobs start at once. The record is JSON:
when the process began, start, end and each execution's broker times.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit import QuantumCircuit


@contextlib.contextmanager
def exclusive_license(path: str | None) -> Iterator[None]:
    if path is None:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vqpu_job", description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=float, default=0.0, help="classical delay factor")
    parser.add_argument("--record", required=True, help="where to write the job's record")
    parser.add_argument("--license", help="a lock file held for the whole run")
    parser.add_argument("--wait-go", action="store_true")
    parser.add_argument("solve", nargs=argparse.REMAINDER, help="-- sfq coloring solve options")
    parser.add_argument("--ready", help="create this file once loaded (with --go)")
    parser.add_argument("--go", help="then start once this file exists")
    args = parser.parse_args(argv)
    began = time.time()

    from streamflow_quantum.applications.coloring import cli as coloring
    from streamflow_quantum.broker.client import sample

    executions: list[dict[str, float]] = []

    def sample_then_sleep(
        circuits: Sequence[QuantumCircuit],
        shots: int | None = None,
        seed: int | None = None,
        names: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        results = sample(circuits, shots, seed, names)
        times = [r["times"] for r in results]
        execution = {
            "submitted": min(t["submitted"] for t in times),
            "started": min(t["started"] for t in times),
            "finished": max(t["finished"] for t in times),
        }
        executions.append(execution)
        time.sleep(args.k * (execution["finished"] - execution["started"]))
        return results

    if args.wait_go:
        print("ready", flush=True)
        sys.stdin.readline()
    if args.go:
        if args.ready:
            Path(args.ready).touch()
        while not Path(args.go).exists():
            time.sleep(0.01)
    with exclusive_license(args.license):
        start = time.time()
        code = coloring.main(["solve", *(a for a in args.solve if a != "--")], sample_then_sleep)
        end = time.time()
    Path(args.record).write_text(
        json.dumps(
            {"began": began, "start": start, "end": end, "executions": executions, "code": code}
        )
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
