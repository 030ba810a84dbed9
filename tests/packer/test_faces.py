"""The Aer face (placements as separate experiments) and the IBM face (the composite,
split) must give the same distributions: checked on small Clifford batches with
Aer's matrix-product-state method, which runs a 127-qubit composite in well under a second."""

from __future__ import annotations

import pytest
from qiskit.quantum_info import random_clifford
from qiskit_aer import AerSimulator
from scipy.stats import chi2_contingency

from streamflow_quantum.core.model import Program
from tests.packer.conftest import make_policy

SHOTS = 2000


def same_distribution(a: dict[str, int], b: dict[str, int]) -> float:
    """p-value of a chi-square test that two samples come from one distribution."""
    keys = sorted(set(a) | set(b))
    if len(keys) == 1:
        return 1.0
    return chi2_contingency([[a.get(k, 0) for k in keys], [b.get(k, 0) for k in keys]]).pvalue


@pytest.mark.parametrize("policy_name", ["space", "space-time"])
def test_composite_and_placements_agree_on_clifford_batches(brisbane, policy_name):
    policy = make_policy(policy_name, brisbane)
    queue = []
    for seed, width in enumerate(
        [1, 2, 3, 4, 5, 3, 2, 6, 1, 2, 3, 2, 4, 1, 2, 3, 2, 1, 3, 2, 2, 3]
    ):
        circuit = random_clifford(width, seed=seed).to_circuit()
        circuit.measure_all()
        program = Program(f"clifford-{seed}", circuit, SHOTS)
        policy.prepare(program)
        queue.append(program)
    batch = policy.next_batch(queue)
    assert len(batch.placements) > 9
    if policy_name == "space-time":
        assert any(p.start_s > 0 for p in batch.placements)
    simulator = AerSimulator(method="matrix_product_state")
    composite = simulator.run(batch.composite, shots=SHOTS, seed_simulator=11).result().get_counts()
    faces = simulator.run(
        [p.circuit for p in batch.placements], shots=SHOTS, seed_simulator=12
    ).result()
    for i, part in enumerate(batch.split_counts(composite)):
        placement = faces.get_counts(i)
        assert sum(part.values()) == SHOTS
        assert len(next(iter(part))) == batch.placements[i].program.circuit.num_clbits
        assert same_distribution(part, placement) > 1e-4, batch.placements[i].program.name
