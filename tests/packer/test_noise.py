from __future__ import annotations

import pytest
from qiskit_ibm_runtime.fake_provider import FakeSherbrooke

from streamflow_quantum.packing.hyperq.noise import HEAVY_OPERATIONS, cell_errors
from tests.packer.conftest import make_policy, random_program


@pytest.fixture(scope="module")
def sherbrooke():
    return FakeSherbrooke().target


def cells_of(policy, placement):
    return {
        cell for cell, qubits in policy.layout.cells.items() if set(placement.qubits) & set(qubits)
    }


def test_worst_regions_are_ranked_low_quality(sherbrooke):
    policy = make_policy("noise-aware", sherbrooke)
    low = policy.order.low
    scores = cell_errors(policy.layout, sherbrooke)
    assert len(low) == 3
    assert min(scores[c] for c in low) > max(scores[c] for c in scores if c not in low)


def test_sensitive_programs_avoid_low_quality_regions_and_resilient_ones_take_them(sherbrooke):
    policy = make_policy("noise-aware", sherbrooke)
    low = policy.order.low
    queue = [random_program(5, seed) for seed in range(8)]
    queue[3] = random_program(5, 3, depth=160)  # heavy: HyperQ's resilient class
    assert sum(queue[3].circuit.count_ops().values()) >= HEAVY_OPERATIONS
    for program in queue:
        policy.prepare(program)
    batch = policy.next_batch(queue)
    for placement in batch.placements:
        touched = cells_of(policy, placement)
        if placement.program is queue[3]:
            assert touched <= low
        else:
            assert not touched & low
    # Six good regions: the seventh sensitive program waits for the next batch.
    assert len(batch.placements) == 7
