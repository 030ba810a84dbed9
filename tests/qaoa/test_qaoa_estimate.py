"""The QAOA workflow's estimate mode: ⟨C⟩ from each edge's ⟨Z_i Z_j⟩ by the estimator, which
cuts a circuit wider than ``max_width``, and a cut rounded from the correlations when the
final circuit is too wide to sample."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from qiskit.quantum_info import SparsePauliOp, Statevector

from streamflow_quantum.applications.qaoa import steps
from streamflow_quantum.applications.qaoa.estimate import (
    expected_cut,
    rounded_cut,
    zz_observables,
)
from streamflow_quantum.applications.qaoa.maxcut import cut_size, maxcut_qubo, ring_of_regular
from streamflow_quantum.applications.qubo_qaoa import bits_of, energies
from streamflow_quantum.broker.cutting import parse_observables
from tests.cutting.test_estimate import estimate
from tests.workflow_runs import run_streamflow


def exact_correlations(state: steps.State) -> list[float]:
    """Each edge's exact ⟨Z_i Z_j⟩ at the state's next point."""
    circuit, observables = steps.prepare(state)
    vector = Statevector(circuit.remove_final_measurements(inplace=False))
    return [float(np.real(vector.expectation_value(SparsePauliOp(o)))) for o in observables]


@pytest.mark.parametrize(("nodes", "blocks"), [(40, 2), (40, 4), (12, 3)])
def test_a_ring_of_regular_blocks_is_regular_and_joined_by_few_edges(
    nodes: int, blocks: int
) -> None:
    graph = ring_of_regular(nodes, blocks, seed=7)
    size = nodes // blocks
    joining = [(u, v) for u, v in graph.edges() if u // size != v // size]
    assert sorted(graph) == list(range(nodes))
    assert {d for _, d in graph.degree()} == {3}
    assert nx.is_connected(graph)
    assert len(joining) == blocks


def test_the_edges_correlations_give_the_same_mean_cut_as_the_sampled_qubo() -> None:
    """Qubit order and signs of the ZZ observables agree with the QUBO's bitstrings."""
    graph = ring_of_regular(8, 2, seed=7)
    state = steps.start(graph, reps=1, maxiter=5, seed=7, mode="estimate")
    circuit, _ = steps.prepare(state)
    probabilities = Statevector(
        circuit.remove_final_measurements(inplace=False)
    ).probabilities_dict()
    bits = bits_of(list(probabilities))
    mean_energy = float(np.array(list(probabilities.values())) @ energies(maxcut_qubo(graph), bits))
    assert expected_cut(exact_correlations(state)) == pytest.approx(-mean_energy)
    assert mean_energy < -graph.number_of_edges() / 2  # QAOA's start beats uniform sampling


def test_rounding_honours_decided_correlations_then_searches_locally() -> None:
    cube = nx.hypercube_graph(3)  # bipartite: every edge can be cut
    cube = nx.convert_node_labels_to_integers(cube)
    side, seeded = rounded_cut(cube, dict.fromkeys(cube.edges(), -0.4), seed=0)
    assert seeded == cut_size(cube, side) == 12
    # Correlations saying "same side" everywhere seed the empty cut; local search repairs it.
    petersen = nx.petersen_graph()
    side, seeded = rounded_cut(petersen, dict.fromkeys(petersen.edges(), 0.5), seed=0)
    assert seeded == 0
    assert cut_size(petersen, side) >= 11  # one-exchange optimum; the maximum is 12


def test_an_estimate_mode_evaluation_cuts_and_matches_the_exact_expected_cut() -> None:
    graph = ring_of_regular(8, 2, seed=7)
    state = steps.start(graph, reps=1, maxiter=5, seed=7, mode="estimate", max_width=4)
    circuit, observables = steps.prepare(state)
    record = asyncio.run(
        estimate(circuit, parse_observables("\n".join(observables)), shots=512, max_width=4, seed=1)
    )
    updated = steps.update(state, {"results": [record]})
    (evaluation,) = updated["cutting"]
    assert evaluation["cuts"] == 2 and evaluation["subexperiments"] > 0
    exact = -expected_cut(exact_correlations(state))
    assert abs(evaluation["energy"] - exact) <= 3 * evaluation["energy_error_bound"]
    assert updated["optimizer"]["history"][0][1] == evaluation["energy"]
    assert updated["correlations"] == record["values"]
    assert updated["batches"] == record["batches"]
    # The next evaluation's circuit has another name: these estimates are not of it.
    with pytest.raises(ValueError, match="not of the state's next circuit"):
        steps.update(updated, {"results": [record]})


def test_estimate_mode_refuses_the_sample_steps() -> None:
    state = steps.start(ring_of_regular(8, 2, seed=7), 1, 5, 7, mode="estimate")
    with pytest.raises(ValueError, match="estimate mode, not sample mode"):
        steps.evaluate(state, shots=16)


#: Wider than max_width: 12 nodes (two 6-node blocks joined by two edges) in pieces of 6.
WIDE = {"nodes": 12, "blocks": 2, "mode": "estimate", "max_width": 6, "maxiter": 4}


@pytest.mark.slow
def test_estimate_mode_under_streamflow_cuts_every_evaluation_and_rounds_a_good_cut(
    tmp_path: Path,
) -> None:
    out = run_streamflow("qaoa", tmp_path, WIDE | {"shots": 256, "seed": 7}, "streamflow-wide.yml")
    result: dict[str, Any] = json.loads((out / "result.json").read_text())
    graph = ring_of_regular(12, 2, seed=7)
    assert result["mode"] == "estimate" and result["answer"] == "rounded"
    assert result["best_known_method"] == "brute-force"
    assert result["approximation_ratio"] >= 0.7
    side = dict.fromkeys(result["cut"][0], 0) | dict.fromkeys(result["cut"][1], 1)
    assert cut_size(graph, side) == result["cut_value"] >= result["seed_cut_value"]
    assert 1 <= result["iterations"] == len(result["cutting"]) <= 4
    for evaluation in result["cutting"]:
        assert evaluation["cuts"] == 2  # the two joining edges' gates
        # Subexperiments share backend jobs: the packer placed them side by side.
        assert 0 < evaluation["jobs"] < evaluation["subexperiments"]
    first = steps.start(graph, 1, 4, 7, mode="estimate", max_width=6)
    exact = -expected_cut(exact_correlations(first))
    assert (
        abs(result["cutting"][0]["energy"] - exact)
        <= 3 * result["cutting"][0]["energy_error_bound"]
    )
    margin = 0.1 * graph.number_of_edges()
    assert result["estimated_mean_cut"] >= result["uniform_mean_cut"] + margin


def test_zz_observables_put_node_i_on_qubit_i() -> None:
    assert zz_observables([3, 5, 9], [[3, 9], [5, 9]]) == ["ZIZ", "ZZI"]
