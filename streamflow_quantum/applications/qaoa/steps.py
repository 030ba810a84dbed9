"""The steps of the QAOA MaxCut workflow, as functions on a JSON-able state.

``start`` (classical) builds the problem and the optimiser; then the loop
alternates an evaluation at the point the optimiser asked for and ``update``
(classical: tell the optimiser, ask the next point) until the optimiser stops;
``finish`` (quantum) turns the best parameters into a cut.

An evaluation is, in ``sample`` mode, ``evaluate`` (one ``sample`` call: the
mean cut of the sampled bitstrings); in ``estimate`` mode, ``prepare`` (the bound
circuit and one ``Z_i Z_j`` observable per edge) then the estimator step, which
cuts a circuit wider than the device or ``max_width``
(:mod:`~streamflow_quantum.applications.qaoa.estimate`).

The quantum evidence: every broker batch id is kept, and a sampling ``finish``
also samples ``RANDOM_POINTS`` random angle sets, so that the result sets the
optimised mean cut beside the random-parameter mean and uniform sampling's
(``edges / 2``).
"""

from __future__ import annotations

import os
from typing import Any

import networkx as nx
import numpy as np
from qiskit import QuantumCircuit

from streamflow_quantum.applications.qaoa.estimate import (
    estimated_record,
    expected_cut,
    rounded_cut,
    zz_observables,
)
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
from streamflow_quantum.broker import protocol
from streamflow_quantum.broker.client import broker_info, sample

State = dict[str, Any]

MODES = ("sample", "estimate")

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


def start(
    graph: nx.Graph,
    reps: int,
    maxiter: int,
    seed: int | None,
    tol: float = 0.02,
    mode: str = "sample",
    max_width: int | None = None,
) -> State:
    """The initial state; COBYLA stops when its trust radius falls below ``tol`` or after
    ``maxiter`` evaluations. ``max_width``: the most qubits one program may take (default:
    the device's), the estimator's cut bound and what ``finish`` may sample."""
    if reps < 1 or maxiter < 1:
        raise ValueError("reps and maxiter must be at least 1")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if max_width is not None and max_width < 1:
        raise ValueError(f"max_width must be at least 1, not {max_width}")
    best, method = best_known_cut(graph)
    optimizer = SteppedMinimizer(
        list(initial_point(reps)), "COBYLA", {"maxiter": maxiter, "rhobeg": 0.3, "tol": tol}
    )
    first = optimizer.ask()
    if first is None:
        raise ValueError(f"{optimizer.method} stopped before its first evaluation")
    estimating: State = {"cutting": [], "correlations": None} if mode == "estimate" else {}
    return estimating | {
        "graph": {"nodes": sorted(graph), "edges": sorted(sorted(e) for e in graph.edges())},
        "mode": mode,
        "max_width": max_width,
        "reps": reps,
        "seed": seed,
        "best_known": best,
        "best_known_method": method,
        "optimizer": optimizer.to_dict(),
        "next": list(first),
        "done": False,
        "batches": [],
    }


def _next_point(state: State, mode: str) -> np.ndarray:
    if state["done"]:
        raise ValueError("the optimiser has already stopped: run 'finish' on this state")
    if state["mode"] != mode:
        raise ValueError(f"this state is in {state['mode']} mode, not {mode} mode")
    return np.array(state["next"])


def evaluate(state: State, shots: int, sampler: Sampler = sample) -> dict[str, Any]:
    """The sampled mean energy (``-E[cut]``) at the point the optimiser asked for."""
    _next_point(state, "sample")
    q, circuit = _problem(state)
    sampled = sample_points(q, circuit, [np.array(state["next"])], shots, state["seed"], sampler)[0]
    return {"params": state["next"], "energy": sampled.energy, "batch": sampled.batch}


def circuit_name(state: State) -> str:
    """The file name of the next evaluation's circuit: the estimates say which they are of."""
    return f"qaoa-{len(state['optimizer']['history'])}.qpy"


def prepare(state: State) -> tuple[QuantumCircuit, list[str]]:
    """The circuit bound at the optimiser's next point, and the ``Z_i Z_j`` of each edge."""
    point = _next_point(state, "estimate")
    _, circuit = _problem(state)
    bound = circuit.assign_parameters(point)
    bound.name = circuit_name(state)
    return bound, zz_observables(state["graph"]["nodes"], state["graph"]["edges"])


def _estimated(state: State, estimates: dict[str, Any]) -> State:
    """The state's estimate-mode records after the estimator's result for the next point."""
    observables = zz_observables(state["graph"]["nodes"], state["graph"]["edges"])
    record = estimated_record(estimates, circuit_name(state), observables)
    energy = -expected_cut(record["values"])
    previous = [value for _, value in state["optimizer"]["history"]]
    cutting = {
        "energy": energy,
        # The ZZ estimates share subexperiments, so their errors correlate: the sum of
        # their standard errors bounds the energy's (std(ΣX) <= Σ std(X)).
        "energy_error_bound": sum(record["std_errors"]) / 2,
        "cuts": len(record["cuts"]),
        "subexperiments": record["subexperiments"],
        "programs": record["programs"],
        "sampling_overhead": record["sampling_overhead"],
        "batches": record["batches"],
        "jobs": len(record["jobs"]),
    }
    best = not previous or energy < min(previous)
    return {
        "cutting": [*state["cutting"], cutting],
        "correlations": record["values"] if best else state["correlations"],
    }


