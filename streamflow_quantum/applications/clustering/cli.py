"""`sfq clustering STEP ...`: the steps of the clustering-aggregation workflow.

    dataset  -> points.npz         cluster (x3) -> labels.npz      qubo -> qubo.npz
    mis      -> mis.json           score        -> clustering.csv, score.json

Each step reads and writes files, so that each can run where the workflow binds it
(a Slurm compute node, the quantum partition, the qpu deployment).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np

from streamflow_quantum.applications.clustering import METHODS, dataset, files, mis, scoring
from streamflow_quantum.applications.clustering.consensus import Candidates, mis_qubo
from streamflow_quantum.applications.step_files import read_json, run_step, write_json


def _dataset(args: argparse.Namespace) -> None:
    if args.points:
        points = dataset.read_points_csv(args.points)
    else:
        points = dataset.make_dataset(args.n_points, args.centers, args.seed)
    files.save_arrays(args.out, points=points)


def _cluster(args: argparse.Namespace) -> None:
    # Only this step needs SciPy's spatial and graph modules (0.5 s to import).
    from streamflow_quantum.applications.clustering import methods

    (points,) = files.load_arrays(args.points, "points")
    labels = methods.cluster(points, args.method, args.round)
    files.save_arrays(args.out, labels=labels, method=np.array(args.method))


def _qubo(args: argparse.Namespace) -> None:
    labelings = {}
    for path in args.labels:
        labels, method = files.load_arrays(path, "labels", "method")
        labelings[str(method)] = labels
    candidates = Candidates.from_labels(labelings)
    qubo = mis_qubo(candidates.conflicts(), candidates.sizes())
    files.save_arrays(
        args.out,
        methods=np.array(candidates.methods),
        labels=candidates.labels,
        offsets=candidates.offsets,
        qubo=qubo,
    )


def _mis(args: argparse.Namespace) -> None:
    (qubo,) = files.load_arrays(args.qubo, "qubo")
    started = time.time()
    solution = mis.solve(qubo, args.solver, seed=args.round)
    solved = time.time() - started
    time.sleep(args.quantum_delay)
    write_json(
        args.out,
        {
            "solver": args.solver,
            "selected": np.flatnonzero(solution.selection).tolist(),
            "candidates": len(qubo),
            "energy": mis.energy(qubo, solution.selection),
            "qaoa_candidates": len(mis.qaoa_candidates(qubo)) if args.solver == "qaoa" else 0,
            "solve_s": round(solved, 3),
            "quantum_delay_s": args.quantum_delay,
        }
        | solution.evidence_fields(),
    )


def _score(args: argparse.Namespace) -> None:
    if (args.best_score is None) != (args.best_clustering is None):
        raise ValueError("give both --best-score and --best-clustering, or neither")
    (points,) = files.load_arrays(args.points, "points")
    method_names, labels, offsets = files.load_arrays(args.qubo, "methods", "labels", "offsets")
    candidates = Candidates(tuple(method_names.tolist()), labels, offsets)
    selection = np.zeros(candidates.count, dtype=int)
    selection[read_json(args.mis)["selected"]] = 1
    clustering = scoring.assign(points, candidates, selection)
    best = scoring.read_score(args.best_score) if args.best_score else None
    score = scoring.next_score(
        scoring.silhouette(points, clustering),
        clustering,
        args.round,
        best,
        args.threshold,
        args.max_rounds,
    )
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if best is not None and score.best_round == best.best_round:
        if Path(args.best_clustering).resolve() != (out / "clustering.csv").resolve():
            shutil.copyfile(args.best_clustering, out / "clustering.csv")
    else:
        files.write_clustering(out / "clustering.csv", points, clustering)
    write_json(out / "score.json", score.to_json())
    if args.cwl_output:
        write_json(
            out / "cwl.output.json",
            {
                "clustering": {"class": "File", "path": str((out / "clustering.csv").resolve())},
                "score": {"class": "File", "path": str((out / "score.json").resolve())},
                "done": score.done,
                "more": not score.done,
                "next_round": args.round + 1,
            },
        )
    print(
        f"round {args.round}: silhouette {score.silhouette:.4f} (best round {score.best_round}), done={score.done}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sfq clustering", description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)

    step = steps.add_parser("dataset", help="the papers' blobs, or a CSV of x,y rows")
    step.add_argument("--points", help="CSV of x,y rows (replaces the blobs)")
    step.add_argument("--n-points", type=int, default=dataset.N_POINTS)
    step.add_argument("--centers", type=int, default=dataset.CENTERS)
    step.add_argument("--seed", type=int, default=dataset.SEED, help="make_blobs random_state")
    step.add_argument("--out", default="points.npz")
    step.set_defaults(run=_dataset)

    step = steps.add_parser("cluster", help="one clustering method of one round")
    step.add_argument("--method", choices=METHODS, required=True)
    step.add_argument("--round", type=int, required=True, help="seeds the round's parameters")
    step.add_argument("--points", default="points.npz")
    step.add_argument("--out", default="labels.npz")
    step.set_defaults(run=_cluster)

    step = steps.add_parser("qubo", help="candidates and the weighted-MIS QUBO of their conflicts")
    step.add_argument("--labels", nargs="+", required=True, help="labels.npz of each method")
    step.add_argument("--out", default="qubo.npz")
    step.set_defaults(run=_qubo)

    step = steps.add_parser("mis", help="solve the QUBO: simulated annealing or QAOA on the QPU")
    step.add_argument("--qubo", default="qubo.npz")
    step.add_argument("--solver", choices=mis.SOLVERS, default="sa")
    step.add_argument("--round", type=int, required=True, help="seeds the solver")
    step.add_argument(
        "--quantum-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="sleep to emulate a long QPU job",
    )
    step.add_argument("--out", default="mis.json")
    step.set_defaults(run=_mis)

    step = steps.add_parser("score", help="assign points, score them, keep the best clustering")
    step.add_argument("--points", default="points.npz")
    step.add_argument("--qubo", default="qubo.npz")
    step.add_argument("--mis", default="mis.json")
    step.add_argument("--round", type=int, required=True)
    step.add_argument("--best-score", help="score.json of the best clustering so far")
    step.add_argument("--best-clustering", help="clustering.csv of the best clustering so far")
    step.add_argument("--threshold", type=float, default=scoring.THRESHOLD)
    step.add_argument("--max-rounds", type=int, default=scoring.MAX_ROUNDS)
    step.add_argument("--out-dir", default=".")
    step.add_argument(
        "--cwl-output",
        action="store_true",
        help="also write the step's CWL outputs (cwl.output.json): the loop then needs no"
        " JavaScript, whose engine starts in about 0.25 s on the critical path of a round",
    )
    step.set_defaults(run=_score)
    return parser


def main(argv: list[str]) -> int:
    return run_step(_parser(), argv)
