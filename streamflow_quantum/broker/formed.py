"""Batches formed ahead of the dispatcher, so that start estimates see what the packer will do.

A packing policy's ``next_batch`` depends only on the queue it is given (its programs
in order, each with its shots left and whether it must run alone) and on the
calibration the policy holds. A batch formed ahead on a queue, for a submission's
start estimates, is therefore the batch the dispatcher would form on that same queue:
it is kept, and the dispatcher takes it instead of forming it again, so looking ahead
costs the packer little while the queue stays as it was. A queue that changed (an
arrival, a cancellation) has another key: its batch is formed anew, and the stale ones
fall out of the bounded store.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamflow_quantum.core.model import Batch, Program
    from streamflow_quantum.packing.base import PackingPolicy

#: Batches kept, the oldest dropped first.
KEPT = 64
#: Batches the dispatcher took that are remembered, so that an estimate late to a
#: queue does not form its batch again.
TAKEN = 8

QueueKey = tuple[tuple[str, int, bool], ...]


def _key(queue: Sequence[Program]) -> QueueKey:
    return tuple((p.id, p.shots_left, p.alone) for p in queue)


class Formed:
    """One packing policy's batches, formed ahead on given queues (thread-safe).

    A batch asked for while another thread forms it on the same queue is awaited, not
    formed twice: the dispatcher often asks for the queue's first batch while an
    estimate is forming it.
    """

    def __init__(self, policy: PackingPolicy) -> None:
        self.policy = policy
        self._kept: OrderedDict[QueueKey, Batch] = OrderedDict()
        self._forming: dict[QueueKey, Future[Batch]] = {}
        #: The batches the dispatcher took last, by the queue it took them for.
        self._taken: OrderedDict[QueueKey, Batch] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.policy.name

    def __len__(self) -> int:
        """Batches kept that no dispatcher has taken yet."""
        with self._lock:
            return len(self._kept)

    def kept(self, queue: Sequence[Program]) -> Batch | None:
        """The batch formed ahead on ``queue``, if one was (forms none)."""
        with self._lock:
            return self._kept.get(_key(queue))

    def ahead(self, queue: Sequence[Program]) -> Batch:
        """The batch the policy forms on ``queue``, kept for the dispatcher (blocking)."""
        return self._form(queue, keep=True)

    def next_batch(self, queue: Sequence[Program]) -> Batch:
        """The batch to run on ``queue``: the one formed ahead on it, else a new one."""
        return self._form(queue, keep=False)

    def _form(self, queue: Sequence[Program], keep: bool) -> Batch:
        key = _key(queue)
        with self._lock:
            if keep:  # a batch the dispatcher took already is not formed again
                batch = self._kept.get(key) or self._taken.get(key)
            else:
                batch = self._kept.pop(key, None)
            if batch is not None:
                if not keep:
                    self._took(key, batch)
                return batch
            forming = self._forming.get(key)
            mine: Future[Batch] = Future()
            if forming is None:
                self._forming[key] = mine
        if forming is not None:
            batch = forming.result()  # raises what forming it raised
            if not keep:
                with self._lock:
                    self._kept.pop(key, None)
                    self._took(key, batch)
            return batch
        try:
            batch = self.policy.next_batch(queue)
        except BaseException as e:
            with self._lock:
                del self._forming[key]
            mine.set_exception(e)
            raise
        with self._lock:
            del self._forming[key]
            if keep:
                self._kept[key] = batch
                while len(self._kept) > KEPT:
                    self._kept.popitem(last=False)
            else:
                self._took(key, batch)
        mine.set_result(batch)
        return batch

    def _took(self, key: QueueKey, batch: Batch) -> None:
        """The dispatcher took ``batch`` for ``key`` (under the lock)."""
        self._taken[key] = batch
        while len(self._taken) > TAKEN:
            self._taken.popitem(last=False)

    def recalibrate(self) -> None:
        """The policy takes the backend's new calibration; batches formed before are dropped."""
        self.policy.recalibrate()
        with self._lock:
            self._kept.clear()
            self._taken.clear()
