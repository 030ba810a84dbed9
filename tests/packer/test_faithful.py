"""The composite-faithful Aer face: per-group simulation must equal simulating the whole
scheduled composite at once on a small noisy device, time-packed chains included, and
must keep what the per-placement face drops (idle noise) and what it must not (resets)."""

from __future__ import annotations

from collections import Counter

import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.fake_provider import FakeLagosV2
from scipy.stats import chi2_contingency

from streamflow_quantum.backends.aer import AerBackend
from streamflow_quantum.backends.faithful import (
    faithful_counts,
    marginal,
    qubit_groups,
    schedule,
)
from streamflow_quantum.core.model import Batch, Placement, Program
from tests.packer.conftest import make_policy, random_program

SHOTS = 10_000
#: x gates on qubit 5 while qubit 4 waits in superposition (FakeLagos: T2 of qubit 4
#: is 24 us, an x gate 36 ns: a 14 us wait).
IDLE_GATES = 400


def same_distribution(a: dict[str, int], b: dict[str, int]) -> float:
    """p-value of a chi-square test that two samples come from one distribution."""
    keys = sorted(set(a) | set(b))
    if len(keys) == 1:
        return 1.0
    return chi2_contingency([[a.get(k, 0) for k in keys], [b.get(k, 0) for k in keys]]).pvalue


@pytest.fixture(scope="module")
def lagos() -> FakeLagosV2:
    return FakeLagosV2()


@pytest.fixture(scope="module")
def noisy(lagos: FakeLagosV2) -> AerSimulator:
    return AerSimulator.from_backend(lagos)


def batch_of(parts: list[tuple[QuantumCircuit, float]], barrier_after: int | None = None) -> Batch:
    """A batch laid out as compose.py lays one out: placements in start order, their
    clbits one after another; optionally a device-wide barrier after placement
    ``barrier_after`` (which must not link every qubit into one group)."""
    n = parts[0][0].num_qubits
    placements = [
        Placement(
            Program(f"p{i}", c, SHOTS),
            c,
            tuple(sorted(c.find_bit(q).index for inst in c.data for q in inst.qubits)),
            start,
        )
        for i, (c, start) in enumerate(parts)
    ]
    slices, offset = [], 0
    for p in placements:
        slices.append(slice(offset, offset + p.circuit.num_clbits))
        offset += p.circuit.num_clbits
    composite = QuantumCircuit(QuantumRegister(n, "q"), ClassicalRegister(offset, "c"))
    for i, (p, sl) in enumerate(zip(placements, slices, strict=True)):
        composite.compose(p.circuit, qubits=range(n), clbits=range(sl.start, sl.stop), inplace=True)
        if i == barrier_after:
            composite.barrier()
    return Batch(placements, SHOTS, composite, slices)


def chain_batch(barrier_after: int | None = None) -> Batch:
    """On FakeLagos: A leaves qubits 0 and 1 in |11> and measures them; B is appended on
    them after their reset and a barrier; C, alone, puts qubit 4 in superposition and
    entangles it with qubit 5, leaves it idle while qubit 5 runs ``IDLE_GATES`` x
    gates, then undoes both and reads qubit 4 (ideally |1>)."""
    a = QuantumCircuit(7, 2)
    a.x([0, 1])
    a.measure([0, 1], [0, 1])
    b = QuantumCircuit(7, 2)
    b.reset([0, 1])
    b.barrier([0, 1])
    b.cx(0, 1)  # |00> stays |00>; without the reset |11> would read 01
    b.measure([0, 1], [0, 1])
    c = QuantumCircuit(7, 1)
    c.sx(4)
    c.cx(4, 5)  # entangled from here, so no schedule can start the wait later
    for _ in range(IDLE_GATES):
        c.x(5)
    c.cx(4, 5)
    c.sx(4)
    c.measure(4, 0)
    return batch_of([(a, 0.0), (c, 0.0), (b, 1e-6)], barrier_after)


def policy_batch(lagos: FakeLagosV2) -> Batch:
    """A space-time batch the packer builds on FakeLagos: a deep program keeps one
    region busy long enough that a third program is appended after the second."""
    policy = make_policy("space-time", lagos.target)
    queue = [random_program(2, seed=1, depth=12, shots=SHOTS)] + [
        random_program(2, seed=s, depth=2, shots=SHOTS) for s in (2, 3)
    ]
    for program in queue:
        policy.prepare(program)
    batch = policy.next_batch(queue)
    assert len(batch.placements) == 3
    assert any(p.start_s > 0 for p in batch.placements), "expected a time-packed chain"
    return batch


def whole(simulator: AerSimulator, batch: Batch, seed: int) -> list[Counter[str]]:
    """The reference: the whole scheduled composite as one experiment, split."""
    circuit = schedule(batch.composite, simulator.target)
    counts = simulator.run(circuit, shots=SHOTS, seed_simulator=seed).result().get_counts()
    return batch.split_counts(counts)


