"""The packer on devices without HyperQ's grid: general isolated regions and ideal Aer."""

from __future__ import annotations

import pytest
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.fake_provider import FakeFez, FakeManilaV2, FakeTorino

from tests.packer.conftest import drain, make_policy, random_program, unsupported
from tests.packer.test_faces import same_distribution


@pytest.mark.parametrize("device", [FakeTorino, FakeFez, FakeManilaV2])
def test_batches_on_general_regions_are_valid_and_isolated(device):
    target = device().target
    policy = make_policy("space-time", target)
    widths = [2, 1, 3, 2, 9, 2, 1, 2] if target.num_qubits > 5 else [2, 2, 3, 1]
    queue = [random_program(w, seed) for seed, w in enumerate(widths)]
    for program in queue:
        policy.prepare(program)
    batches = drain(policy, queue)
    assert len(batches) < len(queue)
    graph = policy.layout.graph
    for batch in batches:
        assert unsupported(batch.composite, target) == []
        concurrent = [p for p in batch.placements if p.start_s == 0]
        for i, a in enumerate(concurrent):
            for b in concurrent[i + 1 :]:
                assert not any(graph.has_edge(p, q) or p == q for p in a.qubits for q in b.qubits)


def test_ideal_simulator_packs_blocks_and_keeps_distributions():
    simulator = AerSimulator()
    policy = make_policy("space-time", simulator.target)
    queue = [random_program(w, seed, shots=2000) for seed, w in enumerate([3, 5, 2, 4, 1])]
    for program in queue:
        policy.prepare(program)
    batch = policy.next_batch(queue)
    assert len(batch.placements) == len(queue)
    used = [q for p in batch.placements for q in p.qubits]
    assert len(used) == len(set(used))
    packed = simulator.run(batch.composite, shots=2000, seed_simulator=1).result().get_counts()
    solo = simulator.run(
        [p.circuit for p in batch.placements], shots=2000, seed_simulator=2
    ).result()
    for i, part in enumerate(batch.split_counts(packed)):
        assert same_distribution(part, solo.get_counts(i)) > 1e-4
