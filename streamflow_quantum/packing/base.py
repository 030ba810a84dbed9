"""The face every packing policy shows the broker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from streamflow_quantum.core.model import Batch, Program


class PackingPolicy(Protocol):
    """How the broker turns its FIFO queue into batches.

    ``prepare`` runs once per program when it is submitted (in a worker thread) and
    raises :class:`ProgramError` for a program the device cannot run. ``next_batch``
    forms one batch from the head of the queue; it must contain ``queue[0]`` so that
    no program waits longer than under serial FIFO.
    """

    name: str
    #: Whether gathering programs for ``batchWindow`` seconds can help this policy.
    packs: bool

    def prepare(self, program: Program) -> None: ...

    def next_batch(self, queue: Sequence[Program]) -> Batch: ...
