"""What the HyperQ policies keep for each queued program, and what decides it runs alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from streamflow_quantum.core.model import Program
    from streamflow_quantum.packing.hyperq.qvm import Version


@dataclass(eq=False)
class Prepared:
    """What the policy keeps for one queued program."""

    program: Program
    versions: list[Version]
    operations: int
    #: Too many mid-circuit measurements and resets to share a batch.
    isolated: bool

    @property
    def alone(self) -> bool:
        """Runs in a batch of its own: isolated here, or retried alone by the broker."""
        return self.isolated or self.program.alone


def midcircuit_operations(circuit: QuantumCircuit) -> int:
    """Resets after the first operation on a qubit, and measurements followed by more operations."""
    touched: set[int] = set()
    measured: set[int] = set()
    count = 0
    for instruction in circuit.data:
        name = instruction.operation.name
        if name == "barrier":
            continue
        qubits = {circuit.find_bit(q).index for q in instruction.qubits}
        if name == "reset" and qubits & touched:
            count += 1
        elif name != "measure":
            count += len(qubits & measured)
            measured -= qubits
        if name == "measure":
            measured |= qubits
        touched |= qubits
    return count
