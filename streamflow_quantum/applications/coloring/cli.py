"""`sfq coloring STEP ...`: the steps of the graph-colouring (BBQ-MIS) workflow.

    init   (classical) -> state.json, node-*.json, coloring.json   root and first layer
    mis    (quantum)   -> mis.json       sampled independent sets of one node's subgraph
    branch (classical) -> state.json, node-*.json, coloring.json   children, bounds, next layer
    solve              -> coloring.json  the whole search in one process

Each ``node-*.json`` of a layer is one concurrent ``mis`` step; the layer is empty
once the search is over, and ``coloring.json`` always holds a proper colouring.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import networkx as nx

from streamflow_quantum.applications.coloring.mis import (
    MisSample,
    MisSolver,
    annealing_mis,
    qaoa_mis,
)
from streamflow_quantum.applications.coloring.search import ColoringSearch
from streamflow_quantum.applications.qubo_qaoa import Sampler
from streamflow_quantum.applications.step_files import (
    load_edge_list,
    read_json,
    run_step,
    write_json,
)
from streamflow_quantum.broker.client import sample


def _mis_solver(args: argparse.Namespace) -> MisSolver:
    if args.solver == "annealing":
        return lambda graph: annealing_mis(graph, seed=args.seed)
    return lambda graph: qaoa_mis(
        graph, args.reps, args.maxiter, args.shots, args.seed, args.sampler
    )


def _advance(search: ColoringSearch, out: Path) -> None:
    """Hand out the next layer and write everything the next steps read."""
    out.mkdir(parents=True, exist_ok=True)
    for node in search.next_layer():
        subgraph = search.subgraph(node)
        write_json(
            out / f"node-{node.id}.json",
            {
                "id": node.id,
                "vertices": node.remaining,
                "edges": [list(e) for e in subgraph.edges()],
            },
        )
    write_json(out / "state.json", search.to_dict())
    write_json(out / "coloring.json", search.result())


def _start(args: argparse.Namespace) -> ColoringSearch:
    return ColoringSearch.start(
        load_edge_list(args.graph), args.max_nodes, args.width, greedy=not args.no_greedy
    )


def _init(args: argparse.Namespace) -> None:
    _advance(_start(args), Path(args.out_dir))


def _mis(args: argparse.Namespace) -> None:
    node = read_json(args.node)
    graph = nx.Graph()
    graph.add_nodes_from(node["vertices"])
    graph.add_edges_from(node["edges"])
    found = _mis_solver(args)(graph)
    write_json(args.out, {"id": node["id"], "solver": args.solver} | found.to_dict())


def _branch(args: argparse.Namespace) -> None:
    search = ColoringSearch.from_dict(read_json(args.state))
    for path in args.mis:
        found = read_json(path)
        search.expand(found["id"], MisSample.from_dict(found))
    _advance(search, Path(args.out_dir))


def _solve(args: argparse.Namespace) -> None:
    search = _start(args)
    solver = _mis_solver(args)
    while not search.done:
        for node in search.next_layer():
            search.expand(node.id, solver(search.subgraph(node)))
    write_json(args.out, search.result())


def _add_search_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--graph", required=True, help="edge list, 'u v' per line")
    parser.add_argument(
        "--max-nodes", type=int, default=20, help="most search nodes to branch on (default 20)"
    )
    parser.add_argument(
        "--width",
        type=int,
        default=4,
        help="most nodes per layer, i.e. concurrent MIS steps (default 4)",
    )
    parser.add_argument(
        "--no-greedy",
        action="store_true",
        help="no greedy incumbent: every colouring comes from the MIS steps",
    )


def _add_mis_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--solver",
        choices=["qaoa", "annealing"],
        default="qaoa",
        help="qaoa on the QPU (default) or simulated annealing",
    )
    parser.add_argument("--reps", type=int, default=1, help="QAOA layers (default 1)")
    parser.add_argument(
        "--maxiter", type=int, default=20, help="most QAOA energy evaluations (default 20)"
    )
    parser.add_argument("--shots", type=int, default=256, help="shots per evaluation (default 256)")
    parser.add_argument("--seed", type=int, help="sampling seed")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sfq coloring", description="Steps of the BBQ-MIS graph-colouring workflow."
    )
    commands = parser.add_subparsers(dest="step", required=True)

    init = commands.add_parser(
        "init", help="bound the root, take the greedy incumbent, hand out the first layer"
    )
    _add_search_options(init)
    init.add_argument("--out-dir", default=".")
    init.set_defaults(run=_init)

    mis = commands.add_parser(
        "mis", help="sample maximal independent sets of one search node's subgraph"
    )
    mis.add_argument("--node", required=True, help="a node-*.json written by init or branch")
    _add_mis_options(mis)
    mis.add_argument("--out", default="mis.json")
    mis.set_defaults(run=_mis)

    branch = commands.add_parser(
        "branch", help="branch on the layer's MIS results and hand out the next layer"
    )
    branch.add_argument("--state", required=True)
    branch.add_argument("mis", nargs="*", help="mis.json files of the current layer")
    branch.add_argument("--out-dir", default=".")
    branch.set_defaults(run=_branch)

    solve = commands.add_parser("solve", help="run the whole search in this process")
    _add_search_options(solve)
    _add_mis_options(solve)
    solve.add_argument("--out", default="coloring.json")
    solve.set_defaults(run=_solve)
    return parser


def main(argv: list[str], sampler: Sampler = sample) -> int:
    """Run one step; its QAOA circuits go to ``sampler`` (the broker client by default)."""
    parser = _parser()
    parser.set_defaults(sampler=sampler)
    return run_step(parser, argv)
