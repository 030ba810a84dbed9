"""From scheduled programs to a Batch: placements, the composite circuit, clbit slices.

Shared by every packer that places compiled programs on physical qubits (HyperQ's
qVMs here, ``packing/fit``): :func:`lay_out` relabels a compiled program onto
physical qubits and turns its two-qubit gates to the device's directions (a qVM's
or a moved program's coupling is undirected; an Eagle's ECR directions differ
between regions). Programs appended in time are preceded by resets of the qubits
used before them and a barrier, after the earlier programs' own measurements.
:func:`compose_batch` takes anything with the :class:`Placed` face.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary
from qiskit.transpiler import PassManager
from qiskit.transpiler.passes import BasisTranslator, GateDirection, Optimize1qGatesDecomposition

from streamflow_quantum.backends.base import active_qubits, estimate_duration_s
from streamflow_quantum.core.model import Batch, Placement

if TYPE_CHECKING:
    from qiskit.transpiler import Target

    from streamflow_quantum.core.model import Program
    from streamflow_quantum.packing.hyperq.qvm import Position, Relabelling, Version


class Placed(Protocol):
    """A program laid on physical qubits, starting ``start_s`` into its batch."""

    @property
    def program(self) -> Program: ...

    @property
    def start_s(self) -> float: ...

    @property
    def physical(self) -> QuantumCircuit: ...

    @property
    def qubits(self) -> tuple[int, ...]: ...

    @property
    def notes(self) -> tuple[str, ...]: ...


@dataclass(eq=False)
class Scheduled:
    """A program's place in a batch: which version, where, and when it starts."""

    program: Program
    version: Version
    position: Position
    target: Target
    start_s: float = 0.0
    #: Qubits used by programs earlier in the same slots (reset before this one).
    after: frozenset[int] = frozenset()

    @functools.cached_property
    def physical(self) -> QuantumCircuit:
        """The placement circuit."""
        return physical_circuit(self)

    @functools.cached_property
    def duration_s(self) -> float:
        """Device time of one shot from its start (the shape's estimate where the Target has no durations)."""
        exact = estimate_duration_s(self.physical, self.target)
        return exact if exact is not None else self.version.duration_s or 0.0

    @functools.cached_property
    def relabelling(self) -> Relabelling:
        return self.version.shape.best_labels(self.version.circuit, self.position)

    @property
    def notes(self) -> tuple[str, ...]:
        return self.relabelling.notes

    @functools.cached_property
    def mapping(self) -> tuple[int, ...]:
        """The physical qubit of each qubit of the compiled program."""
        return tuple(self.position.qubits[label] for label in self.relabelling.labels)

    @functools.cached_property
    def qubits(self) -> tuple[int, ...]:
        """The physical qubits the program acts on."""
        return tuple(self.mapping[q] for q in active_qubits(self.version.circuit))


@functools.cache
def _direction_fixer(target: Target) -> PassManager:
    basis = list(target.operation_names)
    return PassManager(
        [
            GateDirection(None, target=target),
            BasisTranslator(SessionEquivalenceLibrary, basis, target=target),
            Optimize1qGatesDecomposition(target=target),
        ]
    )


def _needs_direction_fix(circuit: QuantumCircuit, target: Target) -> bool:
    for instruction in circuit.data:
        if len(instruction.qubits) == 2 and instruction.operation.name in target.operation_names:
            qargs = tuple(circuit.find_bit(q).index for q in instruction.qubits)
            if not target.instruction_supported(instruction.operation.name, qargs):
                return True
    return False


def empty_like(compiled: QuantumCircuit, num_qubits: int) -> QuantumCircuit:
    """All device qubits and exactly the program's classical bits (its registers kept)."""
    circuit = QuantumCircuit(QuantumRegister(num_qubits, "q"), name=compiled.name)
    in_registers = {bit for register in compiled.cregs for bit in register}
    for register in compiled.cregs:
        circuit.add_register(register)
    loose = [bit for bit in compiled.clbits if bit not in in_registers]
    if loose:
        circuit.add_bits(loose)
    return circuit


def lay_out(
    compiled: QuantumCircuit,
    mapping: Sequence[int],
    target: Target,
    *,
    resets: Sequence[int] = (),
    barrier: Sequence[int] = (),
    fix_directions: bool = True,
) -> QuantumCircuit:
    """``compiled`` alone on the physical qubits ``mapping`` (one per compiled qubit).

    It is valid on the device Target. ``resets`` (qubits an earlier program used)
    and a barrier on ``barrier`` come first: the time-packing convention.
    """
    circuit = empty_like(compiled, target.num_qubits)
    for q in resets:
        circuit.reset(q)
    if barrier:
        circuit.barrier(list(barrier))
    circuit.compose(compiled, qubits=list(mapping), clbits=circuit.clbits, inplace=True)
    if fix_directions and _needs_direction_fix(circuit, target):
        circuit = _direction_fixer(target).run(circuit)
    return circuit


def physical_circuit(item: Scheduled) -> QuantumCircuit:
    """The program alone on its position's physical qubits, valid on the device Target."""
    position = sorted(item.position.qubits)
    return lay_out(
        item.version.circuit,
        item.mapping,
        item.target,
        resets=sorted(item.after & set(position)) if item.after else (),
        barrier=position if item.after else (),
        fix_directions=item.version.shape.name != "device",
    )


def compose_batch(schedule: Sequence[Placed], shots: int, target: Target) -> Batch:
    """One batch: each program's placement, and all of them in one composite circuit."""
    ordered = sorted(schedule, key=lambda item: item.start_s)
    placements = [
        Placement(
            item.program,
            item.physical,
            item.qubits,
            item.start_s,
            item.notes,
        )
        for item in ordered
    ]
    slices, offset = [], 0
    for placement in placements:
        slices.append(slice(offset, offset + placement.circuit.num_clbits))
        offset += placement.circuit.num_clbits
    composite = QuantumCircuit(
        QuantumRegister(target.num_qubits, "q"), ClassicalRegister(offset, "c"), name="batch"
    )
    for placement, bits in zip(placements, slices, strict=True):
        composite.compose(
            placement.circuit,
            qubits=range(target.num_qubits),
            clbits=range(bits.start, bits.stop),
            inplace=True,
        )
    return Batch(
        placements=placements,
        shots=shots,
        composite=composite,
        clbit_slices=slices,
        duration_s=estimate_duration_s(composite, target) or 0.0,
    )
