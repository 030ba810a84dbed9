"""The one QPU every job of `sfq bench vqpu` shares: a standalone broker whose backend
takes the device time of design.md's clock.

Aer's simulation time is not QPU time, so each backend job is held until
``overhead + shots x (rep_delay + duration)`` has passed since it started (the
simulation runs inside that time), and its interval is logged: the QPU's busy time.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from streamflow_quantum.backends.base import Backend
from streamflow_quantum.bench.harness import BrokerThread

if TYPE_CHECKING:
    from streamflow_quantum.bench.packer import Clock
    from streamflow_quantum.core.model import Batch
    from streamflow_quantum.packing.base import PackingPolicy


class ModelledQPU(Backend):
    """A backend whose jobs last as long as the device-time clock says."""

    @classmethod
    def open(cls, device: str, noise: bool, **options: Any) -> Backend:
        raise NotImplementedError("a ModelledQPU wraps an open backend: pass it as wrap_backend")

    def __init__(self, inner: Backend, clock: Clock) -> None:
        super().__init__(inner.name, inner.target)
        self.inner = inner
        self.clock = clock
        #: (start, end) of every backend job, in wall-clock seconds.
        self.intervals: list[tuple[float, float]] = []

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        start = time.time()
        job, counts = self.inner.run(batch, seed)
        time.sleep(max(0.0, start + self.clock.job_s(batch.shots, batch.duration_s) - time.time()))
        self.intervals.append((start, time.time()))
        return job, counts

    def take_intervals(self) -> list[tuple[float, float]]:
        """The intervals logged since the last call (call it while the QPU is idle)."""
        taken, self.intervals = self.intervals, []
        return taken

    def close(self) -> None:
        self.inner.close()


def _warm_up(policy: PackingPolicy) -> None:
    """Compile once before any job runs, so the first job alone (t1) pays no set-up cost."""
    from qiskit import QuantumCircuit

    from streamflow_quantum.core.model import Program

    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    program = Program("warm-up", circuit, 1)
    policy.prepare(program)
    policy.forget(program)


class SharedQPU(BrokerThread):
    """The broker every job shares: ``packing`` on ``device`` (noiseless), behind a ModelledQPU."""

    def __init__(self, device: str, packing: str, clock: Clock, window: float) -> None:
        super().__init__(
            {"backend": device, "noise": False, "packing": packing, "batchWindow": window},
            self._modelled,
        )
        self.clock = clock
        self.qpu: ModelledQPU | None = None

    def _modelled(self, backend: Backend) -> Backend:
        self.qpu = ModelledQPU(backend, self.clock)
        return self.qpu

    def __enter__(self) -> SharedQPU:
        super().__enter__()
        _warm_up(self.broker.policy)  # no client yet: nothing else uses the policy
        return self
