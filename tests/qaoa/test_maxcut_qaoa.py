from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
from scipy.optimize import minimize

from streamflow_quantum.applications.qaoa import steps
from streamflow_quantum.applications.qaoa.maxcut import (
    best_known_cut,
    cut_size,
    maxcut_qubo,
    random_regular,
)
from streamflow_quantum.applications.qaoa.optimizer import SteppedMinimizer
from streamflow_quantum.applications.qubo_qaoa import Sampler, energies
from streamflow_quantum.broker.client import sample
from tests.qaoa.samplers import BROKEN


def bumpy(x: np.ndarray) -> float:
    return float(np.sin(3 * x[0]) + (x[1] - 0.3) ** 2 + 0.1 * x[0] ** 2)


@pytest.mark.parametrize("method", ["COBYLA", "Nelder-Mead"])
def test_stepped_minimizer_requests_the_same_points_as_scipy(method: str) -> None:
    requested: list[np.ndarray] = []
    direct = minimize(
        lambda x: requested.append(x.copy()) or bumpy(x),
        [0.5, 0.5],
        method=method,
        options={"maxiter": 30},
    )
    stepped = SteppedMinimizer([0.5, 0.5], method, {"maxiter": 30})
    asked = 0
    while (x := stepped.ask()) is not None:
        np.testing.assert_array_equal(x, requested[asked])
        asked += 1
        stepped.tell(x, bumpy(x))
        stepped = SteppedMinimizer.from_dict(json.loads(json.dumps(stepped.to_dict())))
    assert asked == len(requested)
    assert stepped.best()[1] == pytest.approx(direct.fun)


def test_stepped_minimizer_rejects_a_history_that_does_not_replay() -> None:
    stepped = SteppedMinimizer([0.5, 0.5])
    stepped.tell([9.0, 9.0], 1.0)
    with pytest.raises(ValueError, match="does not replay"):
        stepped.ask()


def test_maxcut_qubo_energy_is_minus_the_cut() -> None:
    graph = random_regular(6, seed=2)
    q = maxcut_qubo(graph)
    for code in range(2**6):
        bits = np.array([(code >> i) & 1 for i in range(6)])
        assert energies(q, bits[None, :])[0] == -cut_size(graph, dict(enumerate(bits)))


@pytest.mark.parametrize(
    ("graph", "best"),
    [
        (nx.complete_graph(4), 4),
        (nx.cycle_graph(5), 4),
        (nx.petersen_graph(), 12),
        (nx.complete_bipartite_graph(3, 4), 12),
    ],
)
def test_best_known_cut_is_exact_on_known_graphs(graph: nx.Graph, best: int) -> None:
    assert best_known_cut(graph) == (best, "brute-force")


#: How far the optimised mean cut must beat both the random-parameter mean cut
#: (20 random angle sets, same sampler) and uniform sampling's (edges / 2), as a
#: share of the edges. QAOA p=1 on 3-regular graphs reaches about 0.69 x edges,
#: 0.19 x edges above uniform; noise scores 0.
MARGIN_PER_EDGE = 0.1


def assert_quantum_evidence(result: dict, graph: nx.Graph) -> None:
    """Each sampling has its batch, and the optimised state's cut beats random angles and noise."""
    assert len(set(result["batches"])) == result["iterations"] + 1
    margin = MARGIN_PER_EDGE * graph.number_of_edges()
    assert result["uniform_mean_cut"] == graph.number_of_edges() / 2
    assert result["mean_cut"] >= result["random_mean_cut"] + margin
    assert result["mean_cut"] >= result["uniform_mean_cut"] + margin


def run_steps(graph: nx.Graph, sampler: Sampler) -> dict:
    state = steps.start(graph, reps=1, maxiter=20, seed=7)
    while not state["done"]:
        evaluation = steps.evaluate(state, shots=256, sampler=sampler)
        state = json.loads(json.dumps(steps.update(state, evaluation)))
    return steps.finish(state, shots=1024, sampler=sampler)


def test_qaoa_on_a_3_regular_graph_beats_random_parameters_and_uniform_sampling() -> None:
    graph = random_regular(8, seed=3)
    result = run_steps(graph, sample)
    assert_quantum_evidence(result, graph)
    history = result["energy_history"]
    assert 2 <= result["iterations"] == len(history) <= 20
    assert min(history[1:]) < history[0]
    side = dict.fromkeys(result["cut"][0], 0) | dict.fromkeys(result["cut"][1], 1)
    assert cut_size(graph, side) == result["cut_value"] <= result["best_known"]


@pytest.mark.parametrize("broken", BROKEN.values(), ids=BROKEN.keys())
def test_the_evidence_fails_when_the_sampler_is_broken(broken: Sampler) -> None:
    graph = random_regular(8, seed=3)
    with pytest.raises((AssertionError, ValueError)):
        assert_quantum_evidence(run_steps(graph, broken), graph)
