from __future__ import annotations

import random

import pytest
from qiskit import QuantumCircuit

from streamflow_quantum.core.errors import ConfigError, ProgramError
from streamflow_quantum.core.model import Program
from tests.packer.conftest import drain, make_policy, random_program, unsupported


def mixed_queue(policy, seed: int, count: int = 30) -> list[Program]:
    rng = random.Random(seed)
    queue = [
        random_program(rng.choice([1, 2, 3, 4, 5, 6, 8, 10, 12]), seed * 100 + i)
        for i in range(count)
    ]
    for program in queue:
        policy.prepare(program)
    return queue


@pytest.fixture(scope="module", params=["space", "space-time", "noise-aware"])
def packed(request, brisbane):
    policy = make_policy(request.param, brisbane)
    queue = mixed_queue(policy, seed=7)
    return policy, queue, drain(policy, queue)


def test_fifo_guarantee_and_head_in_every_batch(packed):
    _, queue, batches = packed
    remaining = list(queue)
    batch_of = {}
    for index, batch in enumerate(batches):
        assert remaining[0] in batch.programs
        for program in batch.programs:
            batch_of[program.id] = index
        remaining = [p for p in remaining if p.id not in batch_of]
    # Under serial FIFO, program i runs in job i: packing never makes it later.
    assert all(batch_of[p.id] <= i for i, p in enumerate(queue))
    assert len(batches) < len(queue)


def test_composites_are_valid_on_the_device_and_regions_never_touch(packed, brisbane):
    policy, _, batches = packed
    graph = policy.layout.graph
    for batch in batches:
        assert unsupported(batch.composite, brisbane) == []
        assert batch.composite.num_qubits == brisbane.num_qubits
        for placement in batch.placements:
            assert unsupported(placement.circuit, brisbane) == []
            assert placement.circuit.num_clbits == placement.program.circuit.num_clbits
        for i, a in enumerate(batch.placements):
            for b in batch.placements[i + 1 :]:
                concurrent = not (set(a.qubits) & set(b.qubits)) and a.start_s == b.start_s == 0
                if concurrent:
                    assert not any(graph.has_edge(p, q) for p in a.qubits for q in b.qubits)


def test_time_packing_fills_gaps_without_lengthening_batches(brisbane):
    space, space_time = make_policy("space", brisbane), make_policy("space-time", brisbane)
    queue = mixed_queue(space, seed=3)
    for program in queue:
        space_time.prepare(program)
    spatial = space.next_batch(queue)
    timed = space_time.next_batch(queue)
    assert len(timed.placements) > len(spatial.placements)
    assert any(p.start_s > 0 for p in timed.placements)
    assert "reset" in timed.composite.count_ops()
    assert timed.duration_s <= spatial.duration_s * (1 + 1e-9)


def test_batch_runs_for_the_smallest_remaining_shots(brisbane):
    policy = make_policy("space", brisbane)
    queue = [random_program(2, seed, shots=shots) for seed, shots in enumerate([500, 200, 900])]
    for program in queue:
        policy.prepare(program)
    batch = policy.next_batch(queue)
    assert len(batch.placements) == 3
    assert batch.shots == 200


def test_programs_with_many_midcircuit_resets_run_alone(brisbane):
    policy = make_policy("space-time", brisbane)
    noisy = QuantumCircuit(2, 2, name="resets")
    for _ in range(20):
        noisy.h(0)
        noisy.measure(0, 0)
        noisy.reset(0)
    noisy.measure([0, 1], [0, 1])
    queue = [random_program(3, 1), Program("resets", noisy, 100), random_program(3, 2)]
    for program in queue:
        policy.prepare(program)
    assert policy.prepared[queue[1].id].alone and not policy.prepared[queue[0].id].alone
    first = policy.next_batch(queue)
    assert queue[1] not in first.programs and queue[2] in first.programs
    alone = policy.next_batch(queue[1:2])
    assert alone.programs == [queue[1]]


def test_too_wide_program_is_refused_with_a_reason(brisbane):
    policy = make_policy("space", brisbane)
    with pytest.raises(ProgramError, match="needs 130 qubits"):
        policy.prepare(Program("wide", QuantumCircuit(130, 1), 10))


def test_unknown_policy_name_is_refused(brisbane):
    with pytest.raises(ConfigError, match="unknown packing policy 'tetris'; use one of: serial"):
        make_policy("tetris", brisbane)


def test_uncompilable_program_is_refused_with_a_reason(brisbane):
    from qiskit.circuit import Gate

    circuit = QuantumCircuit(2, name="opaque")
    circuit.append(Gate("mystery", 2, []), [0, 1])
    circuit.measure_all()
    with pytest.raises(ProgramError, match=r"^opaque: cannot compile for a half qVM.*mystery"):
        make_policy("space", brisbane).prepare(Program("opaque", circuit, 10))