def update(state: State, evaluation: dict[str, Any]) -> State:
    """Tell the optimiser the evaluation and ask for its next point.

    ``evaluation``: ``evaluate``'s output in sample mode, the estimator's in estimate mode.
    """
    if state["mode"] == "estimate":
        estimated = _estimated(state, evaluation)
        latest = estimated["cutting"][-1]
        evaluation = {"params": state["next"], "energy": latest["energy"]}
        batches = latest["batches"]
    else:
        estimated, batches = {}, [evaluation["batch"]]
    if evaluation["params"] != state["next"]:
        raise ValueError(
            "this evaluation is not of the state's next point: pass the matching state and energy files"
        )
    optimizer = SteppedMinimizer.from_dict(state["optimizer"])
    optimizer.tell(evaluation["params"], evaluation["energy"])
    following = optimizer.ask()
    return (
        state
        | estimated
        | {
            "optimizer": optimizer.to_dict(),
            "next": None if following is None else list(following),
            "done": following is None,
            "batches": [*state["batches"], *batches],
        }
    )


def _width(state: State) -> int:
    """The most qubits one program may take: ``max_width``, else the device's."""
    if state["max_width"] is not None:
        return int(state["max_width"])
    if os.environ.get(protocol.ENV_URL):
        return int(broker_info()["qubits"])
    from streamflow_quantum.broker.factory import build_broker
    from streamflow_quantum.broker.settings import broker_schema
    from streamflow_quantum.core.config import from_environment

    return build_broker(from_environment(os.environ, broker_schema())).backend.num_qubits


def _cut_report(state: State, side: dict[int, int]) -> dict[str, Any]:
    nodes = state["graph"]["nodes"]
    cut = cut_size(_graph(state), side)
    return {
        "cut": [[n for n in nodes if side[n] == part] for part in (0, 1)],
        "cut_value": cut,
        "best_known": state["best_known"],
        "best_known_method": state["best_known_method"],
        "approximation_ratio": cut / state["best_known"],
    }


def finish(state: State, shots: int, sampler: Sampler = sample) -> dict[str, Any]:
    """Turn the best parameters found into a cut.

    A circuit that fits the device (or ``max_width``) is sampled, and the best sampled
    cut is the answer; the same call samples ``RANDOM_POINTS`` random angle sets
    (uniform in ``[-π, π)``, seeded by the state's seed) for the random-parameter mean
    cut. In estimate mode a wider circuit cannot be sampled (cutting gives expectation
    values, not bitstrings): the answer is rounded from the best evaluation's
    ``⟨Z_i Z_j⟩`` (:func:`~streamflow_quantum.applications.qaoa.estimate.rounded_cut`).
    """
    optimizer = SteppedMinimizer.from_dict(state["optimizer"])
    params, energy = optimizer.best()
    q, circuit = _problem(state)
    report: dict[str, Any] = {
        "mode": state["mode"],
        "iterations": len(optimizer.history),
        "params": params,
        "energy_history": [value for _, value in optimizer.history],
        "uniform_mean_cut": -uniform_mean_energy(q),
    }
    if state["mode"] == "estimate":
        report |= {"estimated_mean_cut": -energy, "cutting": state["cutting"]}
        if circuit.num_qubits > _width(state):
            edges = map(tuple, state["graph"]["edges"])
            correlations = dict(zip(edges, state["correlations"], strict=True))
            side, seeded = rounded_cut(_graph(state), correlations, state["seed"])
            return (
                report
                | _cut_report(state, side)
                | {"answer": "rounded", "seed_cut_value": seeded, "batches": state["batches"]}
            )
    rng = np.random.default_rng(state["seed"])
    random_points = list(rng.uniform(-np.pi, np.pi, size=(RANDOM_POINTS, len(params))))
    final, *random = sample_points(
        q, circuit, [np.array(params), *random_points], shots, state["seed"], sampler
    )
    bits, best_energy, _ = ranked_samples(q, final.counts)[0]
    side = dict(zip(state["graph"]["nodes"], map(int, bits), strict=True))
    cut = _cut_report(state, side)
    assert cut["cut_value"] == -best_energy, "the MaxCut QUBO disagrees with the graph"
    return (
        report
        | cut
        | {
            "answer": "sampled",
            "mean_cut": -final.energy,
            "random_mean_cut": -float(np.mean([r.energy for r in random])),
            "batches": [*state["batches"], final.batch],
        }
    )
