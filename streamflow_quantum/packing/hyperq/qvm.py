"""qVM shapes: virtual backends a program compiles to without knowing what runs beside it.

A shape is m x n cells of the layout with the links between them (HyperQ's scaled
qVMs), a half cell (programs of up to 3 qubits), or the whole device (programs too
wide for any shape of the grid; they run alone). Its Target carries the device's
gates, with median durations and errors, on the shape's undirected coupling map;
gate directions are fixed once the program is placed.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from functools import cached_property
from itertools import permutations
from typing import TYPE_CHECKING

from qiskit.converters import circuit_to_dag
from qiskit.transpiler import InstructionProperties, Target
from qiskit.transpiler.exceptions import TranspilerError
from qiskit.transpiler.passes import VF2PostLayout
from qiskit.transpiler.passes.layout.vf2_post_layout import VF2PostLayoutStopReason

from streamflow_quantum.backends.transpiling import transpile
from streamflow_quantum.core.errors import ProgramError, one_line

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from streamflow_quantum.packing.hyperq.regions import Layout


@dataclass(frozen=True)
class Relabelling:
    """Local labels for a placed program's qubits, and notes where the search fell short."""

    labels: tuple[int, ...]
    notes: tuple[str, ...] = ()


#: A unit of occupancy: (row, col, half) of a cell.
Slot = tuple[int, int, int]
OPTIMIZATION_LEVEL = 1
VF2_CALL_LIMIT = 30_000


@dataclass(frozen=True)
class Position:
    """A shape laid on the device: the physical qubit of each local qubit."""

    qubits: tuple[int, ...]
    slots: frozenset[Slot]
    origin: tuple[int, int, int]


@dataclass(eq=False)
class Shape:
    name: str
    #: Local undirected edges; None when every pair couples.
    edges: tuple[tuple[int, int], ...] | None
    positions: tuple[Position, ...]
    cells: int
    device_target: Target

    @property
    def num_qubits(self) -> int:
        return len(self.positions[0].qubits)

    @cached_property
    def target(self) -> Target:
        if self.name == "device":
            return self.device_target
        return virtual_target(self.device_target, self.num_qubits, self.edges)

    @cached_property
    def _position_targets(self) -> dict[Position, Target]:
        return {}

    def position_target(self, position: Position) -> Target:
        """The device's own gate properties on the position's qubits, in local indices."""
        target = self._position_targets.get(position)
        if target is None:
            target = self._position_targets[position] = _local_target(
                self.device_target, position.qubits, self.edges
            )
        return target

    def position_targets(self) -> list[Target]:
        """The Target of each position (the device's own for the whole-device shape)."""
        if self.name == "device":
            return [self.device_target]
        return [self.position_target(position) for position in self.positions]

    def best_labels(self, circuit: QuantumCircuit, position: Position) -> Relabelling:
        """Local qubit for each qubit of the compiled circuit: the least noisy equivalent labelling.

        Relabelling within the shape's coupling map keeps the program valid, so this is
        VF2PostLayout scored on the position's calibration (readout errors included).
        Where it finds nothing better, the compiled labels stay, and its stop reason
        says why.
        """
        identity = tuple(range(circuit.num_qubits))
        if self.name == "device":
            return Relabelling(identity)
        dag = circuit_to_dag(circuit)
        relabel = VF2PostLayout(
            target=self.position_target(position),
            seed=0,
            strict_direction=False,
            call_limit=VF2_CALL_LIMIT,
        )
        try:
            relabel.run(dag)
        except TranspilerError as e:
            logger.info("no relabelling of %s on %s: %s", circuit.name, self.name, e)
            return Relabelling(identity, (f"relabelling skipped: {one_line(e)}",))
        layout = relabel.property_set["post_layout"]
        if layout is None:
            reason = relabel.property_set["VF2PostLayout_stop_reason"]
            if reason is VF2PostLayoutStopReason.NO_BETTER_SOLUTION_FOUND:
                return Relabelling(identity)
            return Relabelling(identity, (f"relabelling kept the compiled labels: {reason.value}",))
        chosen = layout.get_virtual_bits()
        spare = [p for p in range(len(position.qubits)) if p not in chosen.values()]
        return Relabelling(tuple(chosen[q] if q in chosen else spare.pop(0) for q in dag.qubits))

    def compile(self, circuit: QuantumCircuit) -> QuantumCircuit:
        return transpile(circuit, self.target, OPTIMIZATION_LEVEL)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _median_properties(
    device: Target, name: str, pad_s: float = 0.0
) -> InstructionProperties | None:
    entries = [p for p in device[name].values() if p is not None]
    duration = _median([p.duration for p in entries if p.duration is not None])
    error = _median([p.error for p in entries if p.error is not None])
    if duration is None and error is None:
        return None
    return InstructionProperties(
        duration=None if duration is None else duration + pad_s, error=error
    )


