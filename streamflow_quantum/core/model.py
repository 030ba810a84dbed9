"""What the broker, the packing policies and the backends exchange.

A :class:`Batch` has two faces: the composite circuit a real QPU runs, and its
placements (each program alone on its physical qubits) that a simulator may run as
separate experiments. Both faces give each program's counts over its own classical
bits, as bitstrings in Qiskit order (clbit 0 rightmost, registers joined, no spaces).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qiskit import QuantumCircuit


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class User:
    """Who submits programs to a shared broker (a users file's entry; one anonymous user
    when the broker has a single shared secret)."""

    name: str
    #: Weight under the ``priority`` queue policy (higher runs sooner).
    priority: float = 1.0
    #: Programs the user may have queued at once (0: no cap).
    max_queued: int = 0
    #: Modelled device seconds the user may use per quota period (0: no cap).
    device_s: float = 0.0


#: The user of a broker with one shared secret, and of programs submitted in-process.
ANONYMOUS = User("anonymous")


@dataclass(eq=False)
class Program:
    """One circuit submitted by one client, queued until all its shots have run."""

    name: str
    circuit: QuantumCircuit
    shots: int
    client: str = ""
    #: Who submitted it: queue policies and quotas count by user.
    user: User = ANONYMOUS
    seed: int | None = None
    #: Share of its solo success probability packing may cost it (None: the broker's default).
    fidelity_budget: float | None = None
    id: str = field(default_factory=lambda: new_id("p"))
    #: The client's idempotency key: a resubmission with the same key is the same program.
    token: str | None = None
    #: The circuit file as submitted, kept so a restarted broker can parse it again.
    source: bytes = b""
    submitted: float = field(default_factory=time.time)
    # What follows is the broker's bookkeeping; what a policy keeps for a program
    # (its compiled versions) lives in the policy.
    #: Run alone: a shared batch with this program failed, and it is retried on its own.
    alone: bool = False
    shots_done: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    started: float | None = None
    jobs: list[str] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)
    placement: tuple[int, ...] = ()
    #: The device calibration its last batch was placed against (None: no calibration).
    calibration: str | None = None
    #: Where placing it fell short of the policy's aim (see :attr:`Placement.notes`).
    notes: tuple[str, ...] = ()

    @property
    def shots_left(self) -> int:
        return self.shots - self.shots_done


@dataclass(eq=False)
class Placement:
    """A program on physical qubits.

    ``circuit`` spans every device qubit (idle ones untouched) and only the
    program's own classical bits; it is valid on the device Target on its own.
    """

    program: Program
    circuit: QuantumCircuit
    qubits: tuple[int, ...]
    #: Start within the batch, in seconds of device time (time multiplexing).
    start_s: float = 0.0
    #: How the placement was chosen where a step fell short of its aim (e.g. no
    #: less noisy labelling found): logged, and shown in the program's result.
    notes: tuple[str, ...] = ()


@dataclass(eq=False)
class Batch:
    """Programs that run together as one backend job, each for ``shots`` shots."""

    placements: list[Placement]
    shots: int
    #: The composite circuit over all device qubits; its classical bits are the
    #: placements' bits laid out by ``clbit_slices``.
    composite: QuantumCircuit
    clbit_slices: list[slice]
    #: Estimated device time of one shot, in seconds (critical path).
    duration_s: float = 0.0
    id: str = field(default_factory=lambda: new_id("b"))
    #: Told the backend's job id as soon as the backend has one (the broker journals it,
    #: so that a restarted broker can fetch the job's counts instead of running it again).
    on_job: Callable[[str], None] | None = field(default=None, repr=False)

    def report_job(self, job_id: str) -> None:
        if self.on_job is not None:
            self.on_job(job_id)

    @property
    def programs(self) -> list[Program]:
        return [placement.program for placement in self.placements]

    def split_counts(self, counts: Mapping[str, int]) -> list[Counter[str]]:
        """Slice each placement's bits out of the composite's counts."""
        width = self.composite.num_clbits
        parts: list[Counter[str]] = [Counter() for _ in self.placements]
        for key, n in counts.items():
            bits = key.replace(" ", "").zfill(width)
            for part, sl in zip(parts, self.clbit_slices, strict=True):
                part[bits[width - sl.stop : width - sl.start]] += n
        return parts
