"""`sfq bench multi-qpu`: two QPUs behind one broker against one, on the same workload.

A HyperQ queue of QASMBench circuits (small-only by default) goes to an in-process broker, all at
once, three times: with one QPU, with two of the same device, and with two where the
second fails halfway (from its ``k``-th batch on, a dropped connection, as a device
that goes offline). Each backend job lasts the device-time clock's
``overhead + shots x (rep_delay + duration)`` (``ModelledQPU``: Aer simulates inside
that time), so throughput is the QPUs', not this machine's CPU, as long as the
simulation fits in that time: each row reports the seconds jobs ran past it
(``overrun_s``). Aer simulates time-packed chains (mid-circuit resets) shot by shot, so
the default is 200 shots a program: with 1000, two QPUs' simulations on a 2-core host
outlast their jobs by seconds.

Reported per run: throughput (programs per second from submission to the last
result) and its ratio to one QPU's; the same from the first batch's start on (the
QPUs' own throughput: a program is compiled for each QPU when it is submitted, which
on a small broker host is a large share of the wall time); programs lost (no counts), and how well the
receipts' estimated starts predicted the actual ones: the median absolute error in
seconds, and that over the median actual wait. Before each run a warm-up batch teaches
the broker's device-time model, as a running broker would have learnt it.
Targets: two QPUs at least 1.8x one; 0 lost with one failing; median error at most
20% of the median wait.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from streamflow_quantum.bench.packer import Clock, default_benchmarks, load_workload
from streamflow_quantum.bench.provenance import provenance
from streamflow_quantum.bench.vqpu_qpu import ModelledQPU
from streamflow_quantum.broker.factory import build_broker

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.core.model import Batch

#: Programs of the warm-up batch that teaches the model before each run.
WARM_UP = 30


class FailingQPU(ModelledQPU):
    """A ModelledQPU that drops the connection from its ``fail_after + 1``-th job on."""

    def __init__(self, inner: Backend, clock: Clock, fail_after: int) -> None:
        super().__init__(inner, clock)
        self.fail_after = fail_after
        self.jobs = 0

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        self.jobs += 1
        if self.jobs > self.fail_after:
            time.sleep(self.clock.overhead_s)  # it fails after a while, as a device does
            raise ConnectionResetError(f"{self.name} went offline")
        return super().run(batch, seed)


async def _run(
    settings: dict[str, Any],
    clock: Clock,
    queue: list[tuple[str, QuantumCircuit]],
    shots: int,
    fail_after: int | None,
) -> dict[str, Any]:
    from streamflow_quantum.core.model import Program

    qpus: list[ModelledQPU] = []

    def wrap(inner: Backend) -> Backend:
        last = len(qpus) == len(settings["backends"]) - 1
        qpu = (
            FailingQPU(inner, clock, fail_after)
            if fail_after is not None and last
            else ModelledQPU(inner, clock)
        )
        qpus.append(qpu)
        return qpu

    broker = await asyncio.to_thread(build_broker, settings, wrap)
    broker.start()
    try:
        warm = [Program(f"warm-{i}-{n}", c, shots) for i, (n, c) in enumerate(queue[:WARM_UP])]
        for receipt in await broker.submit("bench", warm):
            await broker.result("bench", receipt["id"], 600)
        warm_jobs = sum(len(q.intervals) for q in qpus)
        if fail_after is not None:  # counted from the measured run on
            assert isinstance(qpus[-1], FailingQPU)
            qpus[-1].jobs = 0
        programs = [Program(f"{name}-{i}", c, shots) for i, (name, c) in enumerate(queue)]
        begin = time.time()
        # Keyed by circuit, as the wire format keys programs by their file's digest:
        # repeats of a circuit reuse its compilation.
        keys = [name for name, _ in queue]
        receipts = await broker.submit("bench", programs, keys)
        submitted = time.time()
        records = [
            await broker.result("bench", r["id"], 3600) if "id" in r else {"error": r["error"]}
            for r in receipts
        ]
        wall = time.time() - begin
        status = broker.status()
        # Each QPU's last 32 batches (warm-up included): programs, wall and modelled time.
        batches = {
            q.label: [
                {"programs": b["programs"], "wall_s": b["wall_s"], "device_s": b["device_s"]}
                for b in q.recent
            ]
            for q in broker.qpus
        }
    finally:
        await broker.close()
    done = [r for r in records if r and "counts" in r]
    errors = [
        abs(r["estimated_start"] - rec["times"]["started"])
        for r, rec in zip(receipts, records, strict=True)
        if rec and "counts" in rec and "estimated_start" in r
    ]
    waits = [r["times"]["started"] - r["times"]["submitted"] for r in done]
    first = min(r["times"]["started"] for r in done)
    last = max(r["times"]["finished"] for r in done)
    median_error = statistics.median(errors) if errors else None
    median_wait = statistics.median(waits) if waits else None
    return {
        "qpus": len(settings["backends"]),
        "programs": len(programs),
        "lost": len(programs) - len(done),
        "errors": sorted({str(r.get("error")) for r in records if r and "counts" not in r})[:3],
        "wall_s": wall,
        "submit_s": submitted - begin,
        "throughput_per_s": len(done) / wall,
        "qpu_phase_s": last - first,
        "qpu_phase_throughput_per_s": len(done) / (last - first),
        "batches": {q["name"]: q["model"]["batches_seen"] for q in status["qpus"]},
        "batch_log": batches,
        "measured_batches": sum(len(q.intervals) for q in qpus) - warm_jobs,
        "programs_per_qpu": dict(Counter(r["backend"] for r in done)),
        "failed_qpu": next((q["name"] for q in status["qpus"] if not q["online"]), None),
        "drained": next((q["drained"] for q in status["qpus"] if not q["online"]), None),
        "median_wait_s": median_wait,
        "estimate_median_abs_error": median_error,
        "estimate_error_ratio": (
            median_error / median_wait if median_error is not None and median_wait else None
        ),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sfq bench multi-qpu", description=__doc__)
    parser.add_argument("--json", metavar="FILE", help="write the figures and settings here")
    parser.add_argument("--quick", action="store_true", help="the first 60 programs of the queue")
    parser.add_argument("--programs", type=int, default=0, help="programs of the queue (0: all)")
    parser.add_argument(
        "--workload",
        choices=("small_only", "small_med"),
        default="small_only",
        help="the HyperQ queue to run",
    )
    parser.add_argument("--device", default="aer:fake_brisbane")
    parser.add_argument("--packing", default="fit")
    parser.add_argument("--queue-policy", default="fifo")
    parser.add_argument(
        "--shots",
        type=int,
        default=200,
        help="shots per program (few: Aer simulates time-packed chains shot by shot, and "
        "two QPUs' simulations on a small host must fit in their modelled job times)",
    )
    parser.add_argument("--overhead", type=float, default=2.0, help="seconds per backend job")
    parser.add_argument("--batch-window", type=float, default=0.1)
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    meta = provenance("multi-qpu", argv)  # before the run: its commit is the one measured
    if args.quick and not args.programs:
        args.programs = 60
    queue = load_workload(default_benchmarks(), args.workload)
    if args.programs:
        queue = queue[: args.programs]
    clock = Clock(overhead_s=args.overhead, shots=args.shots)
    base = {
        "noise": False,
        "packing": args.packing,
        "queue": args.queue_policy,
        "batchWindow": args.batch_window,
    }
    one = asyncio.run(_run(base | {"backends": [args.device]}, clock, queue, args.shots, None))
    two = asyncio.run(_run(base | {"backends": [args.device] * 2}, clock, queue, args.shots, None))
    # The second QPU fails halfway through its share of the two-QPU run.
    halfway = max(1, two["measured_batches"] // 4)
    failing = asyncio.run(
        _run(base | {"backends": [args.device] * 2}, clock, queue, args.shots, halfway)
    )
    for row in (one, two, failing):
        # Seconds jobs ran past the clock's job time: the host's simulation, not the QPU's.
        row["overrun_s"] = sum(
            max(0.0, b["wall_s"] - clock.job_s(args.shots, b["device_s"] / args.shots))
            for log in row["batch_log"].values()
            for b in log
        )
        row["throughput_ratio"] = row["throughput_per_s"] / one["throughput_per_s"]
        row["qpu_phase_throughput_ratio"] = (
            row["qpu_phase_throughput_per_s"] / one["qpu_phase_throughput_per_s"]
        )
    results = [one, two, failing]
    report = {
        "benchmark": "multi-qpu",
        **meta,
        "settings": vars(args) | {"broker": base, "clock": vars(clock), "warm_up": WARM_UP},
        "results": results,
        "targets": {
            "two_qpus_throughput_ratio_at_least_1.8": two["throughput_ratio"] >= 1.8,
            "lost_with_one_failing_is_0": failing["lost"] == 0,
            "estimate_error_at_most_20pct_of_wait": all(
                r["estimate_error_ratio"] is not None and r["estimate_error_ratio"] <= 0.2
                for r in (one, two)
            ),
        },
    }
    for row in results:
        print(
            f"multi-qpu: {row['qpus']} QPU(s){' (one failing)' if row['failed_qpu'] else ''}: "
            f"{row['programs']} programs in {row['wall_s']:.1f} s, "
            f"{row['throughput_per_s']:.2f}/s ({row['throughput_ratio']:.2f}x one QPU; from the "
            f"first batch on {row['qpu_phase_throughput_ratio']:.2f}x; compiling took "
            f"{row['submit_s']:.1f} s), "
            f"lost {row['lost']}, batches {row['batches']}, {row['overrun_s']:.1f} s past the "
            f"clock; estimated starts off by "
            f"{row['estimate_median_abs_error'] or 0:.2f} s median "
            f"({(row['estimate_error_ratio'] or 0):.0%} of the median wait "
            f"{row['median_wait_s'] or 0:.1f} s)"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0 if failing["lost"] == 0 else 1
