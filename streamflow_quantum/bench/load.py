"""`sfq bench load`: many clients at once against one broker, and one client alone.

`sfq serve` on 127.0.0.1 in a process of its own (the broker's default ``fit`` packing on
a noiseless FakeBrisbane by default: a device of the size that fifty clients share;
``--broker thread`` serves from a thread of this process instead,
sharing its interpreter with the clients) serves ``--clients`` threads, each sampling
``--programs`` GHZ circuits one after another through the real client
(``sample_encoded``). Reported: programs lost (no result) and wrong (counts other than
all-zeros and all-ones, or the wrong total), p50/p95 latency of a program, the broker
process's RSS, and the p50 of one client alone measured just before, against the same
broker; ``--runs`` such pairs in turn, the ratio's median and spread over them.
Target: 0 lost, 0 wrong, p95 at most twice that p50 (the median ratio).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

from streamflow_quantum.bench.harness import BrokerThread, ServedBroker
from streamflow_quantum.bench.provenance import provenance
from streamflow_quantum.broker import protocol


def ghz(n: int) -> bytes:
    cx = "".join(f"cx q[{i}],q[{i + 1}];\n" for i in range(n - 1))
    return (
        f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{n}];\ncreg c[{n}];\nh q[0];\n'
        f"{cx}measure q -> c;\n"
    ).encode()


def _client(
    programs: int, shots: int, width: int, latencies: list[float], outcomes: list[str]
) -> Callable[[], None]:
    from streamflow_quantum.broker.client import sample_encoded

    def run() -> None:
        for i in range(programs):
            begin = time.perf_counter()
            try:
                [result] = sample_encoded([(f"ghz{width}-{i}", ghz(width))], shots, None)
            except Exception as e:  # counted as lost, with its reason
                outcomes.append(f"lost: {e}")
                continue
            latencies.append(time.perf_counter() - begin)
            counts = result.get("counts")
            ok = (
                counts is not None
                and set(counts) <= {"0" * width, "1" * width}
                and sum(counts.values()) == shots
            )
            outcomes.append("ok" if ok else f"wrong: {result}")

    return run


def _round(clients: int, programs: int, shots: int, width: int) -> dict[str, Any]:
    latencies: list[float] = []
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=_client(programs, shots, width, latencies, outcomes), daemon=True)
        for _ in range(clients)
    ]
    begin = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - begin
    expected = clients * programs
    ordered = sorted(latencies)
    return {
        "clients": clients,
        "programs_per_client": programs,
        "programs": expected,
        "lost": expected - outcomes.count("ok") - sum(o.startswith("wrong") for o in outcomes),
        "wrong": sum(o.startswith("wrong") for o in outcomes),
        "errors": sorted({o for o in outcomes if o != "ok"})[:5],
        "p50_s": statistics.median(ordered) if ordered else None,
        "p95_s": ordered[int(0.95 * (len(ordered) - 1))] if ordered else None,
        "wall_s": wall,
        "programs_per_s": len(ordered) / wall if wall else None,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sfq bench load", description=__doc__)
    parser.add_argument("--json", metavar="FILE", help="write the figures and settings here")
    parser.add_argument("--quick", action="store_true", help="10 clients x 5 programs, one run")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--programs", type=int, default=20, help="programs per client")
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument("--width", type=int, default=3, help="qubits of each GHZ circuit")
    parser.add_argument(
        "--runs", type=int, default=3, help="alone-then-loaded rounds against one broker"
    )
    parser.add_argument("--backend", default="aer:fake_brisbane")
    parser.add_argument("--packing", default="fit")
    parser.add_argument("--batch-window", type=float, default=0.1)
    parser.add_argument(
        "--broker",
        choices=("process", "thread"),
        default="process",
        help="sfq serve in a process of its own (default), or a thread of the clients' process",
    )
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    meta = provenance("load", argv)  # before the run: its commit is the one measured
    if args.quick:
        args.clients, args.programs, args.runs = 10, 5, 1
    settings = {
        "backend": args.backend,
        "noise": False,
        "packing": args.packing,
        "batchWindow": args.batch_window,
    }
    broker = ServedBroker(settings) if args.broker == "process" else BrokerThread(settings)
    runs: list[dict[str, Any]] = []
    with broker as server:
        os.environ.update(server.env)
        _round(1, 3, args.shots, args.width)  # warm-up: imports, compiler caches
        for _ in range(args.runs):  # one client alone, then all of them, in turn
            alone = _round(1, args.programs, args.shots, args.width)
            loaded = _round(args.clients, args.programs, args.shots, args.width)
            p95, p50_alone = loaded["p95_s"], alone["p50_s"]
            ratio = p95 / p50_alone if p95 and p50_alone else None
            runs.append({"alone": alone, "loaded": loaded, "p95_over_alone_p50": ratio})
        rss = psutil.Process(server.pid).memory_info().rss
    ratios = [r["p95_over_alone_p50"] for r in runs]
    ratio = statistics.median(ratios) if None not in ratios else None
    lost = sum(r["loaded"]["lost"] for r in runs)
    wrong = sum(r["loaded"]["wrong"] for r in runs)
    report = {
        "benchmark": "load",
        **meta,
        "settings": vars(args) | {"broker_settings": settings},
        "runs": runs,
        "lost": lost,
        "wrong": wrong,
        "rss_mb": rss / 2**20,
        "p95_over_alone_p50": ratio,
        "p95_over_alone_p50_sd": statistics.stdev(ratios) if len(runs) > 1 and ratio else None,
        "target_met": bool(lost == 0 and wrong == 0 and ratio and ratio <= 2),
    }
    for key in (protocol.ENV_URL, protocol.ENV_SECRET):
        os.environ.pop(key, None)
    for i, run in enumerate(runs, 1):
        loaded = run["loaded"]
        print(
            f"load, run {i} of {len(runs)}: {loaded['clients']} clients x "
            f"{loaded['programs_per_client']} programs: lost {loaded['lost']}, wrong "
            f"{loaded['wrong']}, p50 {loaded['p50_s']:.3f} s, p95 {loaded['p95_s']:.3f} s; "
            f"one client alone p50 {run['alone']['p50_s']:.3f} s (p95/alone p50 "
            f"{run['p95_over_alone_p50']:.2f}); {loaded['programs_per_s']:.1f} programs/s"
        )
    spread = f" ± {report['p95_over_alone_p50_sd']:.2f}" if len(runs) > 1 else ""
    print(
        f"load: lost {lost}, wrong {wrong}; p95/alone p50 {ratio:.2f}{spread} (median of "
        f"{len(runs)}); RSS {report['rss_mb']:.0f} MB"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0 if lost == 0 and wrong == 0 else 1
