"""Qiskit's standard gates as users' files name them, and what a circuit costs once expanded."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Gate, Instruction

# Parameter values at which a user's definition is compared with the standard gate; fixed so
# that loading is deterministic (a definition that matches only here hurts its own author only).
PROBE_PARAMS = ((0.7297, -1.3132, 2.1981, 0.4114), (-0.5183, 1.9042, -2.6657, 0.2931))


@cache
def standard_gates() -> dict[str, Gate]:
    """Qiskit's standard gates (not measure, reset, delay), by name."""
    from qiskit.circuit import Gate
    from qiskit.circuit.library import get_standard_gate_name_mapping

    return {
        name: op
        for name, op in get_standard_gate_name_mapping().items()
        if isinstance(op, Gate) and op.num_qubits > 0
    }


def is_standard(op: Instruction) -> bool:
    gate = standard_gates().get(op.name)
    return gate is not None and isinstance(op, gate.base_class)


def same_as_standard(op: Instruction, name: str) -> bool:
    """Whether ``op`` acts as the standard gate ``name`` with the same parameters, up to phase."""
    from qiskit.quantum_info import Operator

    gate = standard_gates()[name]
    if op.num_qubits != gate.num_qubits or len(op.params) != len(gate.params):
        return False
    standard = gate.base_class(*op.params)
    return bool(Operator(op).equiv(Operator(standard)))


def expanded_size(circuit: QuantumCircuit, budget: int) -> int:
    """Operations once every non-standard gate is replaced by its definition, recursively.

    Counting stops once past ``budget``; each definition is expanded once (by name and
    shape), so nested definitions that multiply (``gate a { b; b; }``, ``gate b { c; c; }``...)
    are counted without being built.
    """
    return _count(circuit, {}, budget)


def _count(circuit: QuantumCircuit, memo: dict[tuple[str, int, int], int], budget: int) -> int:
    from qiskit.circuit import ControlFlowOp

    total = 0
    for instruction in circuit.data:
        op = instruction.operation
        if isinstance(op, ControlFlowOp):
            total += 1 + sum(_count(block, memo, budget) for block in op.blocks)
        elif is_standard(op) or op.name in {"measure", "reset", "barrier", "delay"}:
            total += 1
        else:
            key = (op.name, op.num_qubits, len(op.params))
            if key not in memo:
                memo[key] = budget + 1  # a definition that uses itself is refused, not looped on
                definition = op.definition
                memo[key] = 1 if definition is None else _count(definition, memo, budget)
            total += memo[key]
        if total > budget:
            break
    return total
