"""`sfq bench workflow`: classical node-seconds of the static baseline against the workflow.

Reproduces "Three ways to share a QPU", 4.3.2 (Tables 1-2) on the local Slurm cluster:
the clustering aggregation as one static 3-node job (the baseline), as the StreamFlow
workflow (one Slurm job per step) and as a malleable job (DMR's way: the static job
shrinks to one node for its quantum phase and resubmits itself for the next round),
one workload alone and two at once. Quantum phases: ``short`` (no delay), ``ratio``
(the MIS job sleeps so that quantum time per round over classical time per round is
the paper's, 120 s over 134.9 s, the classical time measured by a short-phase
baseline run), ``long`` (a fixed delay: 120 s, 20 s with --quick). Each point is run
``--runs`` times. Wall time and node-seconds come from Slurm's completion records
only: wall = first start to last end, node-seconds = nodes x (end - start) summed
over the jobs on the compute partition.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from streamflow_quantum.bench.baselines import clustering as baseline
from streamflow_quantum.bench.provenance import provenance
from streamflow_quantum.bench.vqpu_runs import aggregate, mean_sd, ratio_sd
from streamflow_quantum.cluster.records import (
    JobRecord,
    last_job_id,
    node_seconds,
    read_records,
    wait_for_records,
    wall_seconds,
)

WORKFLOW_DIR = Path(__file__).resolve().parents[2] / "workflows" / "clustering"
MODES = ("baseline", "workflow", "malleable")
PHASES = ("short", "ratio", "long")
#: Qluster, mean and standard deviation of 5 runs: (wall s, sd, node-seconds, sd).
#: Table 1: 2-minute quantum jobs (``long``; also the paper's figures for ``ratio``, whose
#: 2-minute jobs set the ratio); Table 2: short ones.
PAPER = {
    ("baseline", 1, "long"): (1019.58, 0.85, 3058.74, 2.56),
    ("workflow", 1, "long"): (1057.80, 6.02, 1161.20, 6.94),
    ("malleable", 1, "long"): (1029.06, 1.54, 1647.75, 1.54),
    ("baseline", 2, "long"): (2038.43, 0.96, 6115.30, 2.89),
    ("workflow", 2, "long"): (1226.00, 1.58, 2324.00, 3.39),
    ("malleable", 2, "long"): (1127.65, 1.18, 2817.73, 1.27),
    ("baseline", 1, "short"): (539.44, 0.53, 1618.33, 1.60),
    ("workflow", 1, "short"): (569.00, 3.94, 1148.00, 1.87),
    ("malleable", 1, "short"): (549.60, 1.86, 1168.29, 1.81),
    ("baseline", 2, "short"): (1076.98, 1.79, 3230.95, 5.37),
    ("workflow", 2, "short"): (1089.00, 1.00, 2324.00, 4.24),
    ("malleable", 2, "short"): (648.61, 2.08, 1622.63, 1.05),
}
PAPER_ROUNDS = 4
PAPER_QUANTUM_S = 120.0
#: The paper's classical time per round: its short-phase baseline over its 4 rounds.
PAPER_CLASSICAL_S = PAPER[("baseline", 1, "short")][0] / PAPER_ROUNDS
#: Quantum over classical time per round in the paper's long runs: 120 / 134.9 = 0.89.
PAPER_RATIO = PAPER_QUANTUM_S / PAPER_CLASSICAL_S
FIGURES = ("wall_s", "node_seconds", "quantum_s", "rounds", "quantum_classical_ratio")


def paper(mode: str, concurrency: int, phase: str) -> tuple[float, float, float, float]:
    return PAPER[(mode, concurrency, "long" if phase == "ratio" else phase)]


@dataclass(frozen=True)
class Workload:
    """One clustering-aggregation run; ``long_delay`` is the long quantum phase's sleep."""

    n_points: int
    centers: int
    long_delay: float
    seed: int = 0x1337
    max_rounds: int = 10

    def options(
        self, phase: str, ratio_delay: float = 0.0, malleable: bool = False
    ) -> baseline.Options:
        delay = {"long": self.long_delay, "ratio": ratio_delay}.get(phase, 0.0)
        return baseline.Options(
            n_points=self.n_points,
            centers=self.centers,
            seed=self.seed,
            quantum_delay=delay,
            max_rounds=self.max_rounds,
            malleable=malleable,
        )


