"""The QPUs behind one broker, and the device-time model that estimates when work ends.

Each QPU is a backend with its own packing policy (a program is prepared for every
QPU that can run it) and its own packer thread. What a batch costs on a QPU is
modelled from its recent batches: the modelled device time plus the overhead seen
around it (queueing at the provider, transfers, simulation) and the time spent forming
it, averaged; until a QPU has run a batch, ``DEFAULT_OVERHEAD_S`` stands in for the
overhead. Which programs a packed batch takes is the policy's own answer for the first
batches of the queue (formed ahead, see ``formed.py``), and a fill by width after them.
"""

from __future__ import annotations

import heapq
import logging
import statistics
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from streamflow_quantum.broker.formed import Formed
from streamflow_quantum.broker.threads import WorkerPool
from streamflow_quantum.core.errors import one_line

if TYPE_CHECKING:
    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.core.model import Batch, Program
    from streamflow_quantum.packing.base import PackingPolicy

logger = logging.getLogger(__name__)

#: Seconds a backend job costs beyond its modelled device time, until batches have run
#: (then the mean observed); ``sfq bench packer``'s clock uses the same.
DEFAULT_OVERHEAD_S = 2.0
#: Batches whose figures a QPU's model averages.
RECENT_BATCHES = 32
#: Queued programs the model looks through to fill a batch, from the head.
LOOK_AHEAD = 256
#: Batches of the queue's head that estimates take from the policy itself, and the
#: seconds an estimate may spend forming them (the rest of the queue is modelled).
PLANNED_BATCHES = 16
PLANNING_S = 1.0
#: Characters of a client digest ``status`` shows.
CLIENT_PREFIX = 8


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


@dataclass(eq=False)
class Qpu:
    """One device behind the broker and what it runs."""

    backend: Backend
    policy: PackingPolicy
    #: How the broker names it (the backend's name; ``#2`` and on for a second of a kind).
    label: str
    #: The policy's batches formed ahead (shared by QPUs that share the policy).
    formed: Formed
    packer: WorkerPool = field(init=False)
    running: Batch | None = None
    #: When the running batch started.
    started: float = 0.0
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_BATCHES))
    #: Seconds its recent batches took to form, from the queue to a batch ready to run.
    forming: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_BATCHES))
    #: Why the broker stopped sending it work (it failed or went offline), or None.
    drained: str | None = None
    #: Qubits of programs (their widths, summed) in each recent batch that left some of
    #: the queue out for want of room: what this device holds at once.
    full_widths: deque[int] = field(default_factory=lambda: deque(maxlen=RECENT_BATCHES))

    def __post_init__(self) -> None:
        self.packer = WorkerPool(1, f"sfq-pack-{self.label}")

    @property
    def online(self) -> bool:
        return self.drained is None

    @property
    def num_qubits(self) -> int:
        return self.backend.num_qubits

    def overhead_s(self) -> float:
        if not self.recent:
            return DEFAULT_OVERHEAD_S
        return _mean([max(0.0, b["wall_s"] - b["device_s"]) for b in self.recent])

    def device_s_per_batch(self) -> float:
        return _mean([b["device_s"] for b in self.recent])

    def forming_s(self) -> float:
        return _mean(self.forming)

    def batch_s(self) -> float:
        """What a batch costs here, by the model: forming it, device time and overhead."""
        return self.forming_s() + self.device_s_per_batch() + self.overhead_s()

    def capacity(self) -> float:
        """Qubits of programs (their own widths, summed) a batch can hold here: the most a
        recent batch held, and at least the device's qubits (time packing may hold more)."""
        return float(max([self.num_qubits, *(b["width"] for b in self.recent)]))

    def filled_by(self, queue: Sequence[Program]) -> bool:
        """Whether ``queue`` holds as many qubits of programs as the fullest recent batch
        here did (the largest: a batch cut short for another reason must not count)."""
        return bool(self.full_widths) and (
            sum(p.circuit.num_qubits for p in queue) >= max(self.full_widths)
        )

    def running_end(self, now: float) -> float | None:
        """When the running batch should end by the model (None when idle)."""
        batch = self.running
        if batch is None:
            return None
        return max(now, self.started + batch.duration_s * batch.shots + self.overhead_s())

    def free_at(self, now: float) -> float:
        end = self.running_end(now)
        return now if end is None else end

    def status(self, now: float) -> dict[str, Any]:
        batch = self.running
        running = None
        if batch is not None:
            running = {
                "batch": batch.id,
                "programs": len(batch.programs),
                "clients": dict(Counter(p.client[:CLIENT_PREFIX] for p in batch.programs)),
                "qubits": len({q for p in batch.placements for q in p.qubits}),
                "shots": batch.shots,
                "device_s": batch.duration_s * batch.shots,
                "started": self.started,
                "estimated_end": self.running_end(now),
            }
        return {
            "name": self.label,
            "qubits": self.num_qubits,
            "packing": self.policy.name,
            "online": self.online,
            "drained": self.drained,
            "running": running,
            "model": {
                "forming_s": self.forming_s(),
                "overhead_s": self.overhead_s(),
                "device_s_per_batch": self.device_s_per_batch(),
                "batches_seen": len(self.recent),
                "batches_formed_ahead": len(self.formed),
            },
        }


