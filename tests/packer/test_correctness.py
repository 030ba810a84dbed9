"""Packing must not change what a program computes: ideal packed runs match solo runs."""

from __future__ import annotations

import random

import pytest
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator

from tests.packer.conftest import drain, make_policy, random_program
from tests.packer.test_faces import same_distribution

SHOTS = 2000


@pytest.mark.parametrize(("policy_name", "seed"), [("space-time", 1), ("noise-aware", 2)])
def test_packed_distributions_match_solo_runs(brisbane, policy_name, seed):
    rng = random.Random(seed)
    policy = make_policy(policy_name, brisbane)
    queue = [random_program(rng.randint(1, 12), seed * 1000 + i, shots=SHOTS) for i in range(16)]
    for program in queue:
        policy.prepare(program)
    batches = drain(policy, queue)
    assert len(batches) < len(queue)

    ideal = AerSimulator()
    logical = generate_preset_pass_manager(0, backend=ideal).run([p.circuit for p in queue])
    solo = ideal.run(logical, shots=SHOTS, seed_simulator=seed).result()
    expected = {p.id: solo.get_counts(i) for i, p in enumerate(queue)}
    mps = AerSimulator(method="matrix_product_state")
    for batch in batches:
        placed = ideal.run(
            [p.circuit for p in batch.placements], shots=SHOTS, seed_simulator=seed
        ).result()
        composite = mps.run(batch.composite, shots=SHOTS, seed_simulator=seed).result().get_counts()
        for i, (placement, part) in enumerate(
            zip(batch.placements, batch.split_counts(composite), strict=True)
        ):
            solo_counts = expected[placement.program.id]
            assert same_distribution(placed.get_counts(i), solo_counts) > 1e-4, (
                placement.program.name
            )
            assert same_distribution(part, solo_counts) > 1e-4, placement.program.name