#: The papers' runs all ended after round 4 (silhouette over 0.8); on our round parameters
#: 0.8 is not reached by then, so the rounds are capped to time the same structure.
FULL = Workload(n_points=80_000, centers=8, long_delay=120.0, max_rounds=4)
QUICK = Workload(n_points=3000, centers=4, long_delay=20.0, max_rounds=3)


@dataclass(frozen=True)
class Result:
    """One run's figures. ``quantum_s``: mean duration of its quantum jobs; ``rounds``:
    quantum jobs per workload."""

    mode: str
    concurrency: int
    quantum_phase: str
    wall_s: float
    node_seconds: float
    quantum_s: float = 0.0
    rounds: float = 0.0


def rotated(modes: list[str], run: int) -> list[str]:
    """The modes in the order of run ``run``: interleaved, so that a drift in the machine's
    load reaches every mode, and rotated, so that no mode always runs first or last."""
    shift = run % len(modes)
    return modes[shift:] + modes[:shift]


def _run_baseline(dirs: list[Path], options: baseline.Options) -> None:
    jobs = [baseline.submit(d, options, wait=False) for d in dirs]
    records = wait_for_records(jobs, timeout=6 * 3600)
    failed = [r for r in records if r.state != "COMPLETED"]
    if failed:
        raise RuntimeError(
            f"baseline job {failed[0].job_id} ended {failed[0].state}: see {dirs[0] / 'baseline.log'}"
        )


def _run_malleable(dirs: list[Path], options: baseline.Options, timeout: float = 6 * 3600) -> None:
    """Submit each workload's first round; each round's job submits the next. Until
    every chain has written its done file; a chain with no job left and no file failed."""
    for d in dirs:
        baseline.submit(d, options, wait=False)
    deadline = time.monotonic() + timeout
    missed: dict[Path, int] = {}
    while not all((d / baseline.MALLEABLE_DONE).exists() for d in dirs):
        queued = _queued_workdirs()
        for d in dirs:
            if (d / baseline.MALLEABLE_DONE).exists() or any(q.startswith(str(d)) for q in queued):
                missed.pop(d, None)
                continue
            missed[d] = missed.get(d, 0) + 1
            if missed[d] > 5:  # out of the queue for ~5 s without finishing
                logs = sorted(d.glob("baseline*.log"))
                raise RuntimeError(
                    f"malleable run in {d} stopped before its last round: see {logs[-1] if logs else d}"
                )
        if time.monotonic() > deadline:
            raise RuntimeError(f"malleable runs not done after {timeout:.0f} s")
        time.sleep(1.0)


def _queued_workdirs() -> list[str]:
    queue = subprocess.run(["squeue", "-h", "-o", "%Z"], capture_output=True, text=True, check=True)
    return queue.stdout.splitlines()


def _workflow_config(config: Path, run_dir: Path, options: baseline.Options) -> Path:
    """A copy of the Slurm config whose jobs run under ``run_dir`` (to find their records)."""
    settings = yaml.safe_load(config.read_text())
    inputs = {
        "n_points": options.n_points,
        "centers": options.centers,
        "seed": options.seed,
        "solver": options.solver,
        "quantum_delay": options.quantum_delay,
        "threshold": options.threshold,
        "max_rounds": options.max_rounds,
    }
    (run_dir / "inputs.yml").write_text(yaml.safe_dump(inputs))
    for workflow in settings["workflows"].values():
        workflow["config"]["file"] = str((config.parent / workflow["config"]["file"]).resolve())
        workflow["config"]["settings"] = str(run_dir / "inputs.yml")
    for deployment in settings.get("deployments", {}).values():
        deployment["workdir"] = str(run_dir / "jobs")
    settings["database"] = {"type": "default", "config": {"connection": str(run_dir / "sqlite.db")}}
    out = run_dir / "streamflow.yml"
    out.write_text(yaml.safe_dump(settings, sort_keys=False))
    return out


