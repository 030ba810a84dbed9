"""The QPUs behind one broker, and the device-time model that estimates when work ends.

Each QPU is a backend with its own packing policy (a program is prepared for every
QPU that can run it) and its own packer thread. What a batch costs on a QPU is
modelled from its recent batches: the modelled device time plus the overhead seen
around it (queueing at the provider, transfers, simulation), averaged; until a QPU has
run a batch, ``DEFAULT_OVERHEAD_S`` stands in for the overhead.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from streamflow_quantum.broker.threads import WorkerPool

if TYPE_CHECKING:
    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.core.model import Batch, Program
    from streamflow_quantum.packing.base import PackingPolicy

#: Seconds a backend job costs beyond its modelled device time, until batches have run
#: (then the mean observed); ``sfq bench packer``'s clock uses the same.
DEFAULT_OVERHEAD_S = 2.0
#: Batches whose figures a QPU's model averages.
RECENT_BATCHES = 32
#: Queued programs the model looks through to fill a batch, from the head.
LOOK_AHEAD = 256
#: Characters of a client digest ``status`` shows.
CLIENT_PREFIX = 8


@dataclass(eq=False)
class Qpu:
    """One device behind the broker and what it runs."""

    backend: Backend
    policy: PackingPolicy
    #: How the broker names it (the backend's name; ``#2`` and on for a second of a kind).
    label: str
    packer: WorkerPool = field(init=False)
    running: Batch | None = None
    #: When the running batch started.
    started: float = 0.0
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_BATCHES))
    #: Why the broker stopped sending it work (it failed or went offline), or None.
    drained: str | None = None

    def __post_init__(self) -> None:
        self.packer = WorkerPool(1, f"sfq-pack-{self.label}")

    @property
    def online(self) -> bool:
        return self.drained is None

    @property
    def num_qubits(self) -> int:
        return self.backend.num_qubits

    def overhead_s(self) -> float:
        recent = self.recent
        if not recent:
            return DEFAULT_OVERHEAD_S
        return float(sum(max(0.0, b["wall_s"] - b["device_s"]) for b in recent) / len(recent))

    def device_s_per_batch(self) -> float:
        recent = self.recent
        return float(sum(b["device_s"] for b in recent) / len(recent)) if recent else 0.0

    def batch_s(self) -> float:
        """What a batch costs here, by the model: device time and overhead."""
        return self.device_s_per_batch() + self.overhead_s()

    def capacity(self) -> float:
        """Qubits of programs (their own widths, summed) a batch can hold here: the most a
        recent batch held, and at least the device's qubits (time packing may hold more)."""
        return float(max([self.num_qubits, *(b["width"] for b in self.recent)]))

    def takes(self, queue: Sequence[Program], batch_size: int) -> list[int]:
        """Which programs of ``queue`` (positions) a packed batch should take here: the
        head, then each that still fits, as a packer fills the room the head leaves."""
        room, taken = self.capacity(), list[int]()
        for i, program in enumerate(queue):
            if not taken or program.circuit.num_qubits <= room:
                taken.append(i)
                room -= program.circuit.num_qubits
                if len(taken) == batch_size or room <= 0:
                    break
        return taken

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
                "overhead_s": self.overhead_s(),
                "device_s_per_batch": self.device_s_per_batch(),
                "batches_seen": len(self.recent),
            },
        }


def labelled(backends: Iterable[tuple[Backend, PackingPolicy]]) -> list[Qpu]:
    """QPUs named after their backends, a second one of a name as ``name#2``."""
    qpus: list[Qpu] = []
    seen: dict[str, int] = {}
    for backend, policy in backends:
        seen[backend.name] = seen.get(backend.name, 0) + 1
        n = seen[backend.name]
        qpus.append(Qpu(backend, policy, backend.name if n == 1 else f"{backend.name}#{n}"))
    return qpus


def estimate_starts(
    ordered: Sequence[Program], qpus: Sequence[Qpu], now: float, earliest: float, batch_size: int
) -> list[tuple[float, float]]:
    """When each program of the ordered queue should start and finish, by the model.

    Batches are filled as a packer would, from the head of the queue on (``takes``),
    and each goes to the QPU that should be free first (a batch starts no sooner than
    ``earliest``: the batch window). Which programs may run where is not modelled.
    """
    free = [(qpu.free_at(now), i) for i, qpu in enumerate(qpus) if qpu.online]
    heapq.heapify(free)
    times: list[tuple[float, float] | None] = [None] * len(ordered) if free else []
    waiting = deque(range(len(ordered)))  # positions not yet in a batch, head first
    while waiting and free:
        at, i = heapq.heappop(free)
        qpu = qpus[i]
        start = max(at, earliest)
        end = start + qpu.batch_s()
        if not qpu.policy.packs:  # one program a batch: the head
            times[waiting.popleft()] = (start, end)
        else:  # at most LOOK_AHEAD programs looked at: O(LOOK_AHEAD) a batch
            window = [waiting.popleft() for _ in range(min(LOOK_AHEAD, len(waiting)))]
            taken = set(qpu.takes([ordered[j] for j in window], batch_size))
            for k, j in enumerate(window):
                if k in taken:
                    times[j] = (start, end)
            waiting.extendleft(reversed([j for k, j in enumerate(window) if k not in taken]))
        heapq.heappush(free, (end, i))
    return [t for t in times if t is not None]
