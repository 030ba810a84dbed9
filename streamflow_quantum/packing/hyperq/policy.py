"""The HyperQ packing policies the broker calls: ``space``, ``space-time``, ``noise-aware``."""

from __future__ import annotations

import statistics
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from qiskit.transpiler.exceptions import TranspilerError

from streamflow_quantum.backends.base import estimate_duration_s
from streamflow_quantum.core.config import Schema, load_schema
from streamflow_quantum.core.errors import ProgramError, one_line
from streamflow_quantum.packing.fidelity import success_probability
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
        #: Regions depend on the coupling map alone, which a new calibration keeps.
        self.layout = layout_for(target)
        self.reuse_limit = reuse_limit
        self.isolate_above = isolate_above
        self.low_quality = low_quality
        #: Where :meth:`recalibrate` reads a new Target (set by :meth:`from_backend`).
        self.backend: Backend | None = None
        #: Each queued program's compiled versions, by program id.
        self.prepared: dict[str, Prepared] = {}
        # Guards what prepare, next_batch and recalibrate share: the catalog and prepared.
        self._lock = threading.Lock()
        self._calibrate(target)

    def _calibrate(self, target: Target) -> None:
        """Read the Target's errors and durations: qVM shapes, region ranking, reset time."""
        self.target = target
        self.catalog = ShapeCatalog.build(self.layout, target)
        self.order = (
            NoiseAwareOrder(self.layout, target, self.low_quality)
            if self.noise_aware
            else topmost_leftmost
        )
        resets = [
            p.duration
            for p in (target["reset"].values() if "reset" in target else [])
            if p and p.duration
        ]
        self.reset_s = statistics.median(resets) if resets else 0.0

    @classmethod
    def options_schema(cls) -> Schema:
        return load_schema("streamflow_quantum.packing", "hyperq.json")

    @classmethod
    def from_backend(cls, backend: Backend, **options: Any) -> HyperQPolicy:
        policy = cls(backend.target, **options)
        policy.backend = backend
        return policy

    def forget(self, program: Program) -> None:
        with self._lock:
            self.prepared.pop(program.id, None)

    def prepare(self, program: Program, like: Program | None = None) -> None:
        """Compile for each of the program's shapes (in the calling thread, beside others)."""
        if like is not None:
            with self._lock:
                self.prepared[program.id] = replace(self.prepared[like.id], program=program)
            return
        circuit = program.circuit
        catalog = self.catalog
        versions = []
        for shape in catalog.versions(circuit.num_qubits, program.name):
            try:
                compiled = shape.compile(circuit)
            except TranspilerError as error:
                raise ProgramError(
                    f"{program.name}: cannot compile for a {shape.name} qVM of this device: "
                    f"{one_line(error)}"
                ) from error
            versions.append(Version(shape, compiled, estimate_duration_s(compiled, shape.target)))
        with self._lock:
            if self.catalog is not catalog:  # recalibrated while compiling
                versions = self._rebound(versions)
            self.prepared[program.id] = Prepared(
                program,
                versions,
                sum(circuit.count_ops().values()),
                midcircuit_operations(circuit) > self.isolate_above,
            )

    def recalibrate(self, target: Target | None = None) -> None:
        """Take a new calibration's Target (default: the backend's current one).

        Shapes, the noise-aware region ranking and the reset time are read again, and
        every queued program's versions move to the new shapes of the same name, their
        durations estimated again (relabelling then scores the new errors). Compiled
        circuits stay: the new Target has the same gates and coupling map.
        """
        if target is None:
            if self.backend is None:
                raise ValueError(f"this {self.name} policy has no backend: pass the new Target")
            target = self.backend.target
        with self._lock:
            self._calibrate(target)
            for item in self.prepared.values():
                item.versions = self._rebound(item.versions)

    def _rebound(self, versions: list[Version]) -> list[Version]:
        """``versions`` on the current catalog's shapes."""
        rebound = []
        for version in versions:
            shape = self.catalog.shape(version.shape.name)
            duration = estimate_duration_s(version.circuit, shape.target)
            rebound.append(Version(shape, version.circuit, duration))
        return rebound

    def solo_success(self, program: Program) -> float | None:
        """The best estimate over the program's versions and their positions on the device
        (as compiled, before relabelling)."""
        with self._lock:
            versions = list(self.prepared[program.id].versions)
        return max(
            success_probability(version.circuit, target)
            for version in versions
            for target in version.shape.position_targets()
        )

    def next_batch(self, queue: Sequence[Program]) -> Batch:
        with self._lock:
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
