"""The fidelity estimate ranks placements as noisy simulation's L1 distance does."""

from __future__ import annotations

import random
import statistics
import time

import networkx as nx
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import Statevector
from qiskit.transpiler import Target

from streamflow_quantum.packing.fidelity import FidelityModel, success_probability

SHOTS = 4000


@pytest.fixture(scope="module")
def sherbrooke() -> object:
    """FakeSherbrooke: two clearly bad regions (design.md, section 5)."""
    from qiskit_ibm_runtime.fake_provider import FakeSherbrooke

    return FakeSherbrooke()


def ghz(n: int) -> QuantumCircuit:
    circuit = QuantumCircuit(n, name=f"ghz{n}")
    circuit.h(0)
    for i in range(n - 1):
        circuit.cx(i, i + 1)
    circuit.measure_all()
    return circuit


def lines(target: Target, n: int) -> list[tuple[int, ...]]:
    """Every simple path of n qubits in the coupling graph, one direction each."""
    graph = nx.Graph(list(target.build_coupling_map().get_edges()))
    found: set[tuple[int, ...]] = set()
    stack: list[tuple[int, ...]] = [(q,) for q in graph.nodes]
    while stack:
        path = stack.pop()
        if len(path) == n:
            if path[::-1] not in found:
                found.add(path)
            continue
        stack.extend(path + (nb,) for nb in graph[path[-1]] if nb not in path)
    return sorted(found)


def edge_error(target: Target, a: int, b: int) -> float:
    props = target["ecr"].get((a, b)) or target["ecr"].get((b, a))
    assert props is not None and props.error is not None
    return props.error


def spread(target: Target, n: int, count: int) -> list[tuple[int, ...]]:
    """``count`` lines from best to worst by a crude score (summed readout and edge errors),
    dead qubits and edges left out, so ranking them takes more than spotting the dead."""
    readout = {q: target["measure"][(q,)].error for q in range(target.num_qubits)}

    def crude(path: tuple[int, ...]) -> float:
        edges = [edge_error(target, a, b) for a, b in zip(path, path[1:], strict=False)]
        return sum(readout[q] for q in path) + sum(edges)

    usable = [
        p
        for p in lines(target, n)
        if max(readout[q] for q in p) < 0.3
        and max(edge_error(target, a, b) for a, b in zip(p, p[1:], strict=False)) < 0.5
    ]
    usable.sort(key=crude)
    return [usable[round(i * (len(usable) - 1) / (count - 1))] for i in range(count)]


def l1(ideal: dict[str, float], counts: dict[str, int]) -> float:
    total = sum(counts.values())
    return sum(abs(ideal.get(k, 0.0) - counts.get(k, 0) / total) for k in set(ideal) | set(counts))


def test_estimate_ranks_placements_as_noisy_simulation(sherbrooke: object) -> None:
    from qiskit_aer import AerSimulator
    from scipy.stats import spearmanr

    target = sherbrooke.target  # type: ignore[attr-defined]
    programs = [
        ghz(3),
        ghz(4),
        ghz(5),
        random_circuit(4, 4, max_operands=2, measure=True, seed=11),
    ]
    placed: list[tuple[int, QuantumCircuit]] = []  # (program index, placed circuit)
    for i, program in enumerate(programs):
        for path in spread(target, program.num_qubits, 5):
            circuit = transpile(
                program,
                target=target,
                initial_layout=list(path),
                optimization_level=1,
                seed_transpiler=1,
            )
            placed.append((i, circuit))
    random.Random(5).shuffle(placed)  # so that no order of the placements can help
    estimates = [success_probability(circuit, target) for _, circuit in placed]

    # Scheduled, so that idle qubits carry delays and relax in Aer; Aer simulates only
    # the qubits a circuit uses.
    scheduled = [
        transpile(c, target=target, scheduling_method="alap", optimization_level=0)
        for _, c in placed
    ]
    result = AerSimulator.from_backend(sherbrooke).run(scheduled, shots=SHOTS, seed_simulator=7)
    ideals = [
        Statevector(p.remove_final_measurements(inplace=False)).probabilities_dict()
        for p in programs
    ]
    distances = [l1(ideals[i], result.result().get_counts(k)) for k, (i, _) in enumerate(placed)]

    rho = spearmanr(estimates, [-d for d in distances]).statistic
    print(f"rho(estimate, -L1) over {len(placed)} placements: {rho:.3f}")
    assert rho >= 0.6
    for i in range(len(programs)):
        mine = [k for k, (j, _) in enumerate(placed) if j == i]
        best = max(mine, key=lambda k: estimates[k])
        by_l1 = sorted(mine, key=lambda k: distances[k])
        within = spearmanr([estimates[k] for k in mine], [-distances[k] for k in mine])
        print(
            f"{programs[i].name}: rho {within.statistic:.2f}, best estimate is L1 rank {by_l1.index(best)}"
        )
        assert best in by_l1[:2]


def test_appended_program_pays_for_the_reset(brisbane: Target) -> None:
    program = transpile(ghz(3), target=brisbane, initial_layout=[0, 1, 2], optimization_level=1)
    alone = success_probability(program, brisbane)
    appended = QuantumCircuit(*program.qregs, *program.cregs)
    for q in (0, 1, 2):
        appended.reset(q)
    appended.barrier([0, 1, 2])
    appended.compose(program, inplace=True)
    after = success_probability(appended, brisbane, start_s=2e-6, after=[0, 1, 2])
    assert after < alone
    readout = [brisbane["measure"][(q,)].error for q in (0, 1, 2)]
    expected = alone
    for error in readout:  # FakeBrisbane has no reset error: a reset misreads as a readout
        expected *= 1 - error
    assert after == pytest.approx(expected)
    # The packer may also ask before building the resets in.
    assert success_probability(program, brisbane, after=[0, 1, 2]) == pytest.approx(after)


def test_idle_qubits_decohere_only_while_they_hold_a_state(brisbane: Target) -> None:
    def circuit(wait_before: bool, wait_between: bool) -> QuantumCircuit:
        c = QuantumCircuit(brisbane.num_qubits, 1)
        if wait_before:
            c.delay(20_000, 0)
        c.sx(0)
        if wait_between:
            c.delay(20_000, 0)
        c.sx(0)
        c.measure(0, 0)
        return c

    plain = success_probability(circuit(False, False), brisbane)
    assert success_probability(circuit(True, False), brisbane) == pytest.approx(plain)
    assert success_probability(circuit(False, True), brisbane) < plain * 0.99


def test_ideal_target_gives_one() -> None:
    from qiskit_aer import AerSimulator

    target = AerSimulator().target
    assert success_probability(ghz(5), target) == 1.0
    assert success_probability(ghz(5), target, after=[0, 1]) == 1.0


def test_model_is_read_once_and_cheap(brisbane: Target) -> None:
    assert FidelityModel.of(brisbane) is FidelityModel.of(brisbane)
    program = random_circuit(7, 3, max_operands=2, measure=True, seed=3)
    placed = transpile(program, target=brisbane, initial_layout=list(range(7)), seed_transpiler=1)
    success_probability(placed, brisbane)
    times = []
    for _ in range(30):
        start = time.perf_counter()
        success_probability(placed, brisbane)
        times.append(time.perf_counter() - start)
    cost = statistics.median(times)
    print(f"{len(placed.data)} operations: {cost * 1e6:.0f} us per call")
    assert cost < 2e-3  # loose: the machine is shared; about 0.1-0.3 ms here
