"""Noise-aware placement: rank regions by the Target's error rates.

A set of qubits scores the mean two-qubit error over its coupling edges plus the
mean readout error of its qubits (HyperQ used two-qubit errors only; on Eagle
devices readout errors differ tenfold between qubits and dominate small programs).
Scores are read once per calibration: by the policy, then again by its
``recalibrate``. The worst ``low_quality`` cells are low-quality. Sensitive
programs take the topmost-leftmost free position outside them (inside only when
they head the queue and fit nowhere else); heavy programs try
low-quality positions first.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qiskit.transpiler import Target

    from streamflow_quantum.packing.hyperq.prepared import Prepared
    from streamflow_quantum.packing.hyperq.qvm import Position, Shape
    from streamflow_quantum.packing.hyperq.regions import Cell, Layout

#: HyperQ's sensitivity heuristic: programs with fewer operations are noise-sensitive.
HEAVY_OPERATIONS = 340


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


def qubits_error(layout: Layout, target: Target, gates: list[str], qubits: Iterable[int]) -> float:
    """Mean two-qubit error over the qubits' coupling edges plus their mean readout error."""
    qubits = list(qubits)
    edges = [
        e
        for a, b in layout.graph.subgraph(qubits).edges
        if (e := edge_error(target, gates, a, b)) is not None
    ]
    readout = [
        props.error
        for q in qubits
        if "measure" in target
        and (props := target["measure"].get((q,))) is not None
        and props.error is not None
    ]
    return (statistics.fmean(edges) if edges else 0.0) + (
        statistics.fmean(readout) if readout else 0.0
    )


def cell_errors(layout: Layout, target: Target) -> dict[Cell, float]:
    gates = two_qubit_gates(target)
    return {
        cell: qubits_error(layout, target, gates, qubits) for cell, qubits in layout.cells.items()
    }


def low_quality_cells(layout: Layout, target: Target, count: int) -> frozenset[Cell]:
    scores = cell_errors(layout, target)
    if len(set(scores.values())) <= 1:
        return frozenset()
    ranked = sorted(scores, key=lambda cell: (-scores[cell], cell))
    return frozenset(ranked[: min(count, len(ranked) - 1)])


def is_resilient(program: Prepared) -> bool:
    return program.operations >= HEAVY_OPERATIONS


class NoiseAwareOrder:
    """Positions in the order a program should try them: HyperQ's rule on our ranking."""

    def __init__(self, layout: Layout, target: Target, low_quality: int) -> None:
        self.low = low_quality_cells(layout, target, low_quality)

    def _is_low(self, position: Position) -> bool:
        return any((r, c) in self.low for r, c, _ in position.slots)

    def __call__(self, program: Prepared, shape: Shape, head: bool) -> Iterable[Position]:
        if is_resilient(program):
            return sorted(shape.positions, key=self._is_low, reverse=True)
        good = [p for p in shape.positions if not self._is_low(p)]
        return good + [p for p in shape.positions if self._is_low(p)] if head else good
