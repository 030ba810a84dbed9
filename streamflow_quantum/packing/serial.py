"""The ``serial`` policy: one program per backend job, the service a cloud QPU gives today."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from streamflow_quantum.backends.base import active_qubits
from streamflow_quantum.core.model import Batch, Placement, Program
from streamflow_quantum.packing.fidelity import success_probability

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.core.config import Schema


class SerialPolicy:
    name = "serial"
    packs = False

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        #: Each queued program compiled for the whole device, by program id.
        self.compiled: dict[str, QuantumCircuit] = {}

    @classmethod
    def options_schema(cls) -> Schema | None:
        return None

    @classmethod
    def from_backend(cls, backend: Backend, **options: Any) -> SerialPolicy:
        return cls(backend)

    def prepare(self, program: Program, like: Program | None = None) -> None:
        self.compiled[program.id] = (
            self.compiled[like.id] if like else self.backend.compile(program.circuit)
        )

    def forget(self, program: Program) -> None:
        self.compiled.pop(program.id, None)

    def recalibrate(self) -> None:
        """Nothing to redo: programs compile with the backend's pass manager, which follows
        its Target; those compiled before keep the placement the old calibration chose."""

    def solo_success(self, program: Program) -> float | None:
        return success_probability(self.compiled[program.id], self.backend.target)

    def next_batch(self, queue: Sequence[Program]) -> Batch:
        program = queue[0]
        circuit = self.compiled[program.id]
        return Batch(
            placements=[Placement(program, circuit, active_qubits(circuit))],
            shots=program.shots_left,
            composite=circuit,
            clbit_slices=[slice(0, circuit.num_clbits)],
            duration_s=self.backend.duration_s(circuit),
        )
