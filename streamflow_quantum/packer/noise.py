"""Noise-aware placement: rank cells by the Target's two-qubit error rates.

The ranking is read once per policy, that is once per calibration (a new calibration
comes as a new Target). The worst ``low_quality`` cells take noise-resilient or
heavy programs first; the others are kept for sensitive programs, which never take
a low-quality cell unless they head the queue and fit nowhere else.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qiskit.transpiler import Target

    from streamflow_quantum.broker.model import Program
    from streamflow_quantum.packer.qvm import Position, Shape
    from streamflow_quantum.packer.regions import Cell, Layout

#: HyperQ's sensitivity heuristic: programs with fewer operations are noise-sensitive.
HEAVY_OPERATIONS = 340
LOW_QUALITY_CELLS = 3


def two_qubit_gates(target: Target) -> list[str]:
    return [
        name
        for name in target.operation_names
        if not isinstance(op := target.operation_from_name(name), type)
        and op.num_qubits == 2
        and target.qargs_for_operation_name(name) is not None
    ]


def edge_error(target: Target, gates: list[str], a: int, b: int) -> float | None:
    """The error of the best two-qubit gate on the edge, in either direction."""
    errors = [
        props.error
        for name in gates
        for qargs in ((a, b), (b, a))
        if (props := target[name].get(qargs)) is not None and props.error is not None
    ]
    return min(errors, default=None)


def cell_errors(layout: Layout, target: Target) -> dict[Cell, float]:
    """Mean two-qubit error over each cell's coupling edges (0 where the Target has none)."""
    gates = two_qubit_gates(target)
    scores = {}
    for cell, qubits in layout.cells.items():
        errors = [
            e
            for a, b in layout.graph.subgraph(qubits).edges
            if (e := edge_error(target, gates, a, b)) is not None
        ]
        scores[cell] = statistics.fmean(errors) if errors else 0.0
    return scores


def low_quality_cells(
    layout: Layout, target: Target, count: int = LOW_QUALITY_CELLS
) -> frozenset[Cell]:
    scores = cell_errors(layout, target)
    if len(set(scores.values())) <= 1:
        return frozenset()
    ranked = sorted(scores, key=lambda cell: (-scores[cell], cell))
    return frozenset(ranked[: min(count, len(ranked) - 1)])


def is_resilient(program: Program) -> bool:
    return program.noise_resilient or program.compiled.operations >= HEAVY_OPERATIONS


class NoiseAwareOrder:
    """Positions in the order a program should try them, by the quality of their cells."""

    def __init__(self, low: frozenset[Cell]) -> None:
        self.low = low

    def _is_low(self, position: Position) -> bool:
        return any((r, c) in self.low for r, c, _ in position.slots)

    def __call__(self, program: Program, shape: Shape, head: bool) -> Iterable[Position]:
        good = [p for p in shape.positions if not self._is_low(p)]
        bad = [p for p in shape.positions if self._is_low(p)]
        if is_resilient(program):
            return bad + good
        return good + bad if head else good
