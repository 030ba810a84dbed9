"""A broker whose calibration file is swapped keeps its queue, and results name the new one."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streamflow_quantum.backends.base import Backend
from streamflow_quantum.broker.calibration import keep_calibrated
from streamflow_quantum.broker.factory import build_broker
from streamflow_quantum.broker.threads import WorkerPool
from streamflow_quantum.core.model import Batch, Program
from streamflow_quantum.planning.validation import ghz_circuit
from tests.calibration.props import DEVICE, degraded, snapshot, write

PERIOD_S = 0.05


class Held(Backend):
    """The opened backend, whose batches wait for the test to open the gate."""

    @classmethod
    def open(cls, device: str, noise: bool, **options: Any) -> Backend:
        raise NotImplementedError("wraps an open backend")

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner.name, inner.target)
        self.inner, self.calibration = inner, inner.calibration
        self.gate, self.running = threading.Event(), threading.Event()

    def refresh_calibration(self) -> bool:
        changed = self.inner.refresh_calibration()
        self.target, self.calibration = self.inner.target, self.inner.calibration
        return changed

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        self.running.set()
        self.gate.wait(60)
        return self.inner.run(batch, seed)


def _bell(name: str) -> Program:
    return Program(name, ghz_circuit(2), shots=200)


async def test_queued_work_runs_after_a_swap_on_the_new_calibration(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "props.json", snapshot())
    settings = {
        "backend": f"aer:{DEVICE}",
        "aer": {"calibration": str(path)},
        "packing": "fit",
        "batchWindow": 0.01,
    }
    broker = await asyncio.to_thread(build_broker, settings, Held)
    backend = broker.backend
    assert isinstance(backend, Held)
    old = backend.calibration
    broker.start()
    keeping = asyncio.create_task(
        keep_calibrated([(q.backend, q.policy, q.packer) for q in broker.qpus], PERIOD_S)
    )
    try:
        [first] = await broker.submit("me", [_bell("first")])
        assert await asyncio.to_thread(backend.running.wait, 30)
        [queued] = await broker.submit("me", [_bell("queued")])  # prepared, waits its turn
        bad = set(broker.policy.prepared[queued["id"]].solo.mapping)  # type: ignore[attr-defined]
        with caplog.at_level(logging.INFO, "streamflow_quantum.broker.calibration"):
            write(path, degraded(bad))
            for _ in range(200):
                if any("regions re-ranked" in r.message for r in caplog.records):
                    break
                await asyncio.sleep(PERIOD_S)
        new = backend.calibration
        assert new != old
        assert f"calibration of aer:{DEVICE} changed: {old} -> {new}" in caplog.text
        [after] = await broker.submit("me", [_bell("after")])
        backend.gate.set()
        results = [await broker.result("me", r["id"], 60) for r in (first, queued, after)]
    finally:
        keeping.cancel()
        backend.gate.set()
        await broker.close()
    for result in results:
        assert result is not None and "error" not in result
        assert sum(result["counts"].values()) == 200
    for result in results[1:]:
        assert not bad & set(result["placement"])
    assert results[2]["calibration"] == new


class Flaky(Backend):
    """A backend whose first refresh fails, and whose second brings a new calibration."""

    @classmethod
    def open(cls, device: str, noise: bool, **options: Any) -> Backend:
        raise NotImplementedError

    def __init__(self) -> None:
        from qiskit_aer import AerSimulator

        super().__init__("flaky", AerSimulator().target)
        self.calibration, self.refreshes = "a", 0

    def refresh_calibration(self) -> bool:
        self.refreshes += 1
        if self.refreshes == 1:
            raise ConnectionError("provider unreachable")
        changed, self.calibration = self.calibration != "b", "b"
        return changed

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        raise NotImplementedError


class Policy:
    name = "stub"

    def __init__(self) -> None:
        self.calls = 0

    def recalibrate(self) -> None:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("busy")


async def test_failed_refreshes_and_recalibrations_are_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend, policy, packer = Flaky(), Policy(), WorkerPool(1, "test-pack")
    caplog.set_level(logging.INFO, "streamflow_quantum.broker.calibration")
    task = asyncio.create_task(keep_calibrated([(backend, policy, packer)], PERIOD_S))  # type: ignore[list-item]
    try:
        for _ in range(200):
            if "regions re-ranked" in caplog.text:
                break
            await asyncio.sleep(PERIOD_S)
        assert not task.done()  # the failures stopped nothing
    finally:
        task.cancel()
        packer.close()
    assert "calibration of flaky not refreshed: provider unreachable" in caplog.text
    assert "the stub policy of flaky did not recalibrate: busy" in caplog.text
    assert "calibration of flaky changed: a -> b; regions re-ranked" in caplog.text
    assert policy.calls == 2


async def test_a_period_of_zero_never_checks() -> None:
    backend = Flaky()
    await asyncio.wait_for(keep_calibrated([(backend, Policy(), None)], 0), 1)  # type: ignore[list-item]
    assert backend.refreshes == 0
