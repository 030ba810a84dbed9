"""Threads the broker runs work in: none is ever joined, so nothing hung keeps it alive."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import queue as queues
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from streamflow_quantum.core.errors import one_line

logger = logging.getLogger(__name__)

T = TypeVar("T")


def compile_threads() -> int:
    """Threads of the broker's compile pool: one per core, at least 2 and at most 4."""
    return min(4, max(2, os.cpu_count() or 2))


class WorkerPool:
    """A fixed number of daemon threads taking jobs in order.

    Unlike ``ThreadPoolExecutor``, its threads are not joined when the interpreter
    exits, so a job that never ends cannot stop the process from ending.
    """

    def __init__(self, workers: int, name: str) -> None:
        self._jobs: queues.SimpleQueue[
            tuple[concurrent.futures.Future[Any], Callable[[], Any]] | None
        ] = queues.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, call = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as e:  # handed to whoever awaits the future
                future.set_exception(e)

    async def run(self, call: Callable[[], T]) -> T:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((future, call))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Stop every thread once its current job ends; waits for none."""
        for _ in self._threads:
            self._jobs.put(None)


def in_daemon_thread(call: Callable[[], T], name: str) -> asyncio.Future[T]:
    """Run ``call`` in a fresh daemon thread; the future may be abandoned (never joined)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: T | None, error: BaseException | None) -> None:
        if future.done():  # abandoned: timed out or cancelled
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(outcome)  # type: ignore[arg-type]

    def work() -> None:
        try:
            outcome, error = call(), None
        except BaseException as e:  # handed to the event loop, which decides
            outcome, error = None, e
        if not loop.is_closed():
            try:
                loop.call_soon_threadsafe(settle, outcome, error)
            except RuntimeError:  # the loop closed meanwhile: nobody is waiting
                logger.debug("%s finished after the broker stopped", name)

    threading.Thread(target=work, name=name, daemon=True).start()
    return future


def settle_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def drop_outcome(future: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned future's exception, so that asyncio does not report it."""
    if not future.cancelled() and future.exception() is not None:
        logger.debug("abandoned work failed: %s", one_line(future.exception()))  # type: ignore[arg-type]
