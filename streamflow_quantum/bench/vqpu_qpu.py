"""The one QPU every job of `sfq bench vqpu` shares: a standalone broker whose backend
takes the device time of design.md's clock.

Aer's simulation time is not QPU time, so each backend job is held until
``overhead + shots x (rep_delay + duration)`` has passed since it started (the
simulation runs inside that time), and its interval is logged: the QPU's busy time.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

from streamflow_quantum.backends.base import Backend
from streamflow_quantum.broker import protocol

if TYPE_CHECKING:
    from streamflow_quantum.bench.packer import Clock
    from streamflow_quantum.core.model import Batch
    from streamflow_quantum.packing.base import PackingPolicy


class ModelledQPU(Backend):
    """A backend whose jobs last as long as the device-time clock says."""

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


class SharedQPU:
    """A BrokerServer on 127.0.0.1 in a thread of this process, for ``with`` blocks."""

    def __init__(self, device: str, packing: str, clock: Clock, window: float) -> None:
        self.device, self.packing, self.clock, self.window = device, packing, clock, window
        self.secret = secrets.token_hex(16)
        self.url = ""
        self.qpu: ModelledQPU | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    @property
    def env(self) -> dict[str, str]:
        return {protocol.ENV_URL: self.url, protocol.ENV_SECRET: self.secret}

    async def _serve(self) -> None:
        from streamflow_quantum.broker.factory import build_broker
        from streamflow_quantum.broker.server import BrokerServer

        def modelled(backend: Backend) -> Backend:
            self.qpu = ModelledQPU(backend, self.clock)
            return self.qpu

        try:
            settings = {
                "backend": self.device,
                "noise": False,
                "packing": self.packing,
                "batchWindow": self.window,
            }
            broker = await asyncio.to_thread(build_broker, settings, modelled)
            await asyncio.to_thread(_warm_up, broker.policy)
            server = BrokerServer(broker, self.secret)
            self.url = await server.start()
        except BaseException as error:
            self._error = error
            self._ready.set()
            raise
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await server.close()

    def __enter__(self) -> SharedQPU:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
