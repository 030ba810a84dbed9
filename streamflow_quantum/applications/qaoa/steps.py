"""The steps of the QAOA MaxCut workflow, as functions on a JSON-able state.

``start`` (classical) builds the problem and the optimiser; then the loop
alternates ``evaluate`` (quantum: one ``sample`` call at the point the optimiser
asked for) and ``update`` (classical: tell the optimiser, ask the next point)
until the optimiser stops; ``finish`` (quantum) samples the best parameters.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np

from streamflow_quantum.applications.qaoa.maxcut import best_known_cut, cut_size, maxcut_qubo
from streamflow_quantum.applications.qaoa.optimizer import SteppedMinimizer
from streamflow_quantum.applications.qubo_qaoa import (
    initial_point,
    qaoa_circuit,
    ranked_samples,
    sample_points,
)

State = dict[str, Any]


def _graph(state: State) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(state["graph"]["nodes"])
    graph.add_edges_from(state["graph"]["edges"])
    return graph


def _problem(state: State) -> tuple[np.ndarray, Any]:
    q = maxcut_qubo(_graph(state))
    return q, qaoa_circuit(q, state["reps"])


def start(graph: nx.Graph, reps: int, maxiter: int, seed: int | None, tol: float = 0.02) -> State:
    """The initial state; COBYLA stops when its trust radius falls below ``tol`` or after ``maxiter`` evaluations."""
    if reps < 1 or maxiter < 1:
        raise ValueError("reps and maxiter must be at least 1")
    best, method = best_known_cut(graph)
    optimizer = SteppedMinimizer(
        list(initial_point(reps)), "COBYLA", {"maxiter": maxiter, "rhobeg": 0.3, "tol": tol}
    )
    first = optimizer.ask()
    if first is None:
        raise ValueError(f"{optimizer.method} stopped before its first evaluation")
    return {
        "graph": {"nodes": sorted(graph), "edges": sorted(sorted(e) for e in graph.edges())},
        "reps": reps,
        "seed": seed,
        "best_known": best,
        "best_known_method": method,
        "optimizer": optimizer.to_dict(),
        "next": list(first),
        "done": False,
    }


def evaluate(state: State, shots: int) -> dict[str, Any]:
    """The sampled mean energy (``-E[cut]``) at the point the optimiser asked for."""
    if state["done"]:
        raise ValueError("the optimiser has already stopped: run 'finish' on this state")
    q, circuit = _problem(state)
    energy, _ = sample_points(q, circuit, [np.array(state["next"])], shots, state["seed"])[0]
    return {"params": state["next"], "energy": energy}


def update(state: State, evaluation: dict[str, Any]) -> State:
    """Tell the optimiser the evaluation and ask for its next point."""
    if evaluation["params"] != state["next"]:
        raise ValueError(
            "this evaluation is not of the state's next point: pass the matching state and energy files"
        )
    optimizer = SteppedMinimizer.from_dict(state["optimizer"])
    optimizer.tell(evaluation["params"], evaluation["energy"])
    following = optimizer.ask()
    return state | {
        "optimizer": optimizer.to_dict(),
        "next": None if following is None else list(following),
        "done": following is None,
    }


def finish(state: State, shots: int) -> dict[str, Any]:
    """Sample the best parameters found; the best sampled cut is the answer."""
    optimizer = SteppedMinimizer.from_dict(state["optimizer"])
    params, _ = optimizer.best()
    q, circuit = _problem(state)
    energy, counts = sample_points(q, circuit, [np.array(params)], shots, state["seed"])[0]
    bits, best_energy, _ = ranked_samples(q, counts)[0]
    nodes = state["graph"]["nodes"]
    side = dict(zip(nodes, map(int, bits), strict=True))
    cut = cut_size(_graph(state), side)
    assert cut == -best_energy, "the MaxCut QUBO disagrees with the graph"
    return {
        "cut": [[n for n in nodes if side[n] == part] for part in (0, 1)],
        "cut_value": cut,
        "best_known": state["best_known"],
        "best_known_method": state["best_known_method"],
        "approximation_ratio": cut / state["best_known"],
        "mean_cut": -energy,
        "iterations": len(optimizer.history),
        "params": params,
        "energy_history": [value for _, value in optimizer.history],
    }
