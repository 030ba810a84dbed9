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
import yaml
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector

from streamflow_quantum.applications.qaoa import steps
from streamflow_quantum.applications.qaoa.estimate import (
    expected_cut,
    rounded_cut,
    zz_observables,
)
from streamflow_quantum.applications.qaoa.maxcut import cut_size, maxcut_qubo, ring_of_regular
from streamflow_quantum.applications.qubo_qaoa import bits_of, energies
from streamflow_quantum.broker import cutting
from streamflow_quantum.broker.cutting import parse_observables
from streamflow_quantum.core.model import Program
from tests.conftest import REPO
from tests.cutting.test_estimate import assert_agrees, assert_factored_is_the_librarys, estimate
from tests.workflow_runs import run_streamflow


def exact_correlations(state: steps.State) -> list[float]:
    """Each edge's exact ⟨Z_i Z_j⟩ at the state's next point."""
    circuit, observables = steps.prepare(state)
    vector = Statevector(circuit.remove_final_measurements(inplace=False))
    return [float(np.real(vector.expectation_value(SparsePauliOp(o)))) for o in observables]


def light_cone_correlations(state: steps.State) -> list[float]:
    """Each edge's exact ⟨Z_i Z_j⟩ at p=1, at any graph size: the phase gates of edges
    that touch neither end commute with the observable and cancel, so the circuit on the
    ends and their neighbours, with only the ends' edges' gates, gives the same value."""
    circuit, observables = steps.prepare(state)
    bare = circuit.remove_final_measurements(inplace=False)
    graph = nx.Graph(state["graph"]["edges"])
    values = []
    for (u, v), pauli in zip(state["graph"]["edges"], observables, strict=True):
        around = sorted({u, v} | set(graph[u]) | set(graph[v]))
        index = {q: i for i, q in enumerate(around)}
        cone = QuantumCircuit(len(around))
        for instruction in bare.data:
            qubits = [bare.find_bit(q).index for q in instruction.qubits]
            if len(qubits) == 1 and qubits[0] in index or {u, v} & set(qubits):
                cone.append(instruction.operation, [index[q] for q in qubits])
        zz = "".join("Z" if q in (u, v) else "I" for q in reversed(around))
        values.append(float(np.real(Statevector(cone).expectation_value(SparsePauliOp(zz)))))
        assert pauli.count("Z") == 2 and pauli[-1 - u] == pauli[-1 - v] == "Z"
    return values


def test_light_cones_give_the_exact_correlations() -> None:
    state = steps.start(ring_of_regular(12, 2, seed=7), 1, 5, 7, mode="estimate")
    assert light_cone_correlations(state) == pytest.approx(exact_correlations(state), abs=1e-9)


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
    assert evaluation["cuts"] == 2 and evaluation["subexperiments"] > evaluation["programs"] > 0
    exact = -expected_cut(exact_correlations(state))
    assert abs(evaluation["energy"] - exact) <= 3 * evaluation["energy_error_bound"]
    assert updated["optimizer"]["history"][0][1] == evaluation["energy"]
    assert updated["correlations"] == record["values"]
    assert updated["batches"] == record["batches"]
    # The next evaluation's circuit has another name: these estimates are not of it.
    with pytest.raises(ValueError, match="not of the state's next circuit"):
        steps.update(updated, {"results": [record]})


async def test_a_ring_of_pieces_runs_each_distinct_subexperiment_once() -> None:
    """Three 4-node blocks in a ring, pieces of 4: 3 cuts give 6^3 terms x 3 pieces = 648
    subexperiments, but a piece's circuit depends only on its own two cuts' terms (5
    distinct each): 25 programs per piece run, and the values match the statevector."""
    state = steps.start(ring_of_regular(12, 3, seed=7), 1, 5, 7, mode="estimate", max_width=4)
    circuit, observables = steps.prepare(state)
    obs = parse_observables("\n".join(observables))
    plan = cutting.plan(circuit, obs, 4, seed=1)
    assert len(plan.cuts) == 3 and plan.generated == 648
    assert len(plan.subexperiments) == 75
    assert_factored_is_the_librarys(plan)
    submitted: list[Program] = []
    record = await estimate(circuit, obs, submitted, shots=2000, max_width=4, seed=1)
    assert record["subexperiments"] == 648 and record["programs"] == len(submitted) == 75
    assert len({p.name for p in submitted}) == 75
    assert_agrees(circuit.remove_final_measurements(inplace=False), record)


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
        # Only distinct subexperiments run, and they share backend jobs: the packer
        # placed them side by side.
        assert evaluation["subexperiments"] == 72 and evaluation["programs"] == 50
        assert 0 < evaluation["jobs"] < evaluation["programs"]
    first = steps.start(graph, 1, 4, 7, mode="estimate", max_width=6)
    exact = -expected_cut(exact_correlations(first))
    assert (
        abs(result["cutting"][0]["energy"] - exact)
        <= 3 * result["cutting"][0]["energy_error_bound"]
    )
    margin = 0.1 * graph.number_of_edges()
    assert result["estimated_mean_cut"] >= result["uniform_mean_cut"] + margin


@pytest.mark.slow
def test_the_40_node_graph_runs_in_pieces_of_10_on_a_27_qubit_device(tmp_path: Path) -> None:
    """``inputs-wide.yml``: four 10-node blocks in a ring, each evaluation 4 cuts, 5184
    subexperiments and 100 programs; the first ⟨C⟩ within 3 error bounds of the exact
    one (from light cones), and a rounded cut near the annealed best."""
    inputs = yaml.safe_load((REPO / "workflows" / "qaoa" / "inputs-wide.yml").read_text())
    out = run_streamflow("qaoa", tmp_path, inputs, "streamflow-wide.yml")
    result: dict[str, Any] = json.loads((out / "result.json").read_text())
    graph = ring_of_regular(inputs["nodes"], inputs["blocks"], inputs["seed"])
    assert result["answer"] == "rounded"
    assert result["best_known_method"] == "simulated-annealing"
    for evaluation in result["cutting"]:
        assert evaluation["cuts"] == 4
        assert evaluation["subexperiments"] == 5184 and evaluation["programs"] == 100
    reps, maxiter, seed, width = (inputs[k] for k in ("reps", "maxiter", "seed", "max_width"))
    first = steps.start(graph, reps, maxiter, seed, mode="estimate", max_width=width)
    exact = -expected_cut(light_cone_correlations(first))
    (evaluation, *_) = result["cutting"]
    assert abs(evaluation["energy"] - exact) <= 3 * evaluation["energy_error_bound"]
    assert (
        result["estimated_mean_cut"] >= result["uniform_mean_cut"] + 0.1 * graph.number_of_edges()
    )
    side = dict.fromkeys(result["cut"][0], 0) | dict.fromkeys(result["cut"][1], 1)
    assert cut_size(graph, side) == result["cut_value"]
    assert result["approximation_ratio"] >= 0.9  # measured 0.94: 50 of 53


def test_zz_observables_put_node_i_on_qubit_i() -> None:
    assert zz_observables([3, 5, 9], [[3, 9], [5, 9]]) == ["ZIZ", "ZZI"]
