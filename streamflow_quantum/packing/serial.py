"""The ``serial`` policy: one program per backend job, the service a cloud QPU gives today."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from streamflow_quantum.backends.base import active_qubits
from streamflow_quantum.core.model import Batch, Placement, Program

if TYPE_CHECKING:
    from streamflow_quantum.backends.base import Backend


class SerialPolicy:
    name = "serial"
    packs = False

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def prepare(self, program: Program) -> None:
        program.compiled = self.backend.compile(program.circuit)

    def next_batch(self, queue: Sequence[Program]) -> Batch:
        program = queue[0]
        circuit = program.compiled
        return Batch(
            placements=[Placement(program, circuit, active_qubits(circuit))],
            shots=program.shots_left,
            composite=circuit,
            clbit_slices=[slice(0, circuit.num_clbits)],
            duration_s=self.backend.duration_s(circuit),
        )
