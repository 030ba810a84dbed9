"""A batch being formed: which slots and qubits its scheduled programs hold."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qiskit.transpiler import Target

    from streamflow_quantum.core.model import Program
    from streamflow_quantum.packing.hyperq.compose import Scheduled
    from streamflow_quantum.packing.hyperq.qvm import Position, Slot
    from streamflow_quantum.packing.hyperq.regions import Layout


@dataclass(eq=False)
class Board:
    layout: Layout
    target: Target
    items: list[Scheduled] = field(default_factory=list)
    #: Slots held by space scheduling (the first program in each).
    occupied: set[Slot] = field(default_factory=set)

    @property
    def programs(self) -> set[Program]:
        return {item.program for item in self.items}

    @property
    def full(self) -> bool:
        return len(self.occupied) == 2 * len(self.layout.cells)

    def isolated(self, position: Position) -> bool:
        """No coupling edge between the position and any program in other slots."""
        around = self.layout.neighbours(set(position.qubits))
        return not any(
            around.intersection(item.position.qubits)
            for item in self.items
            if not item.position.slots & position.slots
        )

    def add(self, item: Scheduled) -> None:
        self.items.append(item)
        self.occupied |= item.position.slots
