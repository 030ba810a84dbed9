"""`sfq plan`: size a shared QPU platform by simulation (streamflow_quantum.planning).

Every option given several values is swept (their product); each configuration runs
``--repetitions`` seeded times and its figures are averaged. ``--trace`` replays a
broker's result records instead of Poisson arrivals; ``--paper`` runs the serverless
paper's scenarios; ``--validate`` compares the simulator with a recorded run of the
real broker.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
from typing import Any

import numpy as np

from streamflow_quantum.bench.provenance import provenance
from streamflow_quantum.core.model import User
from streamflow_quantum.planning import paper, plots, validation
from streamflow_quantum.planning.distributions import KINDS, Distribution
from streamflow_quantum.planning.engine import PACKING, SHARING, Platform, simulate
from streamflow_quantum.planning.metrics import summarise, table
from streamflow_quantum.planning.workload import Profile, jobs_from_trace, poisson_jobs, read_trace

SWEPT = ("arrival_rate", "workers", "qpus", "queue", "capacity", "packing", "batch_size")


def _capacity(text: str) -> int | None:
    return None if text in ("none", "inf") else int(text)


def _user(text: str) -> User:
    name, _, priority = text.partition(":")
    return User(name, float(priority or 1))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sfq plan", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--trace", metavar="FILE", help="replay result records (JSON list or lines)")
    mode.add_argument("--paper", action="store_true", help="the serverless paper's scenarios")
    mode.add_argument("--validate", action="store_true", help="simulator against the real broker")
    add = parser.add_argument
    add("--arrival-rate", type=float, nargs="+", default=[1.0], help="jobs per second")
    add("--workers", type=int, nargs="+", default=[2], help="classical workers C")
    add("--qpus", type=int, nargs="+", default=[1], help="QPUs Q")
    add("--queue", nargs="+", default=["fifo"], help="queue policies (streamflow_quantum.queueing)")
    add("--queue-options", type=json.loads, default={}, metavar="JSON")
    add(
        "--capacity",
        type=_capacity,
        nargs="+",
        default=[None],
        help="most queued quantum tasks (none)",
    )
    add("--classical-capacity", type=_capacity, default=None, help="most active classical tasks")
    add(
        "--sharing",
        choices=SHARING,
        default="pool",
        help="classical workers: FIFO pool or shared CPUs",
    )
    add("--packing", choices=PACKING, nargs="+", default=["serial"])
    add("--batch-size", type=int, nargs="+", default=[1], help="most tasks per batch (space, time)")
    add("--overhead", type=float, default=0.0, help="seconds per batch before it starts")
    help_dist = "; ".join(KINDS.values())
    add(
        "--service",
        type=Distribution.parse,
        default=Distribution.parse("exp:0.5"),
        help=f"QPU seconds per quantum task: {help_dist}",
    )
    add(
        "--pre",
        type=Distribution.parse,
        default=Distribution.parse("const:0"),
        help="classical seconds before",
    )
    add(
        "--classical",
        type=Distribution.parse,
        default=Distribution.parse("const:0"),
        help="classical seconds per iteration",
    )
    add(
        "--post",
        type=Distribution.parse,
        default=Distribution.parse("const:0"),
        help="classical seconds after",
    )
    add("--iterations", type=int, default=1, help="quantum tasks per job")
    add("--users", type=_user, nargs="+", default=[User("anonymous")], metavar="NAME[:PRIORITY]")
    add("--horizon", type=float, default=3600.0, help="seconds of arrivals")
    add("--warmup", type=float, default=0.0, help="seconds left out of the figures")
    add("--seed", type=int, default=0)
    add("--repetitions", type=int, default=1)
    add("--trace-service", choices=("measured", "device"), default="measured")
    add("--paper-days", type=float, default=7.0, help="--paper: days of the small scenario")
    add("--paper-hours", type=float, default=24.0, help="--paper: hours of each big-scenario run")
    add("--programs", type=int, default=150, help="--validate: programs submitted")
    add("--rate", type=float, default=30.0, help="--validate: programs per second")
    add("--shots", type=int, default=20000, help="--validate: shots per program")
    add("--backend", default="aer", help="--validate: the broker's backend")
    add("--json", metavar="FILE", help="write the figures, settings and provenance here")
    add("--plot", metavar="PNG", help="draw the figures here")
    return parser


def _sweep(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[str]]:
    trace = jobs_from_trace(read_trace(args.trace), args.trace_service) if args.trace else None
    grid = {name: getattr(args, name) for name in SWEPT}
    if trace is not None:
        grid["arrival_rate"] = [None]
    profile = Profile(
        args.service, args.pre, args.classical, args.post, args.iterations, tuple(args.users)
    )
    rows = []
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values, strict=True))
        summaries = []
        for r in range(args.repetitions):
            seed = args.seed + r
            platform = Platform(
                workers=point["workers"],
                qpus=point["qpus"],
                queue=point["queue"],
                queue_options={"seed": seed, **args.queue_options}
                if point["queue"] == "random"
                else args.queue_options,
                capacity=point["capacity"],
                classical_capacity=args.classical_capacity,
                sharing=args.sharing,
                packing=point["packing"],
                batch_size=point["batch_size"],
                overhead_s=args.overhead,
            )
            if trace is not None:
                run = simulate(platform, trace, warmup=args.warmup)
            else:
                jobs = poisson_jobs(point["arrival_rate"], args.horizon, profile.draw, seed)
                run = simulate(platform, jobs, horizon=args.horizon, warmup=args.warmup)
            summaries.append(summarise(run))
        rows.append({**point, **_mean(summaries)})
    varied = [name for name in SWEPT if len(grid[name]) > 1]
    return rows, varied


def _mean(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in summaries[0]:
        values = [s[key] for s in summaries if s[key] is not None]
        out[key] = float(np.mean(values)) if values else None
    return out


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        k: str(v) if isinstance(v, Distribution | User) else v for k, v in vars(args).items()
    } | {"users": [f"{u.name}:{u.priority:g}" for u in args.users]}


def _write(args: argparse.Namespace, argv: list[str], kind: str, body: dict[str, Any]) -> None:
    if not args.json:
        return
    report = {
        "benchmark": f"plan-{kind}",
        **provenance("plan", argv, command=("sfq",)),
        "settings": _settings(args),
        **body,
    }
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)


def _paper(args: argparse.Namespace, argv: list[str]) -> int:
    day, hour = 86400.0, 3600.0
    result: dict[str, Any] = {
        "reported": paper.REPORTED,
        "inputs": {k: paper.inputs()[k] for k in ("source", "notes")},
        "small": paper.small(args.paper_days * day, 12 * hour, args.repetitions),
        "big_q": paper.big("qpus", range(1, 7), args.paper_hours * hour, hour, args.repetitions),
        "big_c": paper.big("workers", range(1, 7), args.paper_hours * hour, hour, args.repetitions),
    }
    print("small scenario (C = 1, Q = 4, 6 jobs/h): policy, drop probability, job time p50/p95 h")
    for letter, figures in result["small"].items():
        print(
            f"  {letter} ({figures['policy']}): drop {figures['drop_probability']:.3f}, "
            f"job time {figures['response_p50_s'] / 3600:.2f} / {figures['response_p95_s'] / 3600:.2f} h"
        )
    for key, vary in (("big_q", "qpus"), ("big_c", "workers")):
        print(f"{key}: drop probability by {vary} (columns) and jobs/h (rows)")
        loads = sorted({r["jobs_per_h"] for r in result[key]})
        for load in loads:
            cells = [f"{r['drop_probability']:.2f}" for r in result[key] if r["jobs_per_h"] == load]
            print(f"  {load:5.1f}/h: " + " ".join(cells))
    _write(args, argv, "paper", {"results": result})
    if args.plot:
        plots.paper(result, args.plot)
    return 0


def _validate(args: argparse.Namespace, argv: list[str]) -> int:
    settings = {"backend": args.backend, "packing": "serial", "queue": "fifo", "batchWindow": 0}
    records = asyncio.run(
        validation.record(settings, args.programs, args.rate, args.shots, args.seed)
    )
    result = validation.compare(records)
    print(
        f"validation: {result['programs']} programs, QPU busy {result['qpu_busy_share']:.2f}; "
        f"mean wait real {result['real_wait_mean_s'] * 1000:.2f} ms, fitted model "
        f"{result['simulated_wait_mean_s'] * 1000:.2f} ms (ratio {result['ratio']:.3f}), "
        f"replayed {result['replayed_wait_mean_s'] * 1000:.2f} ms "
        f"(ratio {result['replayed_ratio']:.3f})"
    )
    _write(args, argv, "validation", {"broker": settings, "results": [result], "records": records})
    return 0 if result["replayed_within_15_percent"] else 1


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.paper:
        return _paper(args, argv)
    if args.validate:
        return _validate(args, argv)
    try:
        rows, varied = _sweep(args)
    except (ValueError, OSError) as e:
        print(f"sfq plan: {e}", file=sys.stderr)
        return 2
    print(table(rows, varied))
    _write(args, argv, "trace" if args.trace else "sweep", {"results": rows})
    if args.plot:
        x = varied[0] if varied else "arrival_rate"
        plots.sweep(rows, x, varied[1:], args.plot)
    return 0
