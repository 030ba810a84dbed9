"""A program laid on physical qubits: what the fit packer places and composes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from streamflow_quantum.core.model import Program

#: The physical qubit of each local qubit of a pattern.
Mapping = tuple[int, ...]


@dataclass(eq=False)
class Fitted:
    """A program on physical qubits in a batch (the ``Placed`` face of hyperq/compose)."""

    program: Program
    physical: QuantumCircuit
    #: The physical qubit of each local qubit of the pattern.
    mapping: Mapping
    success: float
    duration_s: float
    start_s: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def qubits(self) -> tuple[int, ...]:
        return tuple(sorted(self.mapping))
