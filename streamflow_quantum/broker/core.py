"""The vQPU broker: one queue shared by every quantum step, turned into backend jobs.

Programs from many clients queue; the queue policy (``fifo``, ``priority``,
``fair-share``) orders them, and a packing policy turns the head of that order into a
batch (one program under ``serial``, many under ``fit``), which runs as one backend
job in a thread of its own, never on the event loop. Counts are split back per
program and kept for the client that submitted them.

Several QPUs (``backends``). A program is prepared for each QPU that can run it, and
may go to those where its estimated success probability alone stays within its
fidelity budget of the best of them. Each QPU forms its own batches when it is free,
taking the programs for which no other QPU should finish a batch sooner by the
device-time model (``qpus.py``). A QPU whose backend fails as a device does (a
dropped connection, a timeout) while another is online is drained: its batch's
programs go back to the head of the queue, for the others.

Admission. A program wider than every QPU is refused at once; so is one beyond its
user's quota (programs queued, device time per ``quotaPeriod``), naming the quota.
Each accepted program is told when it should start and finish by the model.

Threads and processes, and why (``threads.py``, ``backends/transpiling.py``). Parsing
and preparing run side by side in a small pool of daemon threads of the broker's own,
so they never queue behind anything else; one thread per QPU packs. Each preparing
thread compiles in a compiler process it holds for that program: Qiskit's transpiler
cannot be interrupted, and some of its passes hold the GIL for seconds, so in a thread
one client's long compile would stall every other client and run on after its refusal.
A compile that runs past ``compileTimeout`` refuses its program and its process is
killed; one whose process dies (out of memory, say) refuses only its program. Each
backend call runs in a fresh daemon thread: one that hangs is abandoned at the batch
timeout, keeps nothing else waiting, and does not keep the process alive at shutdown.

Faults. A program the backend or the policy cannot handle fails alone, with its
reason: a packed batch that fails is retried program by program, each alone, which
finds the program at fault; a program that fails alone is not retried unless the
failure is transient (a connection dropped).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from streamflow_quantum.backends.transpiling import (
    CompilerStopped,
    Lease,
    compiler_processes,
    in_compiler_process,
)
from streamflow_quantum.broker.calibration import keep_calibrated
from streamflow_quantum.broker.outcomes import batch_seed, check_counts, is_transient
from streamflow_quantum.broker.protocol import MAX_SEED
from streamflow_quantum.broker.qpus import (
    CLIENT_PREFIX,
    Outlook,
    Qpu,
    estimate_starts,
    labelled,
    worth_forming,
)
from streamflow_quantum.broker.quotas import Quotas
from streamflow_quantum.broker.settings import broker_settings
from streamflow_quantum.broker.threads import (
    T,
    WorkerPool,
    compile_threads,
    drop_outcome,
    in_daemon_thread,
    settle_once,
)
from streamflow_quantum.core.circuits import load_circuit, safe_name
from streamflow_quantum.core.errors import ProgramError, one_line
from streamflow_quantum.core.limits import limits_from
from streamflow_quantum.core.model import ANONYMOUS, Batch, Program, User

if TYPE_CHECKING:
    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.broker.journal import Journal, RunningBatch
    from streamflow_quantum.core.config import Settings
    from streamflow_quantum.packing.base import PackingPolicy
    from streamflow_quantum.queueing.base import QueuePolicy

logger = logging.getLogger(__name__)
#: One line per batch, under StreamFlow's logger: `streamflow run` prints it (and its
#: ``--quiet`` hides it); `sfq serve` prints it as any other line.
progress = logging.getLogger("streamflow.quantum.broker")

#: Seconds ``close`` waits for the backend to release its resources.
CLOSE_TIMEOUT_S = 5.0
#: Seconds a QPU that defers the queue to a busier, faster one waits before it looks again.
RECONSIDER_S = 1.0


def client_id(key: str) -> str:
    """What the broker keeps of a client's key: a digest, so results cannot be claimed by id."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


class UnknownProgram(KeyError):
    """No such program for this client: ``unknown`` to this broker (or expired), or ``not-yours``."""

    def __init__(self, program_id: str, reason: str) -> None:
        super().__init__(program_id)
        self.reason = reason


# -- the broker --------------------------------------------------------------------


