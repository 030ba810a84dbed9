"""HyperQ's Algorithm 1: FIFO space scheduling at the topmost-leftmost free position.

Every batch holds the head of the queue, which always fits an empty device, so after
k batches at least the first k programs have started: no program lands in a later
batch than under serial FIFO.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from streamflow_quantum.packing.hyperq.compose import Scheduled

if TYPE_CHECKING:
    from streamflow_quantum.packing.hyperq.board import Board
    from streamflow_quantum.packing.hyperq.prepared import Prepared
    from streamflow_quantum.packing.hyperq.qvm import Position, Shape

#: The positions a program may take, in the order to try them (noise-aware ordering).
PositionOrder = Callable[["Prepared", "Shape", bool], Iterable["Position"]]


def topmost_leftmost(program: Prepared, shape: Shape, head: bool) -> Iterable[Position]:
    return shape.positions


def place_in_space(queue: Sequence[Prepared], board: Board, order: PositionOrder) -> None:
    for index, program in enumerate(queue):
        if program.alone and index > 0:
            continue
        for version in program.versions:
            position = next(
                (
                    p
                    for p in order(program, version.shape, index == 0)
                    if not p.slots & board.occupied and board.isolated(p)
                ),
                None,
            )
            if position is not None:
                board.add(Scheduled(program.program, version, position, board.target))
                break
        if program.alone or board.full:
            return
