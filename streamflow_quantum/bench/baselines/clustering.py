"""The static baseline: the whole clustering aggregation as one Slurm job on 3 compute nodes.

As the papers' baseline does, one job holds its classical nodes for the whole run:
each round runs k-means, DBSCAN and single linkage at once, one per node (``srun``),
builds the QUBO and scores on the first node, and offloads the MIS solve to the
quantum partition (a job of its own with ``--licenses=qpu:1``) while its nodes wait idle.
Every step is the workflow's own ``sfq clustering`` step, so both do the same work.

``--malleable`` is the papers' third way (DMR): the job shrinks to one node
(``scontrol update JobId=... NumNodes=1``) before its quantum phase, so the two other
nodes go back to Slurm while the MIS job runs and while the serial silhouette is
scored, and grows back for the next round as DMR does without an expand: the shrunk
job submits the next round as a new 3-node job and ends. Slurm logs the shrink itself
(a ``RESIZING`` completion record for the 3-node part, then one for the 1-node part),
so node-seconds still come from its own records.

    python -m streamflow_quantum.bench.baselines.clustering --submit --workdir DIR [options]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from streamflow_quantum.applications.clustering import dataset, methods, mis, scoring
from streamflow_quantum.applications.clustering.cli import main as step
from streamflow_quantum.applications.clustering.scoring import read_score
from streamflow_quantum.cluster.records import sbatch

NODES = 3
JOB_NAME = "sfq-baseline"
MALLEABLE_JOB_NAME = "sfq-malleable"
#: Written by the malleable chain's last job: the run is over.
MALLEABLE_DONE = "malleable.done"
MODULE = "streamflow_quantum.bench.baselines.clustering"
#: The step CLI as a command line, for processes started on other nodes.
SFQ = [sys.executable, "-m", "streamflow_quantum.cli.main"]


class BaselineError(RuntimeError):
    """A step of the baseline failed; the message says which and where its output is."""


@dataclass(frozen=True)
class Options:
    n_points: int = dataset.N_POINTS
    centers: int = dataset.CENTERS
    seed: int = dataset.SEED
    points: str | None = None
    solver: str = "sa"
    quantum_delay: float = 0.0
    threshold: float = scoring.THRESHOLD
    max_rounds: int = scoring.MAX_ROUNDS
    malleable: bool = False


def _run_step(argv: list[str]) -> None:
    if step(argv) != 0:
        raise BaselineError(f"sfq clustering {' '.join(argv)} failed")


def _cluster_on_nodes(workdir: Path, round_number: int) -> list[Path]:
    """The three methods at once, each as a one-node step of this job's allocation."""
    outputs = [workdir / f"labels-{round_number}-{method}.npz" for method in methods.METHODS]
    running = [
        subprocess.Popen(
            ["srun", "--nodes=1", "--ntasks=1", "--exclusive", f"--job-name={method}"]
            + [*SFQ, "clustering", "cluster", "--method", method, "--round", str(round_number)]
            + ["--points", str(workdir / "points.npz"), "--out", str(out)]
        )
        for method, out in zip(methods.METHODS, outputs, strict=True)
    ]
    if any(process.wait() != 0 for process in running):
        raise BaselineError(f"a clustering of round {round_number} failed (see the job's output)")
    return outputs


def _solve_on_quantum_partition(workdir: Path, round_number: int, options: Options) -> Path:
    """The MIS solve as a job of its own on the quantum partition, while this job waits.

    ``srun`` outside this job's allocation (no SLURM_* variables) blocks until that job
    ends without ``sbatch --wait``'s polling delay of up to 10 s.
    """
    out, log = workdir / f"mis-{round_number}.json", workdir / f"mis-{round_number}.log"
    command = [*SFQ, "clustering", "mis", "--qubo", str(workdir / f"qubo-{round_number}.npz")]
    command += ["--solver", options.solver, "--round", str(round_number)]
    command += ["--quantum-delay", str(options.quantum_delay), "--out", str(out)]
    outside = {key: value for key, value in os.environ.items() if not key.startswith("SLURM_")}
    done = subprocess.run(
        [
            "srun",
            "--partition=quantum",
            "--licenses=qpu:1",
            "--nodes=1",
            "--ntasks=1",
            "--job-name=mis",
        ]
        + [f"--output={log}", f"--chdir={workdir}", *command],
        env=outside,
        check=False,
    )
    if done.returncode != 0 or not out.exists():
        raise BaselineError(f"the MIS job of round {round_number} failed: see {log}")
    return out


#: Slurm 22.05's jobcomp/filetxt stamps a RESIZING record with the shrink time as its
#: StartTime, losing when the job started; before shrinking, the driver saves Slurm's
#: own StartTime of the job (``scontrol show job``) here for the benchmark to restore.
START_FILE = "slurm-start-{job}.txt"


