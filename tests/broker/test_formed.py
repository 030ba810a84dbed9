"""Batches formed ahead: the dispatcher runs the one an estimate formed on its queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from qiskit import QuantumCircuit

from streamflow_quantum.backends.registry import make_backend
from streamflow_quantum.broker.formed import Formed
from streamflow_quantum.core.model import Batch, Program
from streamflow_quantum.packing.base import PackingPolicy
from streamflow_quantum.packing.registry import make_policy


class Counted:
    """A real packing policy that counts (and slows) the batches it forms."""

    def __init__(self, policy: PackingPolicy) -> None:
        self.inner, self.formed = policy, 0
        self.name = policy.name

    def next_batch(self, queue: Sequence[Program]) -> Batch:
        self.formed += 1
        time.sleep(0.2)
        return self.inner.next_batch(queue)

    def recalibrate(self) -> None:
        self.inner.recalibrate()


def _queue(n: int) -> tuple[Counted, list[Program]]:
    policy = make_policy("fit", make_backend("aer:fake_manila", False, None), {})
    programs = []
    for i in range(n):
        circuit = QuantumCircuit(2, 2)
        circuit.h(0)
        circuit.cx(0, 1)
        circuit.measure([0, 1], [0, 1])
        programs.append(Program(f"bell{i}", circuit, shots=100))
        policy.prepare(programs[-1])
    return Counted(policy), programs


def test_the_dispatcher_takes_the_batch_formed_ahead_once() -> None:
    counted, queue = _queue(3)
    formed = Formed(counted)  # type: ignore[arg-type]
    ahead = formed.ahead(queue)
    assert formed.kept(queue) is ahead and len(formed) == 1
    assert formed.next_batch(queue) is ahead and len(formed) == 0  # taken, not kept
    assert counted.formed == 1
    # Another queue (a program left, or its shots changed) is another batch.
    assert formed.next_batch(queue[1:]) is not ahead and counted.formed == 2
    formed.ahead(queue)
    formed.recalibrate()  # a new calibration drops what was formed against the old one
    assert formed.kept(queue) is None


def test_a_batch_being_formed_is_awaited_not_formed_twice() -> None:
    counted, queue = _queue(3)
    formed = Formed(counted)  # type: ignore[arg-type]
    got: list[Batch] = []
    estimate = threading.Thread(target=lambda: got.append(formed.ahead(queue)))
    estimate.start()
    time.sleep(0.05)  # the estimate is forming it
    dispatched = formed.next_batch(queue)
    estimate.join()
    assert got == [dispatched] and counted.formed == 1 and len(formed) == 0


def test_an_estimate_late_to_a_queue_forms_no_batch_again() -> None:
    counted, queue = _queue(3)
    formed = Formed(counted)  # type: ignore[arg-type]
    dispatched = formed.next_batch(queue)
    assert formed.ahead(queue) is dispatched and counted.formed == 1 and len(formed) == 0
