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
    at once (so that one long compile holds up nobody; compile with
    :func:`~streamflow_quantum.backends.transpiling.transpile`, which a broker runs in a
    compiler process), while ``next_batch`` runs in one
    thread at a time: a policy guards the state the two share. ``prepare``
    raises :class:`~streamflow_quantum.core.errors.ProgramError` for a program the
    device cannot run. ``next_batch`` forms one batch from the head of the queue; it
    must contain ``queue[0]`` so that no program waits longer than under serial FIFO.
    ``forget`` drops what the policy kept for a program that left the queue.
    ``prepare(program, like)`` reuses the preparation of ``like``, a program with the
    same circuit prepared before.

    ``recalibrate`` re-reads the backend's Target after a new calibration of the same
    device (same qubits, gates and coupling map): it holds the policy's lock, so it never
    races ``prepare`` or ``next_batch``, and programs prepared before stay valid.
    ``solo_success`` is a prepared program's estimated success probability alone on the
    empty device at its best placement, or None where the policy has no cheap estimate
    (a broker with several QPUs compares them by it).
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

    def recalibrate(self) -> None: ...

    def solo_success(self, program: Program) -> float | None: ...
