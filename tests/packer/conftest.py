from __future__ import annotations

import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.random import random_circuit
from qiskit.transpiler import Target

from streamflow_quantum.core.model import Batch, Program
from streamflow_quantum.packing.hyperq.policy import HyperQPolicy
from streamflow_quantum.packing.registry import POLICIES, policy_options


def make_policy(name: str, target: Target, **options: object) -> HyperQPolicy:
    """A HyperQ policy on a bare Target, its options defaulted as the qpu config does."""
    cls = POLICIES.get(name)
    assert issubclass(cls, HyperQPolicy)
    return cls(target, **policy_options(name, options))


@pytest.fixture(scope="session")
def brisbane() -> Target:
    from qiskit_ibm_runtime.fake_provider import FakeBrisbane

    return FakeBrisbane().target


def random_program(width: int, seed: int, shots: int = 4000, depth: int = 3) -> Program:
    """A measured random circuit (1- and 2-qubit gates) of the given width."""
    circuit = random_circuit(width, depth, max_operands=min(2, width), measure=True, seed=seed)
    return Program(f"w{width}-s{seed}", circuit, shots)


def drain(policy: object, queue: list[Program]) -> list[Batch]:
    """Run a policy over a queue until every program is in a batch (all shots in one go)."""
    batches = []
    queue = list(queue)
    while queue:
        batch = policy.next_batch(queue)
        batches.append(batch)
        done = set(map(id, batch.programs))
        queue = [p for p in queue if id(p) not in done]
    return batches


def unsupported(circuit: QuantumCircuit, target: Target) -> list[tuple[str, tuple[int, ...]]]:
    """Instructions the Target does not support on their qubits (gate direction included)."""
    bad = []
    for instruction in circuit.data:
        name = instruction.operation.name
        qargs = tuple(circuit.find_bit(q).index for q in instruction.qubits)
        if name != "barrier" and not target.instruction_supported(name, qargs):
            bad.append((name, qargs))
    return bad