def _run_workflow(dirs: list[Path], options: baseline.Options, config: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = os.environ | {"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    running = []
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        streamflow_yml = _workflow_config(config, d, options)
        with (d / "streamflow.log").open("w") as log:
            running.append(
                subprocess.Popen(
                    [
                        f"{bin_dir}/streamflow",
                        "run",
                        str(streamflow_yml),
                        "--outdir",
                        str(d / "out"),
                    ],
                    cwd=d,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    for d, process in zip(dirs, running, strict=True):
        if process.wait() != 0:
            raise RuntimeError(f"streamflow run failed: see {d / 'streamflow.log'}")


def _wait_drained(run_dir: Path, timeout: float = 60.0) -> None:
    """Until Slurm has no job left under ``run_dir``, so that every record is written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queue = subprocess.run(
            ["squeue", "-h", "-o", "%Z"], capture_output=True, text=True, check=True
        )
        if not any(line.startswith(str(run_dir)) for line in queue.stdout.splitlines()):
            time.sleep(1.0)
            return
        time.sleep(0.5)
    raise RuntimeError(f"jobs under {run_dir} still queued after {timeout:.0f} s")


def measure(
    mode: str,
    concurrency: int,
    phase: str,
    workload: Workload,
    root: Path,
    config: Path,
    ratio_delay: float = 0.0,
    run: int = 0,
) -> tuple[Result, list[JobRecord]]:
    """Run ``concurrency`` workloads at once; figures from their completion records."""
    run_dir = root / f"{mode}-{concurrency}-{phase}-r{run}"
    dirs = [run_dir / f"w{i}" for i in range(concurrency)]
    options = workload.options(phase, ratio_delay, malleable=mode == "malleable")
    first = last_job_id()
    if mode == "baseline":
        _run_baseline(dirs, options)
    elif mode == "malleable":
        _run_malleable(dirs, options)
    else:
        _run_workflow(dirs, options, config)
    _wait_drained(run_dir)
    return figures(mode, concurrency, phase, run_dir, read_records(after=first))


def restore_resized(records: list[JobRecord], starts: dict[int, datetime]) -> list[JobRecord]:
    """Slurm 22.05's jobcomp/filetxt writes a shrinking job's RESIZING record (the nodes
    it held before the shrink) with the shrink time as StartTime; put back the job's
    real start, which the job read from Slurm before shrinking (``starts``)."""
    return [
        replace(r, start=starts[r.job_id]) if r.state == "RESIZING" and r.job_id in starts else r
        for r in records
    ]


def _resize_starts(run_dir: Path) -> dict[int, datetime]:
    starts = {}
    for path in run_dir.glob("**/" + baseline.START_FILE.format(job="*")):
        job = int(path.stem.rsplit("-", 1)[1])
        starts[job] = datetime.fromisoformat(path.read_text().strip())
    return starts


def figures(
    mode: str, concurrency: int, phase: str, run_dir: Path, records: list[JobRecord]
) -> tuple[Result, list[JobRecord]]:
    """The run's figures from the completion records of its jobs: those under ``run_dir``."""
    mine = [r for r in records if Path(r.workdir).is_relative_to(run_dir)]
    if not mine:
        raise RuntimeError(
            f"no completion record of a job under {run_dir}: did the jobs run elsewhere?"
        )
    mine = restore_resized(mine, _resize_starts(run_dir))
    quantum = [r.seconds for r in mine if r.partition == "quantum"]
    return Result(
        mode,
        concurrency,
        phase,
        wall_seconds(mine),
        node_seconds(mine),
        quantum_s=sum(quantum) / len(quantum) if quantum else 0.0,
        rounds=len(quantum) / concurrency,
    ), mine


def point_row(runs: list[Result], classical_s: float | None) -> dict[str, Any]:
    """A point's row: each figure's mean and ``<figure>_sd`` over its runs,
    ``quantum_classical_ratio`` (mean quantum job over the classical time per round), and
    ``per_run``: each run's figures, in the order they ran."""
    per_run = [
        asdict(r) | {"quantum_classical_ratio": r.quantum_s / classical_s if classical_s else 0.0}
        for r in runs
    ]
    return aggregate(per_run, FIGURES) | {
        "per_run": [{figure: run[figure] for figure in FIGURES} for run in per_run]
    }


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row against the baseline of its phase and concurrency, and the paper's figures."""
    out = []
    for row in rows:
        key = (row["concurrency"], row["quantum_phase"])
        base = next(
            (
                b
                for b in rows
                if b["mode"] == "baseline" and (b["concurrency"], b["quantum_phase"]) == key
            ),
            None,
        )
        extra: dict[str, Any] = {}
        if base is not None:
            for figure, name in (
                ("node_seconds", "node_seconds_over_baseline"),
                ("wall_s", "wall_over_baseline"),
            ):
                extra[name] = row[figure] / base[figure]
                extra[f"{name}_sd"] = (
                    0.0
                    if row is base
                    else ratio_sd(
                        row[figure], row[f"{figure}_sd"], base[figure], base[f"{figure}_sd"]
                    )
                )
        wall, wall_sd, ns, ns_sd = paper(row["mode"], row["concurrency"], row["quantum_phase"])
        base_wall, _, base_ns, _ = paper("baseline", row["concurrency"], row["quantum_phase"])
        extra |= {
            "paper_wall_s": wall,
            "paper_wall_s_sd": wall_sd,
            "paper_node_seconds": ns,
            "paper_node_seconds_sd": ns_sd,
            "paper_node_seconds_over_baseline": ns / base_ns,
            "paper_wall_over_baseline": wall / base_wall,
            "paper_quantum_classical_ratio": PAPER_RATIO
            if row["quantum_phase"] != "short"
            else None,
        }
        out.append(row | extra)
    return out


def _table(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'phase':<6} {'mode':<9} {'conc':>4} {'runs':>4} {'q/c':>5} {'wall s':>12} "
        f"{'node-s':>12} {'ns/base':>12} {'wall/base':>12}"
        f" | {'paper wall':>10} {'paper ns':>9} {'ns/base':>8} {'wall/base':>9}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        ratio = (
            f"{r['node_seconds_over_baseline']:>5.2f} ± {r['node_seconds_over_baseline_sd']:<4.2f}"
            f"{r['wall_over_baseline']:>6.2f} ± {r['wall_over_baseline_sd']:<4.2f}"
            if "wall_over_baseline" in r
            else f"{'-':>12} {'-':>12}"
        )
        lines.append(
            f"{r['quantum_phase']:<6} {r['mode']:<9} {r['concurrency']:>4} {r['runs']:>4} "
            f"{r['quantum_classical_ratio']:>5.2f} {r['wall_s']:>6.0f} ± {r['wall_s_sd']:<4.0f}"
            f"{r['node_seconds']:>6.0f} ± {r['node_seconds_sd']:<4.0f}{ratio}"
            f" | {r['paper_wall_s']:>10.0f} {r['paper_node_seconds']:>9.0f} "
            f"{r['paper_node_seconds_over_baseline']:>8.2f} {r['paper_wall_over_baseline']:>9.2f}"
        )
    lines.append(
        "paper: Three ways to share a QPU, Qluster, Table 1 (long and ratio: 2-minute quantum "
        f"jobs, quantum/classical {PAPER_RATIO:.2f}), Table 2 (short); q/c: ours"
    )
    return "\n".join(lines)


def _hostnames(nodelist: str) -> list[str]:
    done = subprocess.run(
        ["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def gantt(runs: dict[str, list[JobRecord]], path: Path) -> None:
    """Node allocation over time, one panel per run, from the completion records."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = sorted({n for records in runs.values() for r in records for n in _hostnames(r.nodes)})
    figure, _ = plt.subplots(
        len(runs), 1, figsize=(10, 1.2 + 0.5 * len(nodes) * len(runs)), sharex=True
    )
    for ax, (title, records) in zip(figure.axes, runs.items(), strict=True):
        origin = min(r.start for r in records)
        for r in records:
            colour = "tab:blue" if r.partition == "compute" else "tab:orange"
            for node in _hostnames(r.nodes):
                start = (r.start - origin).total_seconds()
                ax.broken_barh(
                    [(start, max(r.seconds, 0.5))],
                    (nodes.index(node) - 0.4, 0.8),
                    color=colour,
                    edgecolor="black",
                    linewidth=0.3,
                )
        ax.set_yticks(range(len(nodes)), nodes)
        ax.set_title(
            f"{title}: {node_seconds(records):.0f} node-s, wall {wall_seconds(records):.0f} s",
            fontsize=9,
        )
    figure.axes[-1].set_xlabel(
        "seconds since the run's first job started (blue: compute, orange: quantum)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sfq bench workflow", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--json", type=Path, required=True, help="where to write the figures")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK.n_points} points, {QUICK.long_delay:.0f} s long phase, at most {QUICK.max_rounds} rounds",
    )
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    parser.add_argument("--concurrency", nargs="+", type=int, choices=(1, 2), default=[1, 2])
    parser.add_argument("--runs", type=int, default=3, help="runs per point (default 3)")
    parser.add_argument(
        "--quantum-classical-ratio",
        type=float,
        default=PAPER_RATIO,
        help=f"the ratio phase's quantum over classical time per round (default the paper's, {PAPER_RATIO:.2f})",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/sfq-bench-workflow"),
        help="shared directory for the runs",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=WORKFLOW_DIR / "streamflow-slurm.yml",
        help="the workflow's Slurm config",
    )
    parser.add_argument(
        "--gantt", type=Path, help="PNG of node allocation (default: next to --json)"
    )
    return parser


def _classical_per_round(
    results: list[Result], workload: Workload, root: Path, config: Path
) -> float:
    """Classical seconds per round: a short-phase baseline's wall over its rounds (the
    grid's own runs, or one calibration run)."""
    short = [
        r for r in results if (r.mode, r.concurrency, r.quantum_phase) == ("baseline", 1, "short")
    ]
    if not short:
        calibration, _ = measure("baseline", 1, "short", workload, root / "calibration", config)
        short = [calibration]
    return mean_sd(r.wall_s / r.rounds for r in short)[0]


def main(argv: list[str]) -> int:
    argv = list(argv)
    args = _parser().parse_args(argv)
    if "workflow" in args.modes and not args.config.exists():
        print(
            f"sfq bench workflow: {args.config} not found: pass --config or --modes baseline",
            file=sys.stderr,
        )
        return 1
    if args.runs < 1:
        print("sfq bench workflow: --runs must be at least 1", file=sys.stderr)
        return 2
    meta = provenance("workflow", argv)
    workload = QUICK if args.quick else FULL
    config = args.config.resolve()
    root = args.workdir.resolve() / time.strftime("%Y%m%d-%H%M%S")
    phases = [p for p in PHASES if p in args.phases]  # short first: it calibrates ratio
    runs: dict[tuple[str, int, str], list[Result]] = {}
    gantt_runs: dict[str, list[JobRecord]] = {}
    classical_s: float | None = None
    ratio_delay = 0.0
    for phase in phases:
        if phase != "short" and classical_s is None:
            done = [r for rs in runs.values() for r in rs]
            classical_s = _classical_per_round(done, workload, root, config)
            ratio_delay = args.quantum_classical_ratio * classical_s
            print(
                f"classical time per round {classical_s:.1f} s: ratio phase's quantum delay "
                f"{ratio_delay:.1f} s ({args.quantum_classical_ratio:.2f} x)",
                flush=True,
            )
        for concurrency in args.concurrency:
            for i in range(args.runs):
                for mode in rotated(args.modes, i):
                    result, records = measure(
                        mode, concurrency, phase, workload, root, config, ratio_delay, i
                    )
                    runs.setdefault((mode, concurrency, phase), []).append(result)
                    if i == 0 and phase != "short":
                        gantt_runs[f"{mode}, {concurrency} workload(s), {phase} quantum phase"] = (
                            records
                        )
                    print(
                        f"{mode} x{concurrency} {phase} run {i + 1}: wall {result.wall_s:.0f} s, "
                        f"{result.node_seconds:.0f} node-s, quantum job {result.quantum_s:.0f} s",
                        flush=True,
                    )
    if classical_s is None:
        classical_s = _classical_per_round(
            [r for rs in runs.values() for r in rs], workload, root, config
        )
    rows = with_ratios([point_row(rs, classical_s) for rs in runs.values()])
    settings = asdict(workload) | {
        "workdir": str(root),
        "modes": args.modes,
        "phases": phases,
        "concurrency": args.concurrency,
        "runs": args.runs,
        "quick": args.quick,
        "config": str(config),
        "deployments": _deployment_settings(config),
        "quantum_classical_ratio": args.quantum_classical_ratio,
        "classical_s_per_round": classical_s,
        "ratio_phase_delay_s": ratio_delay,
        "paper_quantum_classical_ratio": PAPER_RATIO,
        "paper_classical_s_per_round": PAPER_CLASSICAL_S,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            meta | {"settings": settings, "workload": asdict(workload), "results": rows},
            indent=2,
        )
        + "\n"
    )
    print(_table(rows))
    gantt_path = args.gantt or args.json.with_name(f"{args.json.stem}-gantt.png")
    if gantt_runs:
        gantt(gantt_runs, gantt_path)
        print(f"figures in {args.json}, Gantt chart in {gantt_path}")
    return 0


def _deployment_settings(config: Path) -> dict[str, dict[str, Any]]:
    """How each deployment of the workflow's config launches and polls its jobs."""
    settings = yaml.safe_load(config.read_text())
    return {
        name: {
            key: deployment.get("config", {}).get(key)
            for key in ("launch", "pollingInterval", "maxConcurrentJobs")
        }
        for name, deployment in settings.get("deployments", {}).items()
    }
