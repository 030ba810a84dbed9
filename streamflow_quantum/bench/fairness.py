"""`sfq bench fairness`: one user floods the broker, another submits a few meanwhile.

User A submits ``--flood`` programs at once; user B submits ``--trickle`` programs one
at a time, spread evenly over the time A's flood should take to start (the broker's
own estimate, from the receipts of A's flood in the first run), so that B's programs
arrive while A's are queued. The programs are GHZ circuits of 2 to 5 qubits, cycled:
they fit every device (fake_manila has 5 qubits) and compile in milliseconds, so the
queue policy, not the compiler, decides who waits. Each runs as its own in-process
broker, each backend job lasting the device-time clock's
``overhead + shots x (rep_delay + duration)`` (``ModelledQPU``), after a warm-up that
teaches the broker's device-time model. The runs: A and B together under each queue
policy (``priority`` with equal priorities is a check: it should match ``fifo``), and
B alone, with the same arrival times, once, as the baseline (with one user every
policy orders the queue by arrival).

Rows, per policy and user: the mean wait (``started - submitted``), the mean
turnaround (``finished - submitted``), and the median error of the receipts'
estimated starts (absolute, and over the median wait). B's rows add its figures alone.

What "B waits at most twice as long as alone" can mean. Alone, B's program reaches an
idle QPU and starts within milliseconds, so a ratio of waits to it grows without
bound whatever the policy: a QPU runs a job to its end, and a program that arrives
during A's job must wait for it under any policy. The fair comparison is the wait for
B's result, its own job included: ``turnaround_ratio``, B's mean turnaround with A
over its mean turnaround alone. A fair queue on a non-preemptive QPU keeps it at most
2 when jobs are alike (B waits at most the one job in flight, then runs its own),
about 1.5 on average. ``wait_ratio`` (mean wait over mean wait alone) is reported too.
Targets: B's ``turnaround_ratio`` under ``fair-share`` at most 2; 0 programs lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import TYPE_CHECKING, Any

from streamflow_quantum.bench.load import ghz
from streamflow_quantum.bench.packer import Clock
from streamflow_quantum.bench.provenance import provenance
from streamflow_quantum.bench.vqpu_qpu import ModelledQPU
from streamflow_quantum.broker.factory import build_broker
from streamflow_quantum.core.model import Program, User

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.broker.core import Broker

#: Qubits of the GHZ circuits, cycled through by each user's programs.
WIDTHS = (2, 3, 4, 5)
#: Programs of the warm-up that teaches the device-time model before each run.
WARM_UP = 8
FLOODER = User("a")
TRICKLER = User("b")
WARMER = User("warm-up")


def _circuits() -> dict[int, QuantumCircuit]:
    from qiskit import qasm2

    return {n: qasm2.loads(ghz(n).decode()) for n in WIDTHS}


class _Submitter:
    """Submits each user's programs to one broker, keyed by circuit so twins share a compile."""

    def __init__(self, broker: Broker, circuits: dict[int, QuantumCircuit], shots: int) -> None:
        self.broker = broker
        self.circuits = circuits
        self.shots = shots

    async def submit(self, user: User, first: int, count: int) -> list[dict[str, Any]]:
        """``count`` programs of ``user``, numbered from ``first``; made now, as they arrive."""
        widths = [WIDTHS[(first + i) % len(WIDTHS)] for i in range(count)]
        programs = [
            Program(f"{user.name}-ghz{n}-{first + i}", self.circuits[n], self.shots)
            for i, n in enumerate(widths)
        ]
        keys = [f"ghz{n}" for n in widths]
        return await self.broker.submit(user.name, programs, keys, user=user)

    async def submit_at(self, user: User, index: int, at: float) -> list[dict[str, Any]]:
        await asyncio.sleep(max(0.0, at - time.time()))
        return await self.submit(user, index, 1)

    async def results(self, user: User, receipts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each program's record ({"error": ...} if it was refused)."""
        return [
            await self.broker.result(user.name, r["id"], 3600) or {"error": "no result"}
            if "id" in r
            else {"error": r["error"]}
            for r in receipts
        ]


def _figures(receipts: list[dict[str, Any]], records: list[dict[str, Any]]) -> dict[str, Any]:
    """One user's waits, turnarounds and start-estimate errors in one run."""
    done = [(r, rec) for r, rec in zip(receipts, records, strict=True) if "counts" in rec]
    waits = [rec["times"]["started"] - rec["times"]["submitted"] for _, rec in done]
    turnarounds = [rec["times"]["finished"] - rec["times"]["submitted"] for _, rec in done]
    errors = [
        abs(r["estimated_start"] - rec["times"]["started"])
        for r, rec in done
        if "estimated_start" in r
    ]
    median_error = statistics.median(errors) if errors else None
    median_wait = statistics.median(waits) if waits else None
    return {
        "programs": len(records),
        "lost": len(records) - len(done),
        "errors": sorted({str(rec["error"]) for rec in records if "counts" not in rec})[:3],
        "mean_wait_s": statistics.fmean(waits) if waits else None,
        "max_wait_s": max(waits, default=None),
        "mean_turnaround_s": statistics.fmean(turnarounds) if turnarounds else None,
        "median_wait_s": median_wait,
        "estimate_median_abs_error": median_error,
        "estimate_error_ratio": (
            median_error / median_wait if median_error is not None and median_wait else None
        ),
    }


async def _run(
    settings: dict[str, Any],
    clock: Clock,
    shots: int,
    flood: int,
    trickle: int,
    offsets: list[float] | None,
) -> tuple[dict[str, dict[str, Any]], list[float]]:
    """One run: A's ``flood`` at once (none: B alone), B's ``trickle`` at ``offsets``
    seconds after it (None: spread over the broker's estimate of when A's last starts).
    Returns each user's figures and the offsets used."""

    def wrap(inner: Backend) -> Backend:
        return ModelledQPU(inner, clock)

    broker = await asyncio.to_thread(build_broker, settings, wrap)
    broker.start()
    circuits = await asyncio.to_thread(_circuits)
    submitter = _Submitter(broker, circuits, shots)
    try:
        warm = await submitter.submit(WARMER, 0, WARM_UP)
        await submitter.results(WARMER, warm)
        a_receipts = await submitter.submit(FLOODER, 0, flood) if flood else []
        begin = time.time()
        if offsets is None:
            last = max(r["estimated_start"] for r in a_receipts if "estimated_start" in r)
            offsets = [(i + 0.5) * (last - begin) / trickle for i in range(trickle)]
        arrivals = [submitter.submit_at(TRICKLER, i, begin + o) for i, o in enumerate(offsets)]
        b_receipts = [r for rs in await asyncio.gather(*arrivals) for r in rs]
        a_records = await submitter.results(FLOODER, a_receipts)
        b_records = await submitter.results(TRICKLER, b_receipts)
    finally:
        await broker.close()
    figures = {"b": _figures(b_receipts, b_records)}
    if flood:
        figures["a"] = _figures(a_receipts, a_records)
        a_last = max((r["times"]["started"] for r in a_records if "counts" in r), default=begin)
        figures["b"]["arrived_while_a_queued"] = sum(
            r["times"]["submitted"] < a_last for r in b_records if "counts" in r
        )
    return figures, offsets


def _rows(
    policy: str, run: dict[str, dict[str, Any]], alone: dict[str, Any]
) -> list[dict[str, Any]]:
    rows = []
    for user in ("a", "b"):
        row = {"policy": policy, "user": user, **run[user]}
        mine = alone if user == "b" else {}
        row["alone_wait_s"] = mine.get("mean_wait_s")
        row["alone_turnaround_s"] = mine.get("mean_turnaround_s")
        row["wait_ratio"] = _ratio(row["mean_wait_s"], row["alone_wait_s"])
        row["turnaround_ratio"] = _ratio(row["mean_turnaround_s"], row["alone_turnaround_s"])
        rows.append(row)
    return rows


def _ratio(x: float | None, y: float | None) -> float | None:
    return x / y if x is not None and y else None


def _s(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sfq bench fairness", description=__doc__)
    parser.add_argument("--json", metavar="FILE", help="write the figures and settings here")
    parser.add_argument("--quick", action="store_true", help="A floods 100, B submits 10")
    parser.add_argument("--flood", type=int, default=500, help="programs user A submits at once")
    parser.add_argument("--trickle", type=int, default=20, help="programs user B spreads out")
    parser.add_argument(
        "--policies",
        default="fifo,fair-share,priority",
        help="queue policies to compare, comma-separated",
    )
    parser.add_argument("--device", default="aer:fake_manila")
    parser.add_argument("--packing", default="serial")
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument("--overhead", type=float, default=0.05, help="seconds per backend job")
    parser.add_argument("--batch-window", type=float, default=0.1)
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    meta = provenance("fairness", argv)  # before the run: its commit is the one measured
    if args.quick:
        args.flood, args.trickle = 100, 10
    policies = args.policies.split(",")
    clock = Clock(overhead_s=args.overhead, shots=args.shots)
    base = {
        "backend": args.device,
        "noise": False,
        "packing": args.packing,
        "batchWindow": args.batch_window,
    }
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    offsets: list[float] | None = None
    for policy in policies:
        settings = base | {"queue": policy}
        runs[policy], offsets = asyncio.run(
            _run(settings, clock, args.shots, args.flood, args.trickle, offsets)
        )
    assert offsets is not None
    alone, _ = asyncio.run(_run(base | {"queue": "fifo"}, clock, args.shots, 0, 0, offsets))
    results = [row for policy in policies for row in _rows(policy, runs[policy], alone["b"])]
    lost = sum(row["lost"] for row in results) + alone["b"]["lost"]
    fair = next((r for r in results if r["policy"] == "fair-share" and r["user"] == "b"), None)
    report = {
        "benchmark": "fairness",
        **meta,
        "settings": vars(args)
        | {
            "broker": base,
            "clock": vars(clock),
            "warm_up": WARM_UP,
            "widths": WIDTHS,
            "b_offsets_s": offsets,
        },
        "alone": alone["b"],
        "results": results,
        "targets": {
            "fair_share_b_turnaround_ratio_at_most_2": (
                fair is not None
                and fair["turnaround_ratio"] is not None
                and fair["turnaround_ratio"] <= 2
            ),
            "lost_is_0": lost == 0,
        },
    }
    print(
        f"fairness: B alone: mean wait {_s(alone['b']['mean_wait_s'], 3)} s, "
        f"turnaround {_s(alone['b']['mean_turnaround_s'], 3)} s, lost {alone['b']['lost']}"
    )
    for row in results:
        versus = (
            f" = {_s(row['wait_ratio'], 1)}x alone (turnaround {_s(row['mean_turnaround_s'])} s"
            f" = {_s(row['turnaround_ratio'])}x alone; {row['arrived_while_a_queued']} of B's "
            "programs arrived while A's were queued)"
            if row["user"] == "b"
            else ""
        )
        print(
            f"fairness: {row['policy']}, user {row['user']}: {row['programs']} programs, "
            f"lost {row['lost']}, mean wait {_s(row['mean_wait_s'])} s{versus}; "
            f"estimated starts off by {_s(row['estimate_median_abs_error'])} s median "
            f"({_s(row['estimate_error_ratio'])} of the median wait)"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0 if lost == 0 else 1