def _direction_pad_s(device: Target, name: str) -> float:
    """Time a reversed gate costs: one single-qubit layer before and after, where directions matter."""
    qargs = device.qargs_for_operation_name(name) or set()
    if all((b, a) in qargs for a, b in qargs):
        return 0.0
    layers = [
        props.duration
        for gate in ("sx", "x")
        if gate in device.operation_names
        for props in device[gate].values()
        if props is not None and props.duration is not None
    ]
    return 2 * max(layers, default=0.0)


def _both_directions(
    num_qubits: int, edges: tuple[tuple[int, int], ...] | None
) -> list[tuple[int, int]]:
    """Every coupled pair both ways; ``edges=None`` couples all qubits."""
    if edges is None:
        return list(permutations(range(num_qubits), 2))
    return [*edges, *((b, a) for a, b in edges)]


def _local_target(
    device: Target, qubits: tuple[int, ...], edges: tuple[tuple[int, int], ...] | None
) -> Target:
    """``device`` restricted to ``qubits`` (renumbered 0..n-1), two-qubit gates in both directions."""
    target = Target(num_qubits=len(qubits), dt=device.dt)
    pairs = _both_directions(len(qubits), edges)
    for name in device.operation_names:
        operation = device.operation_from_name(name)
        supported = device.qargs_for_operation_name(name)
        if supported is None or isinstance(operation, type):
            target.add_instruction(operation, name=name)
        elif operation.num_qubits == 1:
            target.add_instruction(
                operation, {(i,): device[name].get((q,)) for i, q in enumerate(qubits)}, name=name
            )
        elif operation.num_qubits == 2:
            props = {}
            for a, b in pairs:
                forward, backward = (qubits[a], qubits[b]), (qubits[b], qubits[a])
                if forward in supported or backward in supported:
                    props[a, b] = device[name].get(forward) or device[name].get(backward)
            if props:
                target.add_instruction(operation, props, name=name)
    return target


def virtual_target(
    device: Target, num_qubits: int, edges: tuple[tuple[int, int], ...] | None
) -> Target:
    """The device's gates on ``num_qubits`` qubits coupled by ``edges`` in both directions.

    Properties are the device's medians; two-qubit gates of a directed device are
    padded by the single-qubit layers a reversal adds, so estimates stay upper bounds.
    """
    target = Target(num_qubits=num_qubits, dt=device.dt)
    pairs = _both_directions(num_qubits, edges)
    for name in device.operation_names:
        operation = device.operation_from_name(name)
        qargs = device.qargs_for_operation_name(name)
        if qargs is None or isinstance(operation, type):
            target.add_instruction(operation, name=name)
            continue
        if operation.num_qubits == 1:
            props = _median_properties(device, name)
            target.add_instruction(
                operation, dict.fromkeys(((q,) for q in range(num_qubits)), props), name=name
            )
        elif operation.num_qubits == 2 and pairs:
            props = _median_properties(device, name, _direction_pad_s(device, name))
            target.add_instruction(operation, dict.fromkeys(pairs, props), name=name)
    return target


def _grid_qubits(layout: Layout, r0: int, c0: int, rows: int, cols: int) -> tuple[int, ...]:
    """Qubits of a rows x cols qVM at (r0, c0): cells, then horizontal, then vertical links."""
    parts = [layout.cells[r, c] for r in range(r0, r0 + rows) for c in range(c0, c0 + cols)]
    parts += [layout.hlinks[r, c] for r in range(r0, r0 + rows) for c in range(c0, c0 + cols - 1)]
    parts += [layout.vlinks[r, c] for r in range(r0, r0 + rows - 1) for c in range(c0, c0 + cols)]
    return tuple(dict.fromkeys(q for part in parts for q in part))


