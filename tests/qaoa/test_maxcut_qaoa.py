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
from streamflow_quantum.applications.qubo_qaoa import energies


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


def test_qaoa_on_a_3_regular_graph_beats_random_cuts_and_lowers_its_energy() -> None:
    graph = random_regular(8, seed=3)
    state = steps.start(graph, reps=1, maxiter=20, seed=7)
    while not state["done"]:
        state = json.loads(json.dumps(steps.update(state, steps.evaluate(state, shots=256))))
    result = steps.finish(state, shots=1024)

    random_expected_cut = graph.number_of_edges() / 2
    assert result["mean_cut"] > random_expected_cut + 1
    assert result["cut_value"] > random_expected_cut
    history = result["energy_history"]
    assert 2 <= result["iterations"] == len(history) <= 20
    assert min(history[1:]) < history[0]
    assert result["mean_cut"] > -history[0]
    side = dict.fromkeys(result["cut"][0], 0) | dict.fromkeys(result["cut"][1], 1)
    assert cut_size(graph, side) == result["cut_value"] <= result["best_known"]
    assert result["approximation_ratio"] == result["cut_value"] / result["best_known"]
