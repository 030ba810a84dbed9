"""The steps of the QAOA MaxCut workflow, as functions on a JSON-able state.

``start`` (classical) builds the problem and the optimiser; then the loop
alternates ``evaluate`` (quantum: one ``sample`` call at the point the optimiser
asked for) and ``update`` (classical: tell the optimiser, ask the next point)
until the optimiser stops; ``finish`` (quantum) samples the best parameters.

The quantum evidence: every sampling's broker batch id is kept, and ``finish``
also samples ``RANDOM_POINTS`` random angle sets, so that the result sets the
optimised mean cut beside the random-parameter mean and uniform sampling's
(``edges / 2``).
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np

from streamflow_quantum.applications.qaoa.maxcut import best_known_cut, cut_size, maxcut_qubo
from streamflow_quantum.applications.qaoa.optimizer import SteppedMinimizer
from streamflow_quantum.applications.qubo_qaoa import (
    Sampler,
    initial_point,
    qaoa_circuit,
    ranked_samples,
    sample_points,
    uniform_mean_energy,
)
from streamflow_quantum.broker.client import sample

State = dict[str, Any]

#: Random angle sets ``finish`` samples to estimate the random-parameter mean cut.
RANDOM_POINTS = 20


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
        "batches": [],
    }


def evaluate(state: State, shots: int, sampler: Sampler = sample) -> dict[str, Any]:
    """The sampled mean energy (``-E[cut]``) at the point the optimiser asked for."""
    if state["done"]:
        raise ValueError("the optimiser has already stopped: run 'finish' on this state")
    q, circuit = _problem(state)
    sampled = sample_points(q, circuit, [np.array(state["next"])], shots, state["seed"], sampler)[0]
    return {"params": state["next"], "energy": sampled.energy, "batch": sampled.batch}


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
        "batches": [*state["batches"], evaluation["batch"]],
    }


def finish(state: State, shots: int, sampler: Sampler = sample) -> dict[str, Any]:
    """Sample the best parameters found; the best sampled cut is the answer.

    The same call samples ``RANDOM_POINTS`` random angle sets (uniform in
    ``[-π, π)``, seeded by the state's seed) for the random-parameter mean cut.
    """
    optimizer = SteppedMinimizer.from_dict(state["optimizer"])
    params, _ = optimizer.best()
    q, circuit = _problem(state)
    rng = np.random.default_rng(state["seed"])
    random_points = list(rng.uniform(-np.pi, np.pi, size=(RANDOM_POINTS, len(params))))
    final, *random = sample_points(
        q, circuit, [np.array(params), *random_points], shots, state["seed"], sampler
    )
    bits, best_energy, _ = ranked_samples(q, final.counts)[0]
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
        "mean_cut": -final.energy,
        "iterations": len(optimizer.history),
        "params": params,
        "energy_history": [value for _, value in optimizer.history],
        "random_mean_cut": -float(np.mean([r.energy for r in random])),
        "uniform_mean_cut": -uniform_mean_energy(q),
        "batches": [*state["batches"], final.batch],
    }
