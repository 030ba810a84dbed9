"""The simulation: jobs through classical workers and a policy-ordered queue of QPUs (SimPy)."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import simpy

from streamflow_quantum.core.model import Program
from streamflow_quantum.planning.workload import Job
from streamflow_quantum.queueing.registry import make_queue_policy

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

SHARING = ("pool", "shared")
PACKING = ("serial", "space", "time")
#: Remaining work (seconds) below which a shared-CPU task counts as done: float slack.
EPSILON = 1e-9


@dataclass(frozen=True)
class Platform:
    """What is simulated: resources, policies and admission control (see the package doc)."""

    workers: int = 1
    qpus: int = 1
    queue: str = "fifo"
    queue_options: Mapping[str, Any] = field(default_factory=dict)
    #: Most quantum tasks queued (not running) when a job arrives; None: no limit.
    capacity: int | None = None
    #: Most classical tasks active (queued or running) when a job arrives; None: no limit.
    classical_capacity: int | None = None
    #: ``pool``: one task per worker, the others queue; ``shared``: all run, sharing C CPUs.
    sharing: str = "pool"
    packing: str = "serial"
    #: Most quantum tasks per batch under ``space`` and ``time`` packing.
    batch_size: int = 1
    #: Seconds a QPU spends on each batch before it starts (forming it), on top of its device time.
    overhead_s: float = 0.0
    #: Speed of a classical worker relative to the one the jobs' classical times are for.
    speed: float = 1.0

    def __post_init__(self) -> None:
        if self.workers < 1 or self.qpus < 1 or self.batch_size < 1:
            raise ValueError("workers, QPUs and batch size must be at least 1")
        if self.sharing not in SHARING:
            raise ValueError(f"sharing must be one of {', '.join(SHARING)}, not {self.sharing!r}")
        if self.packing not in PACKING:
            raise ValueError(f"packing must be one of {', '.join(PACKING)}, not {self.packing!r}")
        if self.speed <= 0 or self.overhead_s < 0:
            raise ValueError("speed must be positive and overhead non-negative")


@dataclass(eq=False)
class Outcome:
    """What happened to one job."""

    job: Job
    admitted: bool = True
    #: When its first quantum task started on a QPU.
    first_start: float | None = None
    #: Seconds its quantum tasks queued for a QPU, all iterations together.
    queued_s: float = 0.0
    #: Seconds its classical tasks queued for a worker (``pool`` sharing).
    classical_wait_s: float = 0.0
    finished: float | None = None


class Level:
    """The time average of a piecewise-constant quantity, counted from ``start`` on."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.value = 0.0
        self._last = 0.0
        self._area = 0.0

    def set(self, now: float, value: float) -> None:
        self._area += self.value * max(0.0, now - max(self._last, self.start))
        self.value, self._last = value, now

    def mean(self, end: float) -> float:
        self.set(end, self.value)
        return self._area / (end - self.start) if end > self.start else 0.0


@dataclass
class Run:
    """A finished simulation: each job's outcome and the time averages from ``warmup`` to ``end``."""

    platform: Platform
    outcomes: list[Outcome]
    warmup: float
    end: float
    #: Mean busy QPUs, busy workers, queued quantum tasks and active classical tasks.
    averages: dict[str, float]


class SharedCPUs:
    """``cpus`` CPUs shared evenly by every active task: each runs at ``min(1, cpus / A)``
    of full speed while A tasks are active (processor sharing; SimPy has no such resource)."""

    def __init__(self, env: simpy.Environment, cpus: int) -> None:
        self.env, self.cpus = env, cpus
        self.left: dict[simpy.Event, float] = {}
        self._last = 0.0
        self._generation = 0

    def rate(self) -> float:
        return min(1.0, self.cpus / len(self.left)) if self.left else 0.0

    def run(self, work: float) -> simpy.Event:
        """An event that fires once ``work`` seconds of full-speed CPU have been served."""
        self._advance()
        done = self.env.event()
        self.left[done] = work
        self._schedule()
        return done

    def _advance(self) -> None:
        served = (self.env.now - self._last) * self.rate()
        for event in self.left:
            self.left[event] -= served
        self._last = self.env.now

    def _schedule(self) -> None:
        self._generation += 1
        if not self.left:
            return
        generation = self._generation
        timer = self.env.timeout(max(0.0, min(self.left.values())) / self.rate())
        timer.callbacks.append(lambda _: self._complete(generation))

    def _complete(self, generation: int) -> None:
        if generation != self._generation:  # the active set changed since: rescheduled
            return
        self._advance()
        for event in [e for e, work in self.left.items() if work <= EPSILON]:
            del self.left[event]
            event.succeed()
        self._schedule()