class Broker:
    def __init__(
        self,
        backend: Backend,
        policy: PackingPolicy,
        settings: Settings | None = None,
        journal: Journal | None = None,
        *,
        more: Iterable[tuple[Backend, PackingPolicy]] = (),
        queue: QueuePolicy | None = None,
    ) -> None:
        #: The QPUs, the first one (``backend``, ``policy``) named in messages about the broker.
        self.qpus = labelled([(backend, policy), *more])
        #: Where accepted programs and results survive a crash (``sfq serve --state-dir``).
        self.journal = journal
        #: Accepted programs by (client, idempotency key).
        self._tokens: dict[tuple[str, str], str] = {}
        self.settings = settings if settings is not None else broker_settings()
        self.limits = limits_from(self.settings)
        if queue is None:
            from streamflow_quantum.queueing.registry import make_queue_policy

            queue = make_queue_policy(self.settings["queue"], self.settings["queueOptions"])
        self.queue_policy = queue
        self._queue: list[Program] = []
        self._programs: dict[str, Program] = {}
        self._done: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._finished: deque[tuple[float, str]] = deque()
        #: Set (and replaced) whenever the queue or a QPU changes: wakes every dispatcher.
        self._changed = asyncio.Event()
        #: One batch forms at a time, so that no program goes to two QPUs.
        self._forming = asyncio.Lock()
        # Programs compile side by side in the pool (a long compile holds up nobody);
        # each QPU packs in a thread of its own. A policy guards what its prepare and
        # next_batch share.
        self._pool = WorkerPool(compile_threads(), "sfq-compile")
        self._compilers = compiler_processes(compile_threads())
        #: Estimates that form batches ahead run here, one at a time.
        self._estimator = WorkerPool(1, "sfq-estimate")
        self._planning = False
        self._tasks: list[asyncio.Task[None]] = []
        self._calibrating: asyncio.Task[None] | None = None
        self._closing = False
        #: Fetching the counts of jobs that ran while the broker was down.
        self._reattaching: set[asyncio.Task[None]] = set()
        #: The last program prepared for each circuit digest: its twins reuse its work.
        self._alike: dict[str, Program] = {}
        self._keys: dict[str, str] = {}
        self._twins_lock = threading.Lock()
        #: Circuit digests being compiled: a twin submitted meanwhile waits for that work.
        self._compiling: dict[str, threading.Event] = {}
        #: Each program's QPUs: those that prepared it, with its estimated success alone there.
        self._ready: dict[str, dict[Qpu, float | None]] = {}
        self.quotas = Quotas(self.settings["quotaPeriod"])

    @property
    def backend(self) -> Backend:
        return self.qpus[0].backend

    @property
    def policy(self) -> PackingPolicy:
        return self.qpus[0].policy

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        if not self._tasks:
            self._compilers.warm(compile_threads())
            loop = asyncio.get_running_loop()
            for qpu in self.qpus:
                task = loop.create_task(self._dispatch_forever(qpu))
                task.add_done_callback(self._dispatch_ended)
                self._tasks.append(task)
            self._calibrating = loop.create_task(
                keep_calibrated(
                    [(q.backend, q.formed, q.packer) for q in self.qpus],
                    self.settings["calibrationPeriod"],
                )
            )

    def _dispatch_ended(self, task: asyncio.Task[None]) -> None:
        """A dispatcher that died of a bug fails every waiting program rather than hang it."""
        if task.cancelled() or (error := task.exception()) is None:
            return
        logger.error("the broker's dispatcher failed", exc_info=error)
        reason = f"the broker failed: {one_line(error)}"
        for program in list(self._programs.values()):
            if not self._done[program.id].done():
                self._finish(program, error=f"{program.name}: {reason}")
        self._queue.clear()

    def _notify(self) -> None:
        """Wake every dispatcher (the queue or a QPU changed)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _changes(self, timeout: float | None = None) -> None:
        """Until the queue or a QPU changes, or ``timeout`` seconds pass."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:  # the builtin TimeoutError from 3.11 on
            return

    async def close(self) -> None:
        """Stop at once: queued programs fail, running backend calls are abandoned."""
        for task in self._reattaching:
            task.cancel()
        # The flag, not only the cancel: on Python 3.11, asyncio.wait_for can swallow a
        # cancellation that arrives as its future completes (a batch's result, say).
        self._closing = True
        self._notify()
        tasks = [*self._tasks, *([self._calibrating] if self._calibrating else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # failures logged already
        self._tasks, self._calibrating = [], None
        self._queue.clear()
        for program in list(self._programs.values()):
            if not self._done[program.id].done():
                # Not journalled as finished: a restarted broker runs it.
                self._finish(
                    program,
                    error=f"{program.name}: the broker shut down before it ran",
                    persist=False,
                )
        self._pool.close()
        self._estimator.close()
        for qpu in self.qpus:
            qpu.packer.close()
            closing = in_daemon_thread(qpu.backend.close, "sfq-backend-close")
            try:
                await asyncio.wait_for(closing, CLOSE_TIMEOUT_S)
            except Exception as e:  # closing is best effort: say why, and stop anyway
                logger.warning("backend %s did not close cleanly: %s", qpu.label, one_line(e))

    def info(self) -> dict[str, Any]:
        return {
            "backend": self.backend.name,
            "qubits": self.backend.num_qubits,
            "packing": self.policy.name,
            "queue": self.queue_policy.name,
            "qpus": [qpu.label for qpu in self.qpus if qpu.online],
            "queued": len(self._queue),
        }

    def _outlook(self, now: float) -> tuple[list[Program], list[Outlook], float]:
        """The queue in the order it should run, what the model knows of each online QPU,
        and when the next batch may start at the earliest."""
        ordered = self.queue_policy.order(self._queue, now)
        earliest = now
        if self._queue and self.policy.packs and not any(q.running for q in self.qpus):
            earliest = max(
                now, min(p.submitted for p in self._queue) + self.settings["batchWindow"]
            )
        return ordered, [Outlook.of(q, now) for q in self.qpus if q.online], earliest

    def _estimates(self, now: float) -> tuple[list[Program], list[tuple[float, float]]]:
        """The queue in the order it should run, and when each program should start and
        end, from the batches formed ahead so far and the model (on the event loop)."""
        ordered, outlooks, earliest = self._outlook(now)
        return ordered, estimate_starts(ordered, outlooks, earliest, self.settings["batchSize"])

    async def _planned_estimates(
        self, now: float, accepted: Sequence[Program]
    ) -> tuple[list[Program], list[tuple[float, float]]]:
        """As ``_estimates``, forming the queue's first batches ahead (off the event loop)
        where the model places ``accepted`` after the next batch but within the batches
        that may be formed ahead (``worth_forming``).

        One forms at a time: a submission that arrives meanwhile is estimated from what
        was formed and the model, so a stream of submissions never queues up behind
        estimates, and they cost one thread at most.
        """
        ordered, outlooks, earliest = self._outlook(now)
        size = self.settings["batchSize"]
        times = estimate_starts(ordered, outlooks, earliest, size)
        if self._planning or not worth_forming(ordered, times, accepted):
            return ordered, times
        self._planning = True
        try:
            times = await self._estimator.run(
                lambda: estimate_starts(ordered, outlooks, earliest, size, plan=True)
            )
        finally:
            self._planning = False
        return ordered, times

    def status(self) -> dict[str, Any]:
        """The queue as anyone holding the secret may see it: waiting programs per client
        (a digest prefix, no circuit names) and user, each QPU's running batch, and when
        each queued program should start and finish by the device-time model (``qpus.py``)."""
        now = time.time()
        ordered, times = self._estimates(now)
        queue = [
            {
                "client": p.client[:CLIENT_PREFIX],
                "user": p.user.name,
                "shots": p.shots_left,
                "waiting_s": now - p.submitted,
                "estimated_start": start,
                "estimated_finish": end,
            }
            for p, (start, end) in zip(ordered, times, strict=False)
        ]
        return {
            "backend": self.backend.name,
            "qubits": self.backend.num_qubits,
            "packing": self.policy.name,
            "queue_policy": self.queue_policy.name,
            "now": now,
            "queued": len(self._queue),
            "clients": dict(Counter(p.client[:CLIENT_PREFIX] for p in self._queue)),
            "users": dict(Counter(p.user.name for p in self._queue)),
            "qpus": [qpu.status(now) for qpu in self.qpus],
            "queue": queue,
            "batch_size": self.settings["batchSize"],
        }

    # -- clients -----------------------------------------------------------------

    async def offload(self, call: Callable[[], T]) -> T:
        """Run ``call`` (parsing a request, say) in the broker's pool, off the event loop."""
        return await self._pool.run(call)

    async def submit(
        self,
        client: str,
        programs: Sequence[Program | ProgramError],
        keys: Sequence[str | None] | None = None,
        user: User = ANONYMOUS,
    ) -> list[dict[str, Any]]:
        """Prepare and queue ``user``'s programs; one that cannot run is refused alone, with its reason.

        ``keys`` name each program's circuit (a digest of its file): a program whose
        circuit is queued already reuses that one's compilation. Each receipt of an
        accepted program says when it should start and finish.
        """
        keys = keys if keys is not None else [None] * len(programs)
        # A resubmission (same client, same key) is answered with the earlier id and
        # compiles nothing; checked again after compiling, for concurrent retries.
        fresh = [
            (p, key)
            for p, key in zip(programs, keys, strict=True)
            if self._earlier(client, p) is None
        ]
        queued, now = sum(p.user == user for p in self._queue), time.time()
        checked: list[Program | ProgramError] = []
        for p, _ in fresh:
            if isinstance(p, Program) and (over := self.quotas.refusal(user, queued, now)):
                checked.append(ProgramError(f"{p.name}: {over}"))
                continue
            queued += 1
            checked.append(p)
        outcomes = await asyncio.gather(
            *(self._prepare(c, key) for c, (_, key) in zip(checked, fresh, strict=True)),
            return_exceptions=True,
        )
        outcome_of = {id(p): o for (p, _), o in zip(fresh, outcomes, strict=True)}
        receipts: list[dict[str, Any]] = []
        accepted: list[Program] = []
        for program in programs:
            if isinstance(program, Program) and (earlier := self._earlier(client, program)):
                if id(program) in outcome_of:
                    self._forget_prepared(program)  # a concurrent resubmission won
                receipts.append({"circuit": program.name, "id": earlier})
                continue
            outcome = outcome_of[id(program)]
            if isinstance(outcome, BaseException) or isinstance(program, ProgramError):
                receipts.append({"error": self._refusal(program, outcome)})
                continue
            program.client, program.user = client, user
            if program.token is not None:
                self._tokens[(client, program.token)] = program.id
            accepted.append(program)
            receipts.append({"circuit": program.name, "id": program.id})
        if self.journal is not None and accepted:
            self.journal.accept_all([(p, _source(p), p.token) for p in accepted])
        self._enqueue(accepted)
        if accepted:
            now = time.time()
            ordered, times = await self._planned_estimates(now, accepted)
            when = {p.id: t for p, t in zip(ordered, times, strict=False)}
            for receipt in receipts:
                if (t := when.get(receipt.get("id", ""))) is not None:
                    receipt["estimated_start"], receipt["estimated_finish"] = t
                    receipt["starts_in_s"] = round(max(0.0, t[0] - now), 3)
        return receipts

    def _charge(self, batch: Batch, device_s: float, now: float) -> None:
        """Each program of a batch used an equal share of its device time: what the
        provider charged for the job, or else the modelled time."""
        share = device_s / len(batch.programs)
        for program in batch.programs:
            self.queue_policy.charge(program, share, now)
            self.quotas.charge(program.user, share, now)

    def _earlier(self, client: str, program: Program | ProgramError) -> str | None:
        if not isinstance(program, Program) or program.token is None:
            return None
        known = self._tokens.get((client, program.token))
        if known is None and self.journal is not None:
            known = self.journal.find(client, program.token)
        return known

    def _enqueue(
        self, programs: Sequence[Program], queued: Sequence[Program] | None = None
    ) -> None:
        """Accept ``programs``; queue ``queued`` of them (all by default)."""
        for program in programs:
            self._programs[program.id] = program
            self._done[program.id] = asyncio.get_running_loop().create_future()
        self._queue.extend(programs if queued is None else queued)
        self._notify()

    async def resume(self) -> int:
        """Queue again what the journal accepted and no result ended, in submission order.

        Batches that were running when the broker stopped run again (their counts
        were never returned), unless the backend still holds their job: with one QPU
        (the journal does not say which of several ran a job), the broker re-attaches
        to it. Programs whose circuit no longer passes are failed.
        """
        if self.journal is None:
            return 0
        attach: dict[str, RunningBatch] = {}
        can_attach = len(self.qpus) == 1 and self.backend.can_attach
        for batch in self.journal.running_jobs():
            if batch.job is not None and batch.clbits is not None and can_attach:
                attach |= dict.fromkeys(batch.programs, batch)
            else:
                self.journal.batch_failed(batch.id, "the broker restarted while it ran")
        resumed: list[Program] = []
        waiting: dict[str, list[Program]] = {}
        for entry in self.journal.pending():
            try:
                circuit = await self._pool.run(
                    functools.partial(load_circuit, entry.data, entry.name, self.limits)
                )
                program = entry.to_program(circuit, self.settings["shots"])
                program.token, program.source = entry.key, entry.data
                await self._prepare(program)
            except ProgramError as e:
                self._finish_unqueued(entry.id, entry.name, one_line(e))
                continue
            if program.token is not None:
                self._tokens[(program.client, program.token)] = program.id
            resumed.append(program)
            if program.id in attach:
                waiting.setdefault(attach[program.id].id, []).append(program)
        attached = {id(p) for programs in waiting.values() for p in programs}
        self._enqueue(resumed, queued=[p for p in resumed if id(p) not in attached])
        for programs in waiting.values():
            task = asyncio.create_task(self._reattach(attach[programs[0].id], programs))
            self._reattaching.add(task)
            task.add_done_callback(self._reattaching.discard)
        logger.info(
            "resumed %d programs from the journal, %d of them waiting on their backend jobs",
            len(resumed),
            len(attached),
        )
        return len(resumed)

    async def _reattach(self, batch: RunningBatch, programs: list[Program]) -> None:
        """Fetch the counts of a job that ran while the broker was down; run it again if gone."""
        assert self.journal is not None and batch.job is not None
        job = batch.job
        try:
            counts = await in_daemon_thread(
                lambda: self.backend.job_counts(job), f"sfq-attach-{batch.id}"
            )
            parts = batch.split(counts)
        except Exception as e:  # a job gone or failed: its programs run again, at the head
            logger.warning("cannot re-attach to job %s (%s); running it again", job, one_line(e))
            self.journal.batch_failed(batch.id, f"re-attaching failed: {one_line(e)}")
            self._queue[:0] = programs
            self._notify()
            return
        self.journal.batch_done(batch.id, job, {p: dict(c) for p, c in parts.items()})
        unfinished = []
        for program in programs:
            program.counts.update(parts[program.id])
            program.shots_done += batch.shots
            program.jobs.append(job)
            program.batches.append(batch.id)
            program.started = program.started or batch.started
            if program.shots_left > 0:
                unfinished.append(program)
            else:
                self._finish(program)
        self._queue[:0] = unfinished
        self._notify()

    def _finish_unqueued(self, program_id: str, name: str, error: str) -> None:
        assert self.journal is not None
        self.journal.finished(program_id, {"circuit": name, "id": program_id, "error": error})

    def _refusal(self, program: Program | ProgramError, outcome: object) -> str:
        error = outcome if isinstance(outcome, BaseException) else program
        assert isinstance(error, BaseException)
        if isinstance(error, ProgramError):
            return one_line(error)
        name = program.name if isinstance(program, Program) else "circuit"
        logger.warning("preparing %s failed", name, exc_info=error)
        return f"{name}: the broker could not prepare it: {safe_name(one_line(error))}"

    async def result(
        self, client: str, program_id: str, timeout: float | None
    ) -> dict[str, Any] | None:
        """The program's result once done; None if still running after ``timeout`` seconds."""
        program = self._programs.get(program_id)
        if program is None:
            found = self.journal.result(program_id) if self.journal is not None else None
            if found is None:
                raise UnknownProgram(program_id, "unknown")
            if found[0] != client:
                raise UnknownProgram(program_id, "not-yours")
            return found[1]
        if program.client != client:
            raise UnknownProgram(program_id, "not-yours")
        future = self._done[program_id]
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:  # the builtin TimeoutError from 3.11 on
            return None

    def _check(self, program: Program) -> None:
        """Refuse a program built without the wire format's checks (embedded callers), and
        one wider than every QPU, before it costs a compile."""
        program.name = safe_name(program.name, self.limits)
        program.shots = program.shots or self.settings["shots"]
        if program.fidelity_budget is None:
            program.fidelity_budget = self.settings["fidelityBudget"]
        elif not 0 <= program.fidelity_budget <= 1:
            raise ProgramError(f"{program.name}: fidelity budget must be from 0 to 1")
        shots, seed = program.shots, program.seed
        if isinstance(shots, bool) or not 1 <= shots <= self.limits.max_shots:
            raise ProgramError(
                f"{program.name}: shots must be between 1 and {self.limits.max_shots} "
                f"(maxShots), not {shots}"
            )
        if seed is not None and (isinstance(seed, bool) or not 0 <= seed <= MAX_SEED):
            raise ProgramError(f"{program.name}: seed must be between 0 and {MAX_SEED}, not {seed}")
        online = [qpu for qpu in self.qpus if qpu.online]
        if not online:
            raise ProgramError(f"{program.name}: no QPU of this broker is online")
        widest = max(online, key=lambda qpu: qpu.num_qubits)
        if program.circuit.num_qubits > widest.num_qubits:
            raise ProgramError(
                f"{program.name}: needs {program.circuit.num_qubits} qubits but the widest QPU "
                f"here, {widest.label}, has {widest.num_qubits}: send at most "
                f"{widest.num_qubits}, or cut it for expectation values with `sfq estimate`"
            )

    def _compile(self, program: Program, key: str | None) -> None:
        """Prepare ``program`` for every online QPU wide enough (each policy holding its lock),
        reusing a queued twin's work; refused only if no QPU can run it."""
        like, compiling = self._twin(key)
        try:
            self._compile_like(program, key, like)
        finally:
            if compiling is not None:
                with self._twins_lock:
                    del self._compiling[key]  # type: ignore[arg-type]
                compiling.set()

    def _twin(self, key: str | None) -> tuple[Program | None, threading.Event | None]:
        """A queued program with the circuit digest ``key``, waiting for its compile when
        one is under way (a burst of one circuit compiles once); else the event that this
        compile sets when it ends."""
        if key is None:
            return None, None
        with self._twins_lock:
            like, under_way = self._alike.get(key), self._compiling.get(key)
            if like is None and under_way is None:
                mine = self._compiling[key] = threading.Event()
                return None, mine
        if like is None and under_way is not None:
            under_way.wait()
            with self._twins_lock:
                like = self._alike.get(key)  # None if it failed: compile this one
        return like, None

    def _compile_like(self, program: Program, key: str | None, like: Program | None) -> None:
        ready: dict[Qpu, float | None] = {}
        refusal: ProgramError | None = None
        done: dict[int, float | None] = {}  # by policy: QPUs of one device share theirs
        for qpu in self.qpus:
            if not qpu.online or program.circuit.num_qubits > qpu.num_qubits:
                continue
            if id(qpu.policy) not in done:
                try:
                    self._prepare_on(qpu, program, like)
                except ProgramError as e:
                    if len(self.qpus) == 1:
                        raise
                    logger.info("%s cannot run on %s: %s", program.name, qpu.label, one_line(e))
                    refusal = refusal or e
                    continue
                # Its estimate alone there, to keep its budget among several QPUs.
                many = len(self.qpus) > 1
                done[id(qpu.policy)] = qpu.policy.solo_success(program) if many else None
            ready[qpu] = done[id(qpu.policy)]
        if not ready:
            raise refusal or ProgramError(f"{program.name}: no QPU of this broker is online")
        self._ready[program.id] = ready
        if key is not None:
            with self._twins_lock:
                self._alike[key], self._keys[program.id] = program, key

    def _prepare_on(self, qpu: Qpu, program: Program, like: Program | None) -> None:
        if like is not None and qpu in self._ready.get(like.id, {}):
            try:
                qpu.policy.prepare(program, like)
                return
            except KeyError:  # the twin finished meanwhile and its work is gone: compile
                logger.debug("%s: its twin %s left; compiling", program.name, like.name)
        qpu.policy.prepare(program)

    def _forget_prepared(self, program: Program) -> None:
        self._ready.pop(program.id, None)
        for qpu in self.qpus:
            qpu.policy.forget(program)

    async def _prepare(self, program: Program | ProgramError, key: str | None = None) -> None:
        """Compile ``program`` in the pool, refusing it past ``compileTimeout`` seconds of its own."""
        if isinstance(program, ProgramError):
            raise program
        self._check(program)
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()

        lease = Lease()

        def compile_it() -> None:
            loop.call_soon_threadsafe(settle_once, started)
            with in_compiler_process(self._compilers, lease):
                self._compile(program, key)

        done = asyncio.ensure_future(self._pool.run(compile_it))
        # The clock starts when this program's compile does, not while it waits its turn.
        await asyncio.wait({started, done}, return_when=asyncio.FIRST_COMPLETED)
        limit = self.settings["compileTimeout"]
        try:
            await asyncio.wait_for(asyncio.shield(done), limit)
        except CompilerStopped as e:  # a crash, or out of memory: its process only
            raise ProgramError(f"{program.name}: {one_line(e)}; send a smaller circuit") from e
        except asyncio.TimeoutError:  # the builtin TimeoutError from 3.11 on
            lease.stop()
            done.add_done_callback(drop_outcome)
            done.add_done_callback(lambda _: self._forget_prepared(program))
            logger.warning("compiling %s took over %g s; refused", program.name, limit)
            raise ProgramError(
                f"{program.name}: compiling took over {limit:g} s (compileTimeout); "
                "send a smaller circuit"
            ) from None

    # -- dispatch ----------------------------------------------------------------

    def _eligible(self, program: Program) -> list[Qpu]:
        """The online QPUs where ``program`` keeps its fidelity budget relative to the best of them."""
        ready = {q: s for q, s in self._ready.get(program.id, {}).items() if q.online}
        known = [s for s in ready.values() if s is not None]
        if len(known) < 2:
            return list(ready)
        budget = self.settings["fidelityBudget"]
        need = (1 - (budget if program.fidelity_budget is None else program.fidelity_budget)) * max(
            known
        )
        return [q for q, s in ready.items() if s is None or s >= need]

    def _offered(self, qpu: Qpu) -> list[Program]:
        """The queue in the policy's order, less what ``qpu`` cannot run and what another
        QPU where it may run should finish sooner by the model."""
        now = time.time()
        ordered = self.queue_policy.order(self._queue, now)
        if len(self.qpus) == 1:  # every queued program was prepared for it
            return ordered
        ends = {q: q.free_at(now) + q.batch_s() for q in self.qpus if q.online}
        offered = []
        for program in ordered:
            where = self._eligible(program)
            if qpu in where and not any(ends[q] < ends[qpu] for q in where if q is not qpu):
                offered.append(program)
        return offered

    async def _dispatch_forever(self, qpu: Qpu) -> None:
        while not self._closing and qpu.online:
            if not self._offered(qpu):
                # Deferred to a busier QPU expected to finish first: look again soon.
                await self._changes(RECONSIDER_S if self._queue else None)
                continue
            if qpu.policy.packs:
                await self._gather_window(qpu)
            async with self._forming:
                offered = self._offered(qpu)
                forming = time.time()
                batch = await self._form_batch(qpu, offered) if offered else None
                if batch is None:
                    continue
                qpu.forming.append(time.time() - forming)
                # Room, not the queue, bounded it (one program alone may say nothing of room).
                if 1 < len(batch.programs) < len(offered):
                    qpu.full_widths.append(sum(p.circuit.num_qubits for p in batch.programs))
                taken = {id(p) for p in batch.programs}
                self._queue = [p for p in self._queue if id(p) not in taken]
                qpu.running, qpu.started = batch, time.time()
            self._notify()  # a QPU that deferred to this one looks again
            await self._run(qpu, batch)

    async def _pack(self, qpu: Qpu, queue: list[Program]) -> Batch:
        """Packing and composing take a while on a large device: off the event loop, on a
        snapshot of the queue (programs may arrive meanwhile)."""

        def pack() -> Batch:
            return qpu.formed.next_batch(queue)

        return await qpu.packer.run(pack)

    async def _form_batch(self, qpu: Qpu, queue: list[Program]) -> Batch | None:
        """The next batch; if the policy fails, the program it fails on fails alone (None)."""
        policy = qpu.policy.name
        try:
            return await self._pack(qpu, queue)
        except Exception as e:  # a packing bug must not stall or blame every client
            logger.warning(
                "the %s policy failed on a queue of %d (%s); looking for the program at fault",
                policy,
                len(queue),
                one_line(e),
            )
        head_alone: Batch | None = None
        for program in queue:
            try:
                alone = await self._pack(qpu, [program])
            except Exception as e:  # this program alone breaks the policy: it fails, alone
                logger.warning("the %s policy fails on %s", policy, program.name, exc_info=e)
                self._queue.remove(program)
                self._finish(
                    program, error=f"{program.name}: the {policy} policy failed: {one_line(e)}"
                )
                return None
            head_alone = head_alone or alone
        # Each program packs on its own, not together: the head runs alone.
        queue[0].alone = True
        return head_alone

    async def _gather_window(self, qpu: Qpu) -> None:
        """Wait until the oldest queued program has waited ``window`` seconds, or the queue
        would fill a batch (``batchSize`` programs, or as many qubits of programs as the
        fullest recent batch the device bounded held): gathering longer could not fill it
        more.

        Programs that queued while the previous batch ran have waited already: they
        close the window at once, so the QPU never idles behind a full queue.
        """
        size = self.settings["batchSize"]
        while (
            self._queue
            and not (size and len(self._queue) >= size)
            and not qpu.filled_by(self._queue)
        ):
            oldest = min(p.submitted for p in self._queue)
            remaining = oldest + self.settings["batchWindow"] - time.time()
            if remaining <= 0:
                break
            await self._changes(remaining)

    def _timeout(self, batch: Batch) -> float:
        return float(max(self.settings["batchTimeout"], 1.5 * batch.duration_s * batch.shots))

    async def _run(self, qpu: Qpu, batch: Batch) -> None:
        started = time.time()
        for program in batch.programs:
            program.started = program.started or started
        seed = batch_seed(batch.programs)
        if self.journal is not None:
            batch.on_job = functools.partial(self.journal.batch_job, batch.id)
            self.journal.batch_started(
                batch.id,
                None,
                [p.id for p in batch.programs],
                shots=batch.shots,
                slices=batch.clbit_slices,
                clbits=batch.composite.num_clbits,
            )
        modelled = batch.duration_s * batch.shots
        names = [p.name for p in batch.programs]
        progress.info(
            "QPU batch %s on %s: %d program%s (%s), %d of %d qubits, %d shots, "
            "modelled device time %.3g s; %d program%s queued behind it",
            batch.id,
            qpu.label,
            len(names),
            "" if len(names) == 1 else "s",
            ", ".join(names[:6]) + (f", ... {len(names) - 6} more" if len(names) > 6 else ""),
            len({q for p in batch.placements for q in p.qubits}),
            qpu.num_qubits,
            batch.shots,
            modelled,
            len(self._queue),
            "" if len(self._queue) == 1 else "s",
        )
        qpu.running, qpu.started = batch, started
        for program in batch.programs:  # what its placement was chosen against
            program.calibration = qpu.backend.calibration
        backend = qpu.backend
        call = in_daemon_thread(lambda: backend.run(batch, seed), f"sfq-run-{batch.id}")
        try:
            job, counts = await asyncio.wait_for(call, self._timeout(batch))
            check_counts(batch, counts)
        except asyncio.TimeoutError:  # the builtin TimeoutError from 3.11 on
            logger.warning("batch %s timed out; its backend call is abandoned", batch.id)
            qpu.running = None
            reason = f"timed out after {self._timeout(batch):g} s"
            self._failed(qpu, batch, reason, transient=False, device=True)
            return
        except Exception as e:  # any backend failure fails only this batch's programs
            logger.warning("batch %s failed: %s", batch.id, one_line(e))
            qpu.running = None
            transient = is_transient(e)
            self._failed(qpu, batch, safe_name(one_line(e)), transient, device=transient)
            return
        end = time.time()
        used = backend.used_s(job)  # the provider's own figure, where it gives one
        qpu.recent.append(
            {
                "id": batch.id,
                "programs": len(names),
                "width": sum(p.circuit.num_qubits for p in batch.programs),
                "device_s": modelled,
                "used_s": used,
                "wall_s": end - started,
            }
        )
        qpu.running = None
        self._charge(batch, modelled if used is None else used, end)
        progress.info("QPU batch %s done in %.2f s as backend job %s", batch.id, end - started, job)
        self._settle(qpu, batch, job, counts)

    def _settle(self, qpu: Qpu, batch: Batch, job: str, counts: Sequence[Counter[str]]) -> None:
        if self.journal is not None:  # before any result: a crash now resumes with these counts
            self.journal.batch_done(
                batch.id,
                job,
                {
                    pl.program.id: dict(part)
                    for pl, part in zip(batch.placements, counts, strict=True)
                },
            )
        unfinished = []
        for placement, part in zip(batch.placements, counts, strict=True):
            program = placement.program
            program.counts.update(part)
            program.shots_done += batch.shots
            program.jobs.append(job)
            program.batches.append(batch.id)
            program.placement = placement.qubits
            program.notes = placement.notes
            if program.shots_left > 0:
                unfinished.append(program)
            else:
                self._finish(program, qpu=qpu)
        self._queue[:0] = unfinished  # shots left: keep their place at the head
        self._notify()

    def _failed(self, qpu: Qpu, batch: Batch, reason: str, transient: bool, device: bool) -> None:
        """A QPU that failed as a device does (``device``) while another is online is drained,
        and the batch's programs go back to the head of the queue, for the others.

        Otherwise, a failed batch of several programs is retried program by program, each
        alone, ahead of the queue: that finds the one at fault. A program that failed alone
        is retried only after a transient failure, and once."""
        if self.journal is not None:
            self.journal.batch_failed(batch.id, reason)
        if device and any(q.online for q in self.qpus if q is not qpu):
            self._drain(qpu, reason, batch.programs)
            return
        shared = len(batch.programs) > 1
        retry = [p for p in batch.programs if not p.alone and (shared or transient)]
        for program in batch.programs:
            if program in retry:
                program.alone = True
                logger.warning(
                    "batch %s failed (%s); retrying %s alone", batch.id, reason, program.name
                )
            else:
                self._finish(
                    program, error=f"{program.name}: backend {qpu.label} failed: {reason}", qpu=qpu
                )
        self._queue[:0] = retry
        self._notify()

    def _drain(self, qpu: Qpu, reason: str, programs: Sequence[Program]) -> None:
        """Send ``qpu`` no more work; ``programs`` (its failed batch) and the queue go to the
        other QPUs, and what none of them can run fails."""
        qpu.drained = reason
        others = ", ".join(q.label for q in self.qpus if q.online)
        logger.warning(
            "QPU %s failed (%s): drained; its work goes to %s", qpu.label, reason, others
        )
        self._queue[:0] = programs
        for program in [p for p in self._queue if not self._eligible(p)]:
            self._queue.remove(program)
            self._finish(
                program,
                error=f"{program.name}: no online QPU can run it (QPU {qpu.label} failed: {reason})",
            )
        self._notify()

    def _finish(
        self,
        program: Program,
        error: str | None = None,
        persist: bool = True,
        qpu: Qpu | None = None,
    ) -> None:
        """End ``program`` with its counts or ``error``; ``qpu`` ran its last batch."""
        qpu = qpu or self.qpus[0]
        record: dict[str, Any] = {
            "circuit": program.name,
            "id": program.id,
            "shots": program.shots_done,
            "backend": qpu.label,
            "job": program.jobs[-1] if program.jobs else None,
            "batch": program.batches[-1] if program.batches else None,
            "placement": list(program.placement),
            "times": {
                "submitted": program.submitted,
                "started": program.started,
                "finished": time.time(),
            },
        }
        if program.user is not ANONYMOUS:
            record["user"] = program.user.name
        if program.batches:
            last = next((b for b in qpu.recent if b["id"] == program.batches[-1]), None)
            if last is not None:  # the modelled device time of its (last) batch
                record["device_s"] = last["device_s"]
                if last["used_s"] is not None:  # and what the provider charged for it
                    record["used_s"] = last["used_s"]
        if program.calibration is not None:
            record["calibration"] = program.calibration
        if len(program.jobs) > 1:
            record["jobs"], record["batches"] = program.jobs, program.batches
        if program.notes:
            record["notes"] = list(program.notes)
        if error is None:
            record["counts"] = dict(program.counts)
        else:
            record["error"] = error
        if self.journal is not None and persist:
            self.journal.finished(program.id, record)
        self._forget_prepared(program)
        with self._twins_lock:
            key = self._keys.pop(program.id, None)
            if key is not None and self._alike.get(key) is program:
                del self._alike[key]
        future = self._done[program.id]
        if not future.done():
            future.set_result(record)
        self._finished.append((time.monotonic(), program.id))
        self._forget_old_results()

    def _forget_old_results(self) -> None:
        horizon = time.monotonic() - self.settings["keepResults"]
        while self._finished and self._finished[0][0] < horizon:
            _, program_id = self._finished.popleft()
            program = self._programs.pop(program_id, None)
            if program is not None and program.token is not None:
                self._tokens.pop((program.client, program.token), None)
            self._done.pop(program_id, None)


def _source(program: Program) -> bytes:
    """The circuit as its client sent it, or as QPY for programs built in this process."""
    if not program.source:
        from qiskit import qpy

        buffer = io.BytesIO()
        qpy.dump(program.circuit, buffer)
        program.source = buffer.getvalue()
    return program.source
