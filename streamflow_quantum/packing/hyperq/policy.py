"""The HyperQ packing policies the broker calls: ``space``, ``space-time``, ``noise-aware``."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from qiskit.transpiler.exceptions import TranspilerError

from streamflow_quantum.backends.base import estimate_duration_s
from streamflow_quantum.core.config import Schema, load_schema
from streamflow_quantum.core.errors import ProgramError, one_line
from streamflow_quantum.packing.hyperq.board import Board
from streamflow_quantum.packing.hyperq.compose import compose_batch
from streamflow_quantum.packing.hyperq.noise import NoiseAwareOrder
from streamflow_quantum.packing.hyperq.prepared import Prepared, midcircuit_operations
from streamflow_quantum.packing.hyperq.qvm import ShapeCatalog, Version
from streamflow_quantum.packing.hyperq.regions import layout_for
from streamflow_quantum.packing.hyperq.space import place_in_space, topmost_leftmost
from streamflow_quantum.packing.hyperq.time import append_in_time

if TYPE_CHECKING:
    from qiskit.transpiler import Target

    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.core.model import Batch, Program


class HyperQPolicy:
    """Space scheduling (Algorithm 1), optionally time scheduling and noise-aware placement."""

    name = "space"
    packs = True
    time_packing = False
    noise_aware = False

    def __init__(
        self, target: Target, reuse_limit: int, isolate_above: int, low_quality: int
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
        #: Each queued program's compiled versions, by program id.
        self.prepared: dict[str, Prepared] = {}

    @classmethod
    def options_schema(cls) -> Schema:
        return load_schema("streamflow_quantum.packing", "hyperq.json")

    @classmethod
    def from_backend(cls, backend: Backend, **options: Any) -> HyperQPolicy:
        return cls(backend.target, **options)

    def forget(self, program: Program) -> None:
        self.prepared.pop(program.id, None)

    def prepare(self, program: Program, like: Program | None = None) -> None:
        if like is not None:
            self.prepared[program.id] = replace(self.prepared[like.id], program=program)
            return
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
        self.prepared[program.id] = Prepared(
            program,
            versions,
            sum(circuit.count_ops().values()),
            midcircuit_operations(circuit) > self.isolate_above,
        )

    def next_batch(self, queue: Sequence[Program]) -> Batch:
        prepared = [self.prepared[program.id] for program in queue]
        board = Board(self.layout, self.target)
        place_in_space(prepared, board, self.order)
        if self.time_packing and not prepared[0].alone:
            append_in_time(prepared, board, self.reuse_limit, self.reset_s)
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
