"""`sfq bench vqpu --json FILE [--quick]`: N concurrent colouring jobs sharing one QPU.

The experiment of "Three ways to share a QPU" (section 4.3.1, Figures 7-8): N
identical BBQ-MIS colouring jobs on one graph start at once; after every quantum
execution each sleeps k x its quantum time (the classical load). Policies:

- exclusive: each job holds the QPU for its whole run: a Slurm job holding the
  licence ``qpu_exclusive``, of which there is one copy (``--exclusive-via lock``:
  a file lock instead, without Slurm);
- vqpu: every job is a Slurm job holding one copy of the licence ``vqpu`` (N jobs,
  N copies in use at once); they share the QPU in time through one standalone
  broker, FIFO, serial;
- vqpu+packing: the same broker with HyperQ space-time packing.

Each point is run ``--runs`` times (default 5); rows hold each figure's mean and
``<figure>_sd``.

The QPU is Aer under design.md's device-time clock (see vqpu_qpu.py and
docs/vqpu.md). The baseline ``exclusive_total_s`` is N x the exclusive N=1 total
at the same k, measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from streamflow_quantum.bench.packer import Clock
from streamflow_quantum.bench.provenance import provenance
from streamflow_quantum.bench.vqpu_metrics import JobRecord, summarise
from streamflow_quantum.bench.vqpu_qpu import SharedQPU
from streamflow_quantum.bench.vqpu_runs import aggregate, mean_sd
from streamflow_quantum.cluster.config import EXCLUSIVE_LICENSE, VQPU_LICENSE
from streamflow_quantum.cluster.records import sbatch

#: Policy -> the broker's packing policy.
POLICIES = {"exclusive": "serial", "vqpu": "serial", "vqpu+packing": "space-time"}
DEFAULT_GRAPH = Path(__file__).resolve().parents[2] / "workflows" / "coloring" / "graph.txt"
TARGET = {"policy": "vqpu+packing", "n": 8, "k": 2.0, "ratio": 0.25, "occupancy": 0.80}
#: Most seconds one run may take before the benchmark gives up on it.
RUN_TIMEOUT_S = 900.0
#: The figures of a run averaged over the runs of a point (each gets ``<figure>_sd``).
FIGURES = (
    "total_s",
    "total_over_exclusive",
    "qpu_occupancy",
    "qpu_busy_s",
    "mean_queue_s",
    "executions",
    "batches",
)
VIA = ("slurm", "lock")


class BenchError(RuntimeError):
    """A job failed or Slurm refused it; the message says which and why."""


@dataclass
class Settings:
    graph: str
    max_nodes: int
    maxiter: int
    shots: int
    seed: int
    device: str
    window: float
    exclusive_via: str
    runs: int = 5

    def job_command(self, i: int, k: float, record: Path, license_file: Path | None) -> list[str]:
        command = [sys.executable, "-m", "streamflow_quantum.bench.vqpu_job"]
        command += ["--k", str(k), "--record", str(record)]
        if license_file is not None:
            command += ["--license", str(license_file)]
        solve = ["--graph", self.graph, "--max-nodes", str(self.max_nodes), "--no-greedy"]
        solve += ["--maxiter", str(self.maxiter), "--shots", str(self.shots)]
        solve += ["--seed", str(self.seed + i), "--out", str(record.with_suffix(".coloring.json"))]
        return [*command, "--", *solve]


def _failure(record: Path, log: Path) -> BenchError:
    tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
    return BenchError(f"job {record.stem} failed: {' | '.join(tail) or 'no output'}")


def _records(paths: list[Path], launched: list[float], via_slurm: bool) -> list[JobRecord]:
    """The jobs' records. A Slurm job's licence wait is submission to the moment its
    process began: loading Qiskit afterwards (and the start barrier) is not queueing."""
    records = []
    for path, at in zip(paths, launched, strict=True):
        data = json.loads(path.read_text())
        if data["code"] != 0:
            raise _failure(path, path.with_suffix(".log"))
        queued_from = data["start"] - (data["began"] - at) if via_slurm else at
        records.append(JobRecord.from_dict(data | {"launched": queued_from}))
    return records


def run_local(commands: list[list[str]], env: dict[str, str], logs: list[Path]) -> list[float]:
    """Start every job, let each load Qiskit, then release them at once."""
    procs = []
    for command, log in zip(commands, logs, strict=True):
        with open(log, "w") as err:
            procs.append(
                subprocess.Popen(
                    [*command[:3], "--wait-go", *command[3:]],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    env=env,
                    text=True,
                )
            )
    for proc in procs:
        assert proc.stdout is not None and proc.stdin is not None  # both are pipes
        proc.stdout.readline()
    go = time.time()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.close()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    for proc in procs:
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            raise BenchError(f"jobs still running after {RUN_TIMEOUT_S:g} s") from None
    return [go] * len(procs)


def slurm_available() -> bool:
    if shutil.which("sbatch") is None:
        return False
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, check=False)
    return ping.returncode == 0 and "UP" in ping.stdout


def license_total(name: str) -> int:
    """How many copies of licence ``name`` the Slurm cluster has."""
    shown = subprocess.run(
        ["scontrol", "show", "licenses", name], capture_output=True, text=True, check=False
    )
    found = re.search(r"Total=(\d+)", shown.stdout)
    if found is None:
        raise BenchError(
            f"the Slurm cluster has no {name} licence: run `sfq cluster up` (it adds "
            f"{EXCLUSIVE_LICENSE}:1 and {VQPU_LICENSE}:N to a running cluster) or use "
            "--exclusive-via lock"
        )
    return int(found.group(1))


def licence_for(policy: str, n: int) -> str:
    """The licence each job of ``policy`` holds: the one ``qpu_exclusive`` copy, or one
    of the ``vqpu`` copies (there must be at least N, so that all N jobs run at once)."""
    if policy == "exclusive":
        if (total := license_total(EXCLUSIVE_LICENSE)) != 1:
            raise BenchError(f"{EXCLUSIVE_LICENSE} has {total} copies; exclusive needs exactly 1")
        return f"{EXCLUSIVE_LICENSE}:1"
    if (total := license_total(VQPU_LICENSE)) < n:
        raise BenchError(f"{VQPU_LICENSE} has {total} copies, fewer than N = {n} jobs")
    return f"{VQPU_LICENSE}:1"


def _squeue(ids: list[str]) -> list[str]:
    return subprocess.run(
        ["squeue", "-h", "-o", "%i", "-j", ",".join(ids)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()


def _wait_files(files: list[Path], ids: list[str], records: list[Path], deadline: float) -> None:
    """Until every file exists; a job that left the queue without its file failed."""
    while not all(f.exists() for f in files):
        queued = _squeue(ids)
        lost = [
            (f, r)
            for f, r, i in zip(files, records, ids, strict=True)
            if i not in queued and not f.exists()
        ]
        if lost:
            time.sleep(1.0)  # the file may land just after the job leaves the queue
            if missing := [r for f, r in lost if not f.exists()]:
                subprocess.run(["scancel", *ids], check=False)
                raise _failure(missing[0], missing[0].with_suffix(".log"))
        if time.monotonic() > deadline:
            subprocess.run(["scancel", *ids], check=False)
            raise BenchError(f"Slurm jobs {','.join(ids)} not done after {RUN_TIMEOUT_S:g} s")
        time.sleep(0.1)


def run_slurm(
    commands: list[list[str]],
    env: dict[str, str],
    logs: list[Path],
    records: list[Path],
    licence: str,
    barrier: Path | None,
) -> tuple[list[float], list[int]]:
    """One sbatch per job holding ``licence``. Jobs may share a compute node
    (``--oversubscribe``): the licence alone decides how many run at once. With a
    ``barrier`` (the shared policies) every job loads Qiskit, then all start together."""
    launched, ids = [], []
    for base, log, record in zip(commands, logs, records, strict=True):
        command = base
        if barrier is not None:
            ready = ["--ready", str(record.with_suffix(".ready")), "--go", str(barrier)]
            command = [*base[:3], *ready, *base[3:]]
        options = [
            "--job-name=sfq-vqpu",
            "--partition=compute",
            "--nodes=1",
            "--oversubscribe",
            f"--licenses={licence}",
            f"--output={log}",
            f"--chdir={record.parent}",
        ]
        try:
            ids.append(str(sbatch(options, shlex.join(command), env)))
        except RuntimeError as e:
            raise BenchError(str(e)) from None
        launched.append(time.time())
    deadline = time.monotonic() + RUN_TIMEOUT_S
    if barrier is not None:
        _wait_files([r.with_suffix(".ready") for r in records], ids, records, deadline)
        barrier.touch()
    _wait_files(records, ids, records, deadline)
    return launched, [int(i) for i in ids]


def run_once(policy: str, n: int, k: float, qpu: SharedQPU, settings: Settings) -> dict[str, Any]:
    """Launch N jobs at once under ``policy`` and measure them."""
    env = {key: v for key, v in os.environ.items() if not key.startswith("SFQ_")} | qpu.env
    assert qpu.qpu is not None
    qpu.qpu.take_intervals()
    via_slurm = settings.exclusive_via == "slurm"
    jobs_ids: list[int] = []
    with tempfile.TemporaryDirectory(prefix="sfq-vqpu-") as tmp:
        records = [Path(tmp, f"job-{i}.json") for i in range(n)]
        logs = [r.with_suffix(".log") for r in records]
        license_file = Path(tmp, "qpu.license") if policy == "exclusive" and not via_slurm else None
        commands = [settings.job_command(i, k, r, license_file) for i, r in enumerate(records)]
        if via_slurm:
            # exclusive jobs start one by one as the licence frees; the others all at once
            barrier = None if policy == "exclusive" else Path(tmp, "go")
            licence = licence_for(policy, n)
            launched, jobs_ids = run_slurm(commands, env, logs, records, licence, barrier)
        else:
            licence = "lock" if policy == "exclusive" else "none"
            launched = run_local(commands, env, logs)
        missing = [r for r in records if not r.exists()]
        if missing:
            raise _failure(missing[0], missing[0].with_suffix(".log"))
        jobs = _records(records, launched, via_slurm)
    return {
        "policy": policy,
        "n": n,
        "k": k,
        "licence": licence,
        "slurm_jobs": jobs_ids,
    } | summarise(jobs, qpu.qpu.take_intervals())


def grid(policies: list[str], ns: list[int], quick: bool) -> list[tuple[str, int]]:
    """(policy, N) pairs to run at each k. Quick: exclusive alone only (its N-job total is
    N x t1 within a few percent) and shared policies from N=2 (at N=1 they are exclusive)."""
    if not quick:
        return [(policy, n) for policy in policies for n in ns]
    return [(policy, n) for policy in policies for n in ns if (n == 1) == (policy == "exclusive")]


def point_row(
    runs: list[dict[str, Any]], n: int, t1_totals: list[float], via: str
) -> dict[str, Any]:
    """One point's row from its runs. t1 is the mean exclusive N=1 total at the same k;
    each run's ratio is its total over N x t1, and the row holds their mean and spread."""
    t1, t1_sd = mean_sd(t1_totals)
    per_run = [run | {"total_over_exclusive": run["total_s"] / (n * t1)} for run in runs]
    row = aggregate(per_run, FIGURES)
    row["runtimes_s"] = [x for run in runs for x in run["runtimes_s"]]
    row["slurm_jobs"] = [j for run in runs for j in run.get("slurm_jobs", [])]
    return row | {
        "exclusive_via": via,
        "exclusive_total_s": n * t1,
        "exclusive_total_s_sd": n * t1_sd,
        "t1_s": t1,
        "t1_s_sd": t1_sd,
    }