def test_groups_follow_gates_and_programs_not_barriers_and_resets_cut():
    circuit = QuantumCircuit(6, 4)
    circuit.barrier()  # device-wide: links nothing
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    circuit.x(0)  # after a measurement, no reset: the same timeline
    circuit.reset(1)  # a fresh timeline for qubit 1: a new group
    circuit.barrier([1, 2, 3])
    circuit.cx(1, 2)
    circuit.x(3)
    circuit.measure(3, 2)
    circuit.x(4)
    circuit.measure(4, 3)
    circuit.delay(100, 5)  # padding alone makes no group
    groups = qubit_groups(circuit)
    assert [(g.qubits, g.clbits, g.instructions) for g in groups] == [
        ((0, 1), (0, 1), (1, 2, 3, 4)),
        ((1, 2), (), (5, 7)),
        ((3,), (2,), (8, 9)),
        ((4,), (3,), (10, 11)),
    ]
    # a program's bits stay together, so its counts come from one experiment
    joined = qubit_groups(circuit, [slice(0, 2), slice(2, 4)])
    assert [(g.qubits, g.clbits) for g in joined] == [
        ((0, 1), (0, 1)),
        ((1, 2), ()),
        ((3, 4), (2, 3)),
    ]


def test_marginal_keeps_qiskit_order():
    assert marginal(Counter({"110": 3, "011": 1}), [0, 2]) == Counter({"10": 3, "01": 1})


@pytest.mark.parametrize("case", ["policy", "chain", "chain+device-barrier"])
def test_faithful_equals_whole_composite(lagos, noisy, case):
    if case == "policy":
        batch = policy_batch(lagos)
    else:
        batch = chain_batch(barrier_after=0 if case.endswith("barrier") else None)
    groups = qubit_groups(schedule(batch.composite, noisy.target), batch.clbit_slices)
    assert len(groups) >= 3, "nothing to split: the test would prove nothing"
    faithful = faithful_counts(noisy, batch, SHOTS, seed=3)
    reference = whole(noisy, batch, seed=4)
    for placement, got, want in zip(batch.placements, faithful, reference, strict=True):
        assert sum(got.values()) == SHOTS
        assert same_distribution(got, want) > 1e-4, (placement.program.name, got, want)


def test_delays_and_resets_are_not_dropped(noisy):
    batch = chain_batch()
    faithful = faithful_counts(noisy, batch, SHOTS, seed=5)
    undelayed = faithful_counts(noisy, batch, SHOTS, seed=5, scheduling=None)
    # the old per-placement face: each placement alone, no delays
    result = noisy.run([p.circuit for p in batch.placements], shots=SHOTS, seed_simulator=6)
    old = [result.result().get_counts(i) for i in range(len(batch.placements))]

    # resets: B reads what it reads alone from fresh qubits (readout error included)
    assert same_distribution(faithful[2], old[2]) > 1e-4
    # idle noise: C's waiting qubit dephases; the per-placement face never sees it
    assert same_distribution(undelayed[1], old[1]) > 1e-4
    assert faithful[1]["1"] < old[1]["1"] - 0.08 * SHOTS
    assert same_distribution(faithful[1], undelayed[1]) < 1e-9

    # the equivalence test would catch a face that dropped the resets
    stripped = batch.composite.copy_empty_like()
    for instruction in batch.composite.data:
        if instruction.operation.name != "reset":
            stripped.append(instruction)
    broken = Batch(batch.placements, SHOTS, stripped, batch.clbit_slices)
    assert same_distribution(faithful_counts(noisy, broken, SHOTS, seed=5)[2], faithful[2]) < 1e-9


def test_aer_backend_faces(lagos):
    batch = chain_batch()
    noisy_counts = AerBackend(lagos, noise=True).run(batch, seed=7)[1]
    assert noisy_counts[1]["1"] < 0.9 * SHOTS  # the idle wait shows
    ideal_counts = AerBackend(lagos, noise=False).run(batch, seed=7)[1]
    assert ideal_counts == [Counter({"11": SHOTS}), Counter({"1": SHOTS}), Counter({"00": SHOTS})]


def test_dynamic_circuits_run_unscheduled(noisy):
    """Control flow cannot be scheduled: it runs without delays, still split exactly."""
    feedforward = QuantumCircuit(7, 2)
    feedforward.x(3)
    feedforward.measure(3, 0)
    with feedforward.if_test((feedforward.clbits[0], 1)):
        feedforward.x(4)
    feedforward.measure(4, 1)
    plain = QuantumCircuit(7, 1)
    plain.x(6)
    plain.measure(6, 0)
    batch = batch_of([(feedforward, 0.0), (plain, 0.0)])
    counts = faithful_counts(noisy, batch, 2000, seed=8)
    assert counts[0].most_common(1)[0][0] == "11"
    assert counts[1].most_common(1)[0][0] == "1"
