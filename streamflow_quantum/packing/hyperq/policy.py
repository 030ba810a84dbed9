"""The HyperQ packing policies the broker calls: ``space``, ``space-time``, ``noise-aware``."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qiskit.transpiler.exceptions import TranspilerError

from streamflow_quantum.core.errors import ProgramError, one_line
from streamflow_quantum.packing.hyperq.board import Board
from streamflow_quantum.packing.hyperq.compose import compose_batch, estimate_duration_s
from streamflow_quantum.packing.hyperq.noise import LOW_QUALITY_CELLS, NoiseAwareOrder
from streamflow_quantum.packing.hyperq.qvm import ShapeCatalog, Version
from streamflow_quantum.packing.hyperq.regions import layout_for
from streamflow_quantum.packing.hyperq.space import place_in_space, topmost_leftmost
from streamflow_quantum.packing.hyperq.time import append_in_time

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.transpiler import Target

    from streamflow_quantum.core.model import Batch, Program

#: Programs with more mid-circuit measurements and resets than this run alone.
ISOLATE_ABOVE = 16
REUSE_LIMIT = 2


@dataclass(eq=False)
class Prepared:
    """What a policy keeps in ``Program.compiled``."""

    versions: list[Version]
    operations: int


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


class HyperQPolicy:
    """Space scheduling (Algorithm 1), optionally time scheduling and noise-aware placement."""

    name = "space"
    packs = True
    time_packing = False
    noise_aware = False

    def __init__(
        self,
        target: Target,
        reuse_limit: int = REUSE_LIMIT,
        isolate_above: int = ISOLATE_ABOVE,
        low_quality: int = LOW_QUALITY_CELLS,
    ) -> None:
        self.target = target
        self.layout = layout_for(target)
        self.catalog = ShapeCatalog.build(self.layout, target)
        self.reuse_limit = reuse_limit
        self.isolate_above = isolate_above
        self.order = (
            NoiseAwareOrder(self.layout, target, low_quality)
            if self.noise_aware
            else topmost_leftmost
        )
        resets = [
            p.duration
            for p in (target["reset"].values() if "reset" in target else [])
            if p and p.duration
        ]
        self.reset_s = statistics.median(resets) if resets else 0.0

    def prepare(self, program: Program) -> None:
        circuit = program.circuit
        versions = []
        for shape in self.catalog.versions(circuit.num_qubits, program.name):
            try:
                compiled = shape.compile(circuit)
            except TranspilerError as error:
                raise ProgramError(
                    f"{program.name}: cannot compile for a {shape.name} qVM of this device: "
                    f"{one_line(error)}"
                ) from error
            versions.append(Version(shape, compiled, estimate_duration_s(compiled, shape.target)))
        program.compiled = Prepared(versions, sum(circuit.count_ops().values()))
        if midcircuit_operations(circuit) > self.isolate_above:
            program.isolated = True

    def next_batch(self, queue: Sequence[Program]) -> Batch:
        board = Board(self.layout, self.target)
        place_in_space(queue, board, self.order)
        if self.time_packing and not queue[0].isolated:
            append_in_time(queue, board, self.reuse_limit, self.reset_s)
        shots = min(item.program.shots_left for item in board.items)
        return compose_batch(board.items, shots, self.target)


class SpacePolicy(HyperQPolicy):
    name = "space"


class SpaceTimePolicy(HyperQPolicy):
    name = "space-time"
    time_packing = True


class NoiseAwarePolicy(HyperQPolicy):
    name = "noise-aware"
    noise_aware = True
