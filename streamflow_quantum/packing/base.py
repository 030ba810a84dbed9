"""The face every packing policy shows the broker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.core.config import Schema
    from streamflow_quantum.core.model import Batch, Program


class PackingPolicy(Protocol):
    """How the broker turns its FIFO queue into batches.

    ``prepare`` runs once per program when it is submitted, in worker threads, several
    at once (so that one long compile holds up nobody), while ``next_batch`` runs in one
    thread at a time: a policy guards the state the two share. ``prepare``
    raises :class:`~streamflow_quantum.core.errors.ProgramError` for a program the
    device cannot run. ``next_batch`` forms one batch from the head of the queue; it
    must contain ``queue[0]`` so that no program waits longer than under serial FIFO.
    ``forget`` drops what the policy kept for a program that left the queue.
    ``prepare(program, like)`` reuses the preparation of ``like``, a program with the
    same circuit prepared before.
    """

    name: str
    #: Whether gathering programs for ``batchWindow`` seconds can help this policy.
    packs: bool

    @classmethod
    def options_schema(cls) -> Schema | None: ...

    @classmethod
    def from_backend(cls, backend: Backend, **options: Any) -> PackingPolicy: ...

    def prepare(self, program: Program, like: Program | None = None) -> None: ...

    def next_batch(self, queue: Sequence[Program]) -> Batch: ...

    def forget(self, program: Program) -> None: ...