def shrink_to_one_node(workdir: Path) -> None:
    """Give back every node of this job but the first (the one running this driver)."""
    job = os.environ["SLURM_JOB_ID"]
    shown = subprocess.run(
        ["scontrol", "-o", "show", "job", job], capture_output=True, text=True, check=False
    )
    started = re.search(r"\bStartTime=(\S+)", shown.stdout)
    if shown.returncode != 0 or started is None:
        raise BaselineError(f"scontrol show job {job} gave no StartTime: {shown.stderr.strip()}")
    (workdir / START_FILE.format(job=job)).write_text(started.group(1) + "\n")
    done = subprocess.run(
        ["scontrol", "update", f"JobId={job}", "NumNodes=1"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BaselineError(f"could not shrink job {job} to one node: {done.stderr.strip()}")


def _best(workdir: Path) -> list[str]:
    if not (workdir / "score.json").exists():
        return []
    return [
        "--best-score",
        str(workdir / "score.json"),
        "--best-clustering",
        str(workdir / "clustering.csv"),
    ]


def run(workdir: Path, options: Options, first_round: int = 1) -> Path:
    """The driver, inside a 3-node allocation; returns the final score.json.

    Malleable: shrinks to one node for the quantum phase and the score; unless the run
    is over it then submits round ``first_round + 1`` as a new 3-node job and returns.
    """
    if int(os.environ.get("SLURM_JOB_NUM_NODES", "0")) < NODES:
        raise BaselineError(
            f"run the baseline inside a {NODES}-node Slurm allocation, or pass --submit"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    points = workdir / "points.npz"
    if first_round == 1:
        source = ["--points", options.points] if options.points else []
        _run_step(
            ["dataset", *source, "--n-points", str(options.n_points)]
            + ["--centers", str(options.centers), "--seed", str(options.seed), "--out", str(points)]
        )
    for round_number in range(first_round, options.max_rounds + 1):
        labels = _cluster_on_nodes(workdir, round_number)
        qubo = workdir / f"qubo-{round_number}.npz"
        _run_step(["qubo", "--labels", *map(str, labels), "--out", str(qubo)])
        if options.malleable:
            shrink_to_one_node(workdir)
        solution = _solve_on_quantum_partition(workdir, round_number, options)
        best = _best(workdir)
        _run_step(
            ["score", "--points", str(points), "--qubo", str(qubo), "--mis", str(solution)]
            + ["--round", str(round_number), "--threshold", str(options.threshold)]
            + ["--max-rounds", str(options.max_rounds), "--out-dir", str(workdir), *best]
        )
        if read_score(workdir / "score.json").done:
            break
        if options.malleable and round_number < options.max_rounds:
            submit(workdir, options, wait=False, first_round=round_number + 1)
            return workdir / "score.json"
    if options.malleable:
        (workdir / MALLEABLE_DONE).write_text(f"{os.environ.get('SLURM_JOB_ID', '')}\n")
    return workdir / "score.json"


def submit(workdir: Path, options: Options, wait: bool = True, first_round: int = 1) -> int:
    """Submit the driver as one job holding :data:`NODES` compute nodes; returns its job id.

    Malleable, ``wait`` waits for this round's job only; the chain ends with
    :data:`MALLEABLE_DONE` in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", MODULE, "--workdir", str(workdir), *_option_args(options)]
    argv += ["--first-round", str(first_round)] if first_round > 1 else []
    name = MALLEABLE_JOB_NAME if options.malleable else JOB_NAME
    log = workdir / ("baseline.log" if first_round == 1 else f"baseline-{first_round}.log")
    outside = {key: value for key, value in os.environ.items() if not key.startswith("SLURM_")}
    return sbatch(
        [f"--nodes={NODES}", "--partition=compute", "--exclusive", f"--job-name={name}"]
        + [f"--output={log}", f"--chdir={workdir}", *(["--wait"] if wait else [])],
        shlex.join(argv),
        env=outside,
    )


def _option_args(options: Options) -> list[str]:
    args = [
        "--n-points",
        str(options.n_points),
        "--centers",
        str(options.centers),
        "--seed",
        str(options.seed),
    ]
    args += ["--solver", options.solver, "--quantum-delay", str(options.quantum_delay)]
    args += ["--threshold", str(options.threshold), "--max-rounds", str(options.max_rounds)]
    args += ["--malleable"] if options.malleable else []
    return args + (["--points", options.points] if options.points else [])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m {MODULE}",
        description="Clustering aggregation as one static Slurm job holding 3 compute nodes.",
    )
    parser.add_argument(
        "--workdir", type=Path, required=True, help="shared directory for every file of the run"
    )
    parser.add_argument(
        "--submit", action="store_true", help="submit the driver with sbatch and wait for it"
    )
    parser.add_argument("--points", help="CSV of x,y rows (replaces the blobs)")
    parser.add_argument("--n-points", type=int, default=Options.n_points)
    parser.add_argument("--centers", type=int, default=Options.centers)
    parser.add_argument("--seed", type=int, default=Options.seed)
    parser.add_argument("--solver", choices=mis.SOLVERS, default=Options.solver)
    parser.add_argument(
        "--quantum-delay", type=float, default=Options.quantum_delay, metavar="SECONDS"
    )
    parser.add_argument("--threshold", type=float, default=Options.threshold)
    parser.add_argument("--max-rounds", type=int, default=Options.max_rounds)
    parser.add_argument(
        "--malleable",
        action="store_true",
        help="shrink to one node for each quantum phase, resubmit for the next round",
    )
    parser.add_argument("--first-round", type=int, default=1, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str]) -> int:
    args = vars(_parser().parse_args(argv))
    workdir, submitting = args.pop("workdir").resolve(), args.pop("submit")
    first_round = args.pop("first_round")
    if args["points"]:
        args["points"] = str(Path(args["points"]).resolve())
    options = Options(**args)
    try:
        if submitting:
            print(
                f"baseline job {submit(workdir, options)} finished; score in {workdir / 'score.json'}"
            )
        else:
            print(read_score(run(workdir, options, first_round)))
    except (BaselineError, RuntimeError, ValueError) as error:
        print(f"baseline: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
