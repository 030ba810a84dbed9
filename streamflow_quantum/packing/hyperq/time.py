"""HyperQ's Algorithm 2: append programs after shorter ones in the same slots.

A program is appended only where it ends no later than the batch's longest program,
counting the reset that separates it from the program before it, and at most
``reuse_limit`` times per slot, so the batch never grows longer. Durations are the
Target's, along each compiled program's critical path (measurement included).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from streamflow_quantum.packing.hyperq.compose import Scheduled

if TYPE_CHECKING:
    from streamflow_quantum.core.model import Program
    from streamflow_quantum.packing.hyperq.board import Board
    from streamflow_quantum.packing.hyperq.prepared import Prepared
    from streamflow_quantum.packing.hyperq.qvm import Position, Slot, Version


@dataclass
class Timeline:
    """When each slot of a batch frees up, and how often it was reused."""

    board: Board
    reuse_limit: int
    reset_s: float
    ends: dict[Slot, float] = field(default_factory=dict)
    reuses: Counter[Slot] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        for item in self.board.items:
            end = item.start_s + item.duration_s
            for slot in item.position.slots:
                self.ends[slot] = max(self.ends.get(slot, 0.0), end)
        self.horizon = max(self.ends.values(), default=0.0)

    def try_append(self, program: Program, version: Version, position: Position) -> bool:
        """Append the program at ``position`` if it keeps the batch as long; say whether it did."""
        if any(self.reuses[slot] >= self.reuse_limit for slot in position.slots):
            return False
        busy = [self.ends[slot] for slot in position.slots if slot in self.ends]
        start = max(busy, default=0.0)
        estimate = (self.reset_s if busy else 0.0) + (version.duration_s or 0.0)
        if start + estimate > self.horizon or not self.board.isolated(position):
            return False
        before = frozenset(
            q
            for item in self.board.items
            if item.position.slots & position.slots
            for q in item.qubits
        )
        item = Scheduled(program, version, position, self.board.target, start, before)
        # The placement's own critical path, resets included, is the exact figure.
        end = start + item.duration_s
        if end > self.horizon:
            return False
        self.board.add(item)
        for slot in position.slots:
            self.ends[slot] = end
            self.reuses[slot] += 1
        return True


def append_in_time(
    queue: Sequence[Prepared], board: Board, reuse_limit: int, reset_s: float
) -> None:
    if any(item.version.duration_s is None for item in board.items):
        return
    timeline = Timeline(board, reuse_limit, reset_s)
    placed = board.programs
    for prepared in queue:
        if prepared.program in placed or prepared.alone:
            continue
        for version in prepared.versions:
            if version.duration_s is not None and any(
                timeline.try_append(prepared.program, version, position)
                for position in version.shape.positions
            ):
                break
