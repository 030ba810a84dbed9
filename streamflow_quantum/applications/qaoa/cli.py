"""`sfq qaoa STEP ...`: the steps of the QAOA MaxCut workflow.

problem  (classical) -> state.json    the graph, its best known cut, the optimiser
evaluate (quantum)   -> energy.json   sample mode: one sample call at the optimiser's next point
prepare  (classical) -> qaoa-K.qpy, qaoa.observables
                                      estimate mode: the bound circuit and each edge's Z_i Z_j,
                                      for the estimator step (`sfq estimate`)
update   (classical) -> state.json    tell the optimiser, ask its next point
finish   (quantum)   -> result.json   sample the best parameters (or round, estimate mode)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qiskit import qpy

from streamflow_quantum.applications.qaoa import steps
from streamflow_quantum.applications.qaoa.maxcut import ring_of_regular
from streamflow_quantum.applications.step_files import (
    load_edge_list,
    read_json,
    run_step,
    write_json,
)


def _problem(args: argparse.Namespace) -> None:
    if args.graph:
        graph = load_edge_list(args.graph)
    else:
        graph = ring_of_regular(args.nodes, args.blocks, args.seed)
    state = steps.start(
        graph, args.reps, args.maxiter, args.seed, mode=args.mode, max_width=args.max_width
    )
    write_json(args.out, state)


def _evaluate(args: argparse.Namespace) -> None:
    write_json(args.out, steps.evaluate(read_json(args.state), args.shots))


def _prepare(args: argparse.Namespace) -> None:
    circuit, observables = steps.prepare(read_json(args.state))
    with open(circuit.name, "wb") as f:
        qpy.dump(circuit, f)
    Path(args.observables).write_text("".join(f"{o}\n" for o in observables))


def _update(args: argparse.Namespace) -> None:
    write_json(args.out, steps.update(read_json(args.state), read_json(args.energy)))


def _finish(args: argparse.Namespace) -> None:
    write_json(args.out, steps.finish(read_json(args.state), args.shots))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sfq qaoa", description="Steps of the QAOA MaxCut workflow."
    )
    commands = parser.add_subparsers(dest="step", required=True)

    problem = commands.add_parser("problem", help="build the graph and the optimiser state")
    problem.add_argument(
        "--graph", help="edge list, 'u v' per line (default: a random 3-regular graph)"
    )
    problem.add_argument(
        "--nodes", type=int, default=8, help="nodes of the random 3-regular graph (default 8)"
    )
    problem.add_argument(
        "--blocks",
        type=int,
        default=1,
        help="random 3-regular blocks the graph is made of, joined in a ring by one edge "
        "each (two for two blocks), so that cutting those edges' gates splits the circuit "
        "into blocks (default 1)",
    )
    problem.add_argument("--seed", type=int, default=7, help="graph and sampling seed (default 7)")
    problem.add_argument("--reps", type=int, default=1, help="QAOA layers (default 1)")
    problem.add_argument(
        "--maxiter", type=int, default=20, help="most energy evaluations (default 20)"
    )
    problem.add_argument(
        "--mode",
        choices=steps.MODES,
        default="sample",
        help="sample: each evaluation's mean cut from sampled bitstrings; estimate: from "
        "each edge's <Z_i Z_j> by the estimator, which cuts a circuit wider than the "
        "device or --max-width (default sample)",
    )
    problem.add_argument(
        "--max-width",
        type=int,
        help="most qubits one program may take: the estimator's cut bound, and what "
        "finish may sample (default: the device's)",
    )
    problem.add_argument("--out", default="state.json")
    problem.set_defaults(run=_problem)

    evaluate = commands.add_parser(
        "evaluate", help="sample the energy at the optimiser's next point"
    )
    evaluate.add_argument("--state", required=True)
    evaluate.add_argument("--shots", type=int, default=512)
    evaluate.add_argument("--out", default="energy.json")
    evaluate.set_defaults(run=_evaluate)

    prepare = commands.add_parser(
        "prepare",
        help="estimate mode: write the circuit at the optimiser's next point (qaoa-K.qpy) "
        "and each edge's Z_i Z_j observable",
    )
    prepare.add_argument("--state", required=True)
    prepare.add_argument("--observables", default="qaoa.observables")
    prepare.set_defaults(run=_prepare)

    update = commands.add_parser(
        "update", help="give the energy to the optimiser and ask its next point"
    )
    update.add_argument("--state", required=True)
    update.add_argument(
        "--energy",
        required=True,
        help="evaluate's energy.json (sample mode) or the estimator's results (estimate mode)",
    )
    update.add_argument("--out", default="state.json")
    update.set_defaults(run=_update)

    finish = commands.add_parser("finish", help="sample the best parameters and report the cut")
    finish.add_argument("--state", required=True)
    finish.add_argument("--shots", type=int, default=2048)
    finish.add_argument("--out", default="result.json")
    finish.set_defaults(run=_finish)
    return parser


def main(argv: list[str]) -> int:
    return run_step(_parser(), argv)