class Simulation:
    def __init__(self, platform: Platform, warmup: float) -> None:
        self.platform = platform
        self.env = simpy.Environment()
        self.policy = make_queue_policy(platform.queue, platform.queue_options)
        self.pool = simpy.Resource(self.env, platform.workers)
        self.shared = SharedCPUs(self.env, platform.workers)
        self.waiting: list[Program] = []
        self._tasks: dict[Program, tuple[simpy.Event, Outcome, float]] = {}
        self.idle = platform.qpus
        self.classical = 0
        self.levels = {
            name: Level(warmup) for name in ("qpus_busy", "workers_busy", "queued", "classical")
        }

    # -- classical tasks ---------------------------------------------------------

    def _classical(self, outcome: Outcome, work: float) -> Generator[simpy.Event, Any, None]:
        self._count_classical(+1)
        if self.platform.sharing == "shared":
            done = self.shared.run(work / self.platform.speed)
            self._busy_workers()
            yield done
        else:
            asked = self.env.now
            with self.pool.request() as request:
                yield request
                outcome.classical_wait_s += self.env.now - asked
                self._busy_workers()
                yield self.env.timeout(work / self.platform.speed)
        self._count_classical(-1)
        self._busy_workers()

    def _count_classical(self, change: int) -> None:
        self.classical += change
        self.levels["classical"].set(self.env.now, self.classical)

    def _busy_workers(self) -> None:
        busy = (
            min(len(self.shared.left), self.platform.workers)
            if self.platform.sharing == "shared"
            else self.pool.count
        )
        self.levels["workers_busy"].set(self.env.now, busy)

    # -- quantum tasks -----------------------------------------------------------

    def _quantum(self, outcome: Outcome, service: float) -> simpy.Event:
        job = outcome.job
        task = Program(
            name=job.label or "task",
            circuit=cast("QuantumCircuit", None),  # the policies order by user and time only
            shots=1,
            user=job.user,
            submitted=self.env.now,
        )
        done = self.env.event()
        self._tasks[task] = (done, outcome, service)
        self.waiting.append(task)
        self._dispatch()
        return done

    def _dispatch(self) -> None:
        size = 1 if self.platform.packing == "serial" else self.platform.batch_size
        while self.idle and self.waiting:
            batch = self.policy.order(self.waiting, self.env.now)[:size]
            taken = {id(task) for task in batch}
            self.waiting = [task for task in self.waiting if id(task) not in taken]
            self.idle -= 1
            self.env.process(self._run_batch(batch))
        self.levels["queued"].set(self.env.now, len(self.waiting))
        self.levels["qpus_busy"].set(self.env.now, self.platform.qpus - self.idle)

    def _run_batch(self, batch: list[Program]) -> Generator[simpy.Event, Any, None]:
        # The overhead comes first, as in the broker: packing, then the batch starts.
        if self.platform.overhead_s:
            yield self.env.timeout(self.platform.overhead_s)
        now = self.env.now
        services = []
        for task in batch:
            _, outcome, service = self._tasks[task]
            outcome.queued_s += now - task.submitted
            if outcome.first_start is None:
                outcome.first_start = now
            services.append(service)
        device = sum(services) if self.platform.packing == "time" else max(services)
        yield self.env.timeout(device)
        for task in batch:
            done, _, _ = self._tasks.pop(task)
            self.policy.charge(task, device, self.env.now)
            done.succeed()
        self.idle += 1
        self._dispatch()

    # -- jobs --------------------------------------------------------------------

    def _job(self, outcome: Outcome) -> Generator[simpy.Event, Any, None]:
        job = outcome.job
        if job.pre_s > 0:
            yield from self._classical(outcome, job.pre_s)
        for _ in range(job.iterations):
            if job.classical_s > 0:
                yield from self._classical(outcome, job.classical_s)
            yield self._quantum(outcome, job.quantum_s)
        if job.post_s > 0:
            yield from self._classical(outcome, job.post_s)
        outcome.finished = self.env.now

    def _admit(self) -> bool:
        capacity, classical = self.platform.capacity, self.platform.classical_capacity
        return (capacity is None or len(self.waiting) < capacity) and (
            classical is None or self.classical < classical
        )

    def arrivals(
        self, jobs: Iterable[Job], outcomes: list[Outcome]
    ) -> Generator[simpy.Event, Any, None]:
        for job in jobs:
            yield self.env.timeout(max(0.0, job.arrival - self.env.now))
            outcome = Outcome(job, admitted=self._admit())
            outcomes.append(outcome)
            if outcome.admitted:
                self.env.process(self._job(outcome))


def simulate(
    platform: Platform,
    jobs: Iterable[Job],
    horizon: float | None = None,
    warmup: float = 0.0,
) -> Run:
    """Run ``jobs`` (sorted by arrival) on ``platform`` until ``horizon`` seconds, or until
    every job has finished when ``horizon`` is None. Jobs arriving at or after ``horizon``
    are not offered; figures count jobs arriving from ``warmup`` on."""
    jobs = sorted(jobs, key=lambda job: job.arrival)
    if horizon is not None:
        jobs = [job for job in jobs if job.arrival < horizon]
    sim = Simulation(platform, warmup)
    outcomes: list[Outcome] = []
    sim.env.process(sim.arrivals(jobs, outcomes))
    sim.env.run(until=horizon)
    end = sim.env.now if horizon is None else horizon
    averages = {name: level.mean(end) for name, level in sim.levels.items()}
    return Run(platform, outcomes, warmup, end, averages)