def measure(
    pairs: list[tuple[str, int]], ks: list[float], settings: Settings, clock: Clock
) -> list[dict[str, Any]]:
    packings = sorted({POLICIES[p] for p, _ in [*pairs, ("exclusive", 1)]})
    results = []
    with contextlib.ExitStack() as stack:
        qpus = {
            p: stack.enter_context(SharedQPU(settings.device, p, clock, settings.window))
            for p in packings
        }
        for k in ks:
            alone = [
                run_once("exclusive", 1, k, qpus["serial"], settings) for _ in range(settings.runs)
            ]
            t1_totals = [run["total_s"] for run in alone]
            for policy, n in pairs:
                runs = (
                    alone
                    if (policy, n) == ("exclusive", 1)
                    else [
                        run_once(policy, n, k, qpus[POLICIES[policy]], settings)
                        for _ in range(settings.runs)
                    ]
                )
                row = point_row(runs, n, t1_totals, settings.exclusive_via)
                results.append(row)
                print(
                    f"  {policy:12} N={n} k={k:g}: {row['total_s']:.1f} ± {row['total_s_sd']:.1f} s, "
                    f"{row['total_over_exclusive']:.2f} ± {row['total_over_exclusive_sd']:.2f} x N*t1, "
                    f"occupancy {row['qpu_occupancy']:.0%} ± {row['qpu_occupancy_sd']:.0%} "
                    f"({row['runs']} runs)",
                    flush=True,
                )
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        f"{'policy':12} {'N':>2} {'k':>3} {'runs':>4} {'total s':>12} {'N*t1 s':>8} "
        f"{'ratio':>11} {'occupancy':>13} {'queue s':>8} {'QPU s':>7} {'batches':>7} "
        f"{'runtime s min/med/max':>22}"
    ]
    for r in results:
        runtimes = sorted(r["runtimes_s"])
        spread = f"{runtimes[0]:.1f}/{runtimes[len(runtimes) // 2]:.1f}/{runtimes[-1]:.1f}"
        lines.append(
            f"{r['policy']:12} {r['n']:>2} {r['k']:>3g} {r['runs']:>4} "
            f"{r['total_s']:>6.1f} ± {r['total_s_sd']:<4.1f}{r['exclusive_total_s']:>8.1f} "
            f"{r['total_over_exclusive']:>5.2f} ± {r['total_over_exclusive_sd']:<4.2f}"
            f"{r['qpu_occupancy']:>6.1%} ± {r['qpu_occupancy_sd']:<4.1%}{r['mean_queue_s']:>8.2f} "
            f"{r['qpu_busy_s']:>7.1f} {r['batches']:>7.1f} {spread:>22}"
        )
    return "\n".join(lines)


