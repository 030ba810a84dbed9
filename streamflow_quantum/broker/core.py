"""The vQPU broker: a FIFO queue shared by every quantum step, turned into backend jobs.

Programs from many clients queue in arrival order. A policy turns the head of the
queue into a batch (one program under ``serial``, many under the HyperQ packer),
which runs as one backend job in a worker thread, never on the event loop. Counts
are split back per program and kept for the client that submitted them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from streamflow_quantum.broker.settings import broker_settings
from streamflow_quantum.core.errors import ProgramError, one_line
from streamflow_quantum.core.model import Batch, Program

if TYPE_CHECKING:
    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.core.config import Settings
    from streamflow_quantum.packing.base import PackingPolicy

logger = logging.getLogger(__name__)


def client_id(key: str) -> str:
    """What the broker keeps of a client's key: a digest, so results cannot be claimed by id."""
    return hashlib.sha256(key.encode()).hexdigest()


class UnknownProgram(KeyError):
    """No such program for this client."""


class Broker:
    def __init__(
        self, backend: Backend, policy: PackingPolicy, settings: Settings | None = None
    ) -> None:
        self.backend = backend
        self.policy = policy
        self.settings = settings if settings is not None else broker_settings()
        self._queue: list[Program] = []
        self._programs: dict[str, Program] = {}
        self._done: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._finished: deque[tuple[float, str]] = deque()
        self._arrived = asyncio.Event()
        # Qiskit's pass managers keep per-run state on their passes, and the policy's
        # state is shared: one thread at a time compiles or packs.
        self._policy_lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._dispatch_forever())
            self._task.add_done_callback(self._dispatch_ended)

    def _dispatch_ended(self, task: asyncio.Task[None]) -> None:
        """A dispatcher that died of a bug fails every waiting program rather than hang it."""
        if task.cancelled() or task.exception() is None:
            return
        logger.error("the broker's dispatcher failed", exc_info=task.exception())
        reason = f"the broker failed: {one_line(task.exception())}"
        for program in list(self._programs.values()):
            if not self._done[program.id].done():
                self._finish(program, error=f"{program.name}: {reason}")
        self._queue.clear()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(
                self._task, return_exceptions=True
            )  # its failure is logged already
            self._task = None
        for program in self._queue:
            self._finish(program, error="the broker shut down before the program ran")
        self._queue.clear()
        await asyncio.to_thread(self.backend.close)

    def info(self) -> dict[str, Any]:
        return {
            "backend": self.backend.name,
            "qubits": self.backend.num_qubits,
            "packing": self.policy.name,
            "queued": len(self._queue),
        }

    # -- clients -----------------------------------------------------------------

    async def submit(
        self, client: str, programs: Sequence[Program | ProgramError]
    ) -> list[dict[str, Any]]:
        """Prepare and queue programs; one that cannot run is refused alone, with its reason."""
        prepared = await asyncio.gather(
            *(asyncio.to_thread(self._prepare, p) for p in programs), return_exceptions=True
        )
        receipts = []
        for program, outcome in zip(programs, prepared, strict=True):
            if isinstance(outcome, BaseException):
                receipts.append({"error": one_line(outcome)})
                continue
            program.client = client
            self._programs[program.id] = program
            self._done[program.id] = asyncio.get_running_loop().create_future()
            self._queue.append(program)
            receipts.append({"circuit": program.name, "id": program.id})
        if self._queue:
            self._arrived.set()
        return receipts

    async def result(
        self, client: str, program_id: str, timeout: float | None
    ) -> dict[str, Any] | None:
        """The program's result once done; None if still running after ``timeout`` seconds."""
        program = self._programs.get(program_id)
        if program is None or program.client != client:
            raise UnknownProgram(program_id)
        future = self._done[program_id]
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return None

    def _prepare(self, program: Program | ProgramError) -> None:
        if isinstance(program, ProgramError):
            raise program
        program.shots = program.shots or self.settings["shots"]
        if program.shots < 1:
            raise ProgramError(
                f"{program.name}: shots must be a positive integer, not {program.shots}"
            )
        with self._policy_lock:
            self.policy.prepare(program)

    def _next_batch(self, queue: list[Program]) -> Batch:
        with self._policy_lock:
            return self.policy.next_batch(queue)

    # -- dispatch ----------------------------------------------------------------

    async def _dispatch_forever(self) -> None:
        while True:
            if not self._queue:
                self._arrived.clear()
                await self._arrived.wait()
            if self.policy.packs:
                await self._gather_window()
            # Packing and composing take a while on a large device: off the event loop,
            # on a snapshot of the queue (programs may arrive meanwhile).
            queue = list(self._queue)
            try:
                batch = await asyncio.to_thread(self._next_batch, queue)
            except Exception as e:  # a packing bug must not stall every client
                logger.exception("the %s policy failed on %s", self.policy.name, queue[0].name)
                self._queue.remove(queue[0])
                self._finish(
                    queue[0],
                    error=f"{queue[0].name}: the {self.policy.name} policy failed: {one_line(e)}",
                )
                continue
            taken = {id(p) for p in batch.programs}
            self._queue = [p for p in self._queue if id(p) not in taken]
            await self._run(batch)

    async def _gather_window(self) -> None:
        """Wait until the oldest queued program has waited ``window`` seconds (or the batch is full).

        Programs that queued while the previous batch ran have waited already: they
        close the window at once, so the QPU never idles behind a full queue.
        """
        oldest = min(p.submitted for p in self._queue)
        size = self.settings["batchSize"]
        while (remaining := oldest + self.settings["batchWindow"] - time.time()) > 0 and not (
            size and len(self._queue) >= size
        ):
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break

    def _timeout(self, batch: Batch) -> float:
        return max(self.settings["batchTimeout"], 1.5 * batch.duration_s * batch.shots)

    async def _run(self, batch: Batch) -> None:
        started = time.time()
        for program in batch.programs:
            program.started = program.started or started
        seed = next((p.seed for p in batch.programs if p.seed is not None), None)
        try:
            job, counts = await asyncio.wait_for(
                asyncio.to_thread(self.backend.run, batch, seed), self._timeout(batch)
            )
            if len(counts) != len(batch.placements):
                raise RuntimeError(
                    f"got counts for {len(counts)} of {len(batch.placements)} programs"
                )
        except Exception as e:  # any backend failure fails only this batch's programs
            reason = (
                f"timed out after {self._timeout(batch):g} s"
                if isinstance(e, TimeoutError)
                else one_line(e)
            )
            self._failed(batch, reason)
            return
        unfinished = []
        for placement, part in zip(batch.placements, counts, strict=True):
            program = placement.program
            program.counts.update(part)
            program.shots_done += batch.shots
            program.jobs.append(job)
            program.batches.append(batch.id)
            program.placement = placement.qubits
            if program.shots_left > 0:
                unfinished.append(program)
            else:
                self._finish(program)
        self._queue[:0] = unfinished  # shots left: keep their place at the head
        if self._queue:
            self._arrived.set()

    def _failed(self, batch: Batch, reason: str) -> None:
        """Retry each program of a failed batch alone once, ahead of the queue; then give up."""
        retry = [p for p in batch.programs if not p.alone]
        for program in batch.programs:
            if program.alone:
                self._finish(
                    program, error=f"{program.name}: backend {self.backend.name} failed: {reason}"
                )
        for program in retry:
            program.alone = True
            logger.warning(
                "batch %s failed (%s); retrying %s alone", batch.id, reason, program.name
            )
        self._queue[:0] = retry
        if self._queue:
            self._arrived.set()

    def _finish(self, program: Program, error: str | None = None) -> None:
        record: dict[str, Any] = {
            "circuit": program.name,
            "id": program.id,
            "shots": program.shots_done,
            "backend": self.backend.name,
            "job": program.jobs[-1] if program.jobs else None,
            "batch": program.batches[-1] if program.batches else None,
            "placement": list(program.placement),
            "times": {
                "submitted": program.submitted,
                "started": program.started,
                "finished": time.time(),
            },
        }
        if len(program.jobs) > 1:
            record["jobs"], record["batches"] = program.jobs, program.batches
        if error is None:
            record["counts"] = dict(program.counts)
        else:
            record["error"] = error
        self.policy.forget(program)
        future = self._done[program.id]
        if not future.done():
            future.set_result(record)
        self._finished.append((time.monotonic(), program.id))
        self._forget_old_results()

    def _forget_old_results(self) -> None:
        horizon = time.monotonic() - self.settings["keepResults"]
        while self._finished and self._finished[0][0] < horizon:
            _, program_id = self._finished.popleft()
            self._programs.pop(program_id, None)
            self._done.pop(program_id, None)