def labelled(backends: Iterable[tuple[Backend, PackingPolicy]]) -> list[Qpu]:
    """QPUs named after their backends, a second one of a name as ``name#2``; QPUs that
    share a policy share its batches formed ahead."""
    qpus: list[Qpu] = []
    seen: dict[str, int] = {}
    formed: dict[int, Formed] = {}
    for backend, policy in backends:
        seen[backend.name] = seen.get(backend.name, 0) + 1
        n = seen[backend.name]
        label = backend.name if n == 1 else f"{backend.name}#{n}"
        qpus.append(Qpu(backend, policy, label, formed.setdefault(id(policy), Formed(policy))))
    return qpus


@dataclass(frozen=True)
class Outlook:
    """What the model knows of one online QPU at one instant.

    Read on the event loop, so that an estimate may run in a worker thread while the
    QPU's batches come and go.
    """

    free_at: float
    batch_s: float
    #: What a batch of known device time costs beyond it.
    overhead_s: float
    #: Qubits of programs a batch can hold (``Qpu.capacity``).
    capacity: float
    #: The packing policy's batches (None: one program a batch, the head).
    formed: Formed | None

    @classmethod
    def of(cls, qpu: Qpu, now: float) -> Outlook:
        return cls(
            free_at=qpu.free_at(now),
            batch_s=qpu.batch_s(),
            overhead_s=qpu.overhead_s(),
            capacity=qpu.capacity(),
            formed=qpu.formed if qpu.policy.packs else None,
        )

    def takes(self, queue: Sequence[Program], batch_size: int) -> list[int]:
        """Which programs of ``queue`` (positions) a packed batch should take, by width:
        the head, then each that still fits, as a packer fills the room the head leaves."""
        room, taken = self.capacity, list[int]()
        for i, program in enumerate(queue):
            if not taken or program.circuit.num_qubits <= room:
                taken.append(i)
                room -= program.circuit.num_qubits
                if len(taken) == batch_size or room <= 0:
                    break
        return taken


def estimate_starts(
    ordered: Sequence[Program],
    outlooks: Sequence[Outlook],
    earliest: float,
    batch_size: int,
    plan: bool = False,
) -> list[tuple[float, float]]:
    """When each program of the ordered queue should start and finish, by the model.

    Each batch goes to the QPU that should be free first (and starts no sooner than
    ``earliest``: the batch window). A packed batch among the first
    ``PLANNED_BATCHES`` is the one the QPU's policy forms on the queue left: formed
    now when ``plan`` (for at most ``PLANNING_S`` seconds; blocking: call it from a
    worker thread), else only where it was formed ahead already. Other batches are
    filled by width from the head (``Outlook.takes``). Which programs may run where
    is not modelled.
    """
    free = [(o.free_at, i) for i, o in enumerate(outlooks)]
    heapq.heapify(free)
    times: list[tuple[float, float] | None] = [None] * len(ordered) if free else []
    waiting = deque(range(len(ordered)))  # positions not yet in a batch, head first
    deadline, batches = time.monotonic() + PLANNING_S, 0
    while waiting and free:
        at, i = heapq.heappop(free)
        outlook = outlooks[i]
        start = max(at, earliest)
        end = start + outlook.batch_s
        if outlook.formed is None:  # one program a batch: the head
            times[waiting.popleft()] = (start, end)
        elif batches < PLANNED_BATCHES and (
            batch := _formed(outlook.formed, [ordered[j] for j in waiting], plan, deadline)
        ):
            start = max(start, time.time())  # it runs once formed
            end = start + batch.duration_s * batch.shots + outlook.overhead_s
            taken = {id(p) for p in batch.programs}
            for j in [j for j in waiting if id(ordered[j]) in taken]:
                times[j] = (start, end)
            waiting = deque(j for j in waiting if id(ordered[j]) not in taken)
        else:  # at most LOOK_AHEAD programs looked at: O(LOOK_AHEAD) a batch
            window = [waiting.popleft() for _ in range(min(LOOK_AHEAD, len(waiting)))]
            taken_at = set(outlook.takes([ordered[j] for j in window], batch_size))
            for k, j in enumerate(window):
                if k in taken_at:
                    times[j] = (start, end)
            waiting.extendleft(reversed([j for k, j in enumerate(window) if k not in taken_at]))
        batches += 1
        heapq.heappush(free, (end, i))
    return [t for t in times if t is not None]


def worth_forming(
    ordered: Sequence[Program], times: Sequence[tuple[float, float]], mine: Sequence[Program]
) -> bool:
    """Whether forming batches ahead can sharpen the modelled start of ``mine``: some of
    them start after the queue's first batches (whose start the model knows, whatever
    they hold) and within the first ``PLANNED_BATCHES`` batches. Forming ahead for a
    program the model puts in the next batch, or far down a long queue, would cost the
    packer's time for nothing."""
    ids = {p.id for p in mine}
    starts = sorted({t[0] for t in times})
    latest = max((t[0] for p, t in zip(ordered, times, strict=False) if p.id in ids), default=None)
    return latest is not None and starts[0] < latest and starts.index(latest) < PLANNED_BATCHES


def _formed(formed: Formed, queue: list[Program], plan: bool, deadline: float) -> Batch | None:
    """The batch the policy forms on ``queue``: formed ahead, or now while planning time
    is left; None where the model must stand in."""
    if not plan or time.monotonic() >= deadline:
        return formed.kept(queue)
    try:
        return formed.ahead(queue)
    except Exception as e:  # the dispatcher meets the same failure and isolates its program
        logger.info(
            "estimates model the queue instead: the %s policy failed on it (%s)",
            formed.name,
            one_line(e),
        )
        return None