def target_line(results: list[dict[str, Any]]) -> str:
    row = next(
        (
            r
            for r in results
            if (r["policy"], r["n"], r["k"]) == (TARGET["policy"], TARGET["n"], TARGET["k"])
        ),
        None,
    )
    head = (
        f"target at N={TARGET['n']}, k={TARGET['k']:g}, {TARGET['policy']}: "
        f"total <= {TARGET['ratio']}x N*t1 and occupancy >= {TARGET['occupancy']:.0%}"
    )
    if row is None:
        return f"{head}: not in this grid (run without --quick)"
    return (
        f"{head}: measured {row['total_over_exclusive']:.2f}x ± {row['total_over_exclusive_sd']:.2f} "
        f"and {row['qpu_occupancy']:.0%} ± {row['qpu_occupancy_sd']:.0%} over {row['runs']} runs, "
        f"exclusive via {row['exclusive_via']} (the paper gives curves only, Figures 7-8)"
    )


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",")]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sfq bench vqpu", description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="write the figures here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="N=1,2,4, k=0,2, one search node, exclusive at N=1 only (about a minute)",
    )
    parser.add_argument("--n", type=_ints, help="concurrent jobs (default 1,2,4,8)")
    parser.add_argument("--k", type=_floats, help="classical delay factors (default 0,1,2)")
    parser.add_argument(
        "--policies", default=",".join(POLICIES), help=f"subset of {','.join(POLICIES)}"
    )
    parser.add_argument("--graph", default=str(DEFAULT_GRAPH), help="edge list, 'u v' per line")
    parser.add_argument("--max-nodes", type=int, help="search nodes per job (default 2; quick 1)")
    parser.add_argument(
        "--maxiter", type=int, help="QAOA evaluations per node (default 4; quick 3)"
    )
    parser.add_argument("--shots", type=int, default=256, help="shots per execution (default 256)")
    parser.add_argument("--seed", type=int, default=1, help="job i samples with seed+i")
    parser.add_argument(
        "--device", default="aer:fake_brisbane", help="backend the QPU simulates (noise off)"
    )
    parser.add_argument(
        "--overhead", type=float, help="modelled seconds per QPU job (default 0.2; quick 0.1)"
    )
    parser.add_argument(
        "--rep-delay", type=float, default=Clock.rep_delay_s, help="seconds between shots"
    )
    parser.add_argument(
        "--window",
        type=float,
        default=0.0,
        help="broker batch window in seconds (default 0: pack what queued while the QPU was busy)",
    )
    parser.add_argument(
        "--exclusive-via",
        choices=VIA,
        default="slurm",
        help="slurm (default): every job a Slurm job holding its licence (qpu_exclusive:1 or "
        "vqpu:1); lock: local processes, exclusive by a file lock (no Slurm needed)",
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per point, averaged (default 5)")
    parser.add_argument("--plots", type=Path, help="also draw Figures 7-8 as PNGs in this folder")
    return parser


def main(argv: list[str]) -> int:
    argv = list(argv)
    meta = provenance("vqpu", argv)
    parser = _parser()
    args = parser.parse_args(argv)
    policies = args.policies.split(",")
    if unknown := [p for p in policies if p not in POLICIES]:
        parser.error(f"unknown policies {unknown}; use a subset of {','.join(POLICIES)}")
    if not Path(args.graph).exists():
        parser.error(f"no graph file {args.graph}; pass --graph FILE ('u v' per line)")
    ns = args.n or ([1, 2, 4] if args.quick else [1, 2, 4, 8])
    ks = args.k or ([0.0, 2.0] if args.quick else [0.0, 1.0, 2.0])
    if min(ns) < 1 or min(ks) < 0:
        parser.error("--n must be at least 1 and --k at least 0")
    via = args.exclusive_via
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if via == "slurm" and not slurm_available():
        parser.error(
            "no Slurm controller answers; run `sfq cluster up` or use --exclusive-via lock"
        )
    overhead = args.overhead if args.overhead is not None else (0.1 if args.quick else 0.2)
    clock = Clock(overhead, args.rep_delay, args.shots)
    settings = Settings(
        graph=str(Path(args.graph).resolve()),
        max_nodes=args.max_nodes or (1 if args.quick else 2),
        maxiter=args.maxiter or (3 if args.quick else 4),
        shots=args.shots,
        seed=args.seed,
        device=args.device,
        window=args.window,
        exclusive_via=via,
        runs=args.runs,
    )
    print(
        f"{settings.device} under the device-time clock (overhead {clock.overhead_s} s, "
        f"rep_delay {clock.rep_delay_s * 1e6:.0f} us, {clock.shots} shots); exclusive via {via}",
        flush=True,
    )
    try:
        results = measure(grid(policies, ns, args.quick), ks, settings, clock)
    except BenchError as error:
        print(f"sfq bench vqpu: {error}", file=sys.stderr)
        return 1
    settings_all = asdict(settings) | {
        "n": ns,
        "k": ks,
        "policies": policies,
        "grid": "quick (exclusive at N=1 only)" if args.quick else "full",
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            meta | {"clock": asdict(clock), "settings": settings_all, "results": results},
            indent=2,
        )
        + "\n"
    )
    print(table(results))
    print(target_line(results))
    if args.plots:
        from streamflow_quantum.bench.vqpu_plots import draw

        for path in draw(results, args.plots):
            print(f"wrote {path}")
    return 0