def _local_edges(layout: Layout, qubits: tuple[int, ...]) -> set[tuple[int, int]]:
    index = {q: i for i, q in enumerate(qubits)}
    sub = layout.graph.subgraph(qubits)
    pairs = ((index[a], index[b]) for a, b in sub.edges)
    return {(min(i, j), max(i, j)) for i, j in pairs}


def _grid_shape(layout: Layout, device: Target, rows: int, cols: int) -> Shape | None:
    if rows > 1 and not layout.vlinks or cols > 1 and not layout.hlinks:
        return None
    reference = _grid_qubits(layout, 0, 0, rows, cols)
    edges = None if layout.all_to_all else tuple(sorted(_local_edges(layout, reference)))
    positions = []
    for r0 in range(layout.rows - rows + 1):
        for c0 in range(layout.cols - cols + 1):
            qubits = _grid_qubits(layout, r0, c0, rows, cols)
            if edges is not None and not set(edges) <= _local_edges(layout, qubits):
                continue
            slots = frozenset(
                (r, c, h)
                for r in range(r0, r0 + rows)
                for c in range(c0, c0 + cols)
                for h in (0, 1)
            )
            positions.append(Position(qubits, slots, (r0, c0, 0)))
    if not positions:
        return None
    return Shape(f"{rows}x{cols}", edges, tuple(positions), rows * cols, device)


def _half_shape(layout: Layout, device: Target) -> Shape | None:
    if not layout.halves:
        return None
    positions = tuple(
        Position(tuple(qubits[i] for i in half), frozenset({(r, c, h)}), (r, c, h))
        for (r, c), qubits in sorted(layout.cells.items())
        for h, half in enumerate(layout.halves)
    )
    edges = tuple((i, i + 1) for i in range(len(layout.halves[0]) - 1))
    return Shape("half", edges, positions, 0, device)


def _device_shape(layout: Layout, device: Target) -> Shape:
    slots = frozenset((r, c, h) for r, c in layout.cells for h in (0, 1))
    position = Position(tuple(range(layout.num_qubits)), slots, (0, 0, 0))
    return Shape("device", None, (position,), len(layout.cells), device)


@dataclass(eq=False)
class Version:
    """A program compiled for one shape, with its estimated device time per shot."""

    shape: Shape
    circuit: QuantumCircuit
    duration_s: float | None


@dataclass(eq=False)
class ShapeCatalog:
    """Every shape a device offers, and the rule that picks a program's versions."""

    layout: Layout
    half: Shape | None
    grid: dict[tuple[int, int], Shape]
    device: Shape

    @classmethod
    def build(cls, layout: Layout, device: Target) -> ShapeCatalog:
        grid = {}
        for rows in range(1, layout.rows + 1):
            for cols in range(1, layout.cols + 1):
                shape = _grid_shape(layout, device, rows, cols)
                if shape is not None:
                    grid[rows, cols] = shape
        return cls(layout, _half_shape(layout, device), grid, _device_shape(layout, device))

    def shape(self, name: str) -> Shape:
        """The catalog's shape called ``name``."""
        shapes = [self.device, *self.grid.values(), *([self.half] if self.half else [])]
        return next(shape for shape in shapes if shape.name == name)

    def versions(self, width: int, name: str) -> list[Shape]:
        """HyperQ's rule: fewest cells, then the squarest; both orientations (at most 2)."""
        if self.half is not None and width <= self.half.num_qubits:
            return [self.half]
        fitting = [
            (s.cells, abs(r - c), s) for (r, c), s in self.grid.items() if s.num_qubits >= width
        ]
        if fitting:
            best = min(fitting, key=lambda item: item[:2])[:2]
            return [s for cells, skew, s in fitting if (cells, skew) == best][:2]
        if width <= self.layout.num_qubits:
            return [self.device]
        raise ProgramError(
            f"{name}: needs {width} qubits but the device has {self.layout.num_qubits}; "
            "use a larger device or a smaller circuit"
        )
