"""A failing or hanging backend fails only its own batch, each program with a reason, after one retry alone."""

from __future__ import annotations

import time
from collections import Counter

from qiskit import QuantumCircuit

from streamflow_quantum.backends.aer import AerBackend
from streamflow_quantum.broker.core import Broker
from streamflow_quantum.broker.settings import broker_settings
from streamflow_quantum.core.config import Settings
from streamflow_quantum.core.model import Batch, Program
from streamflow_quantum.packing.serial import SerialPolicy


class FlakyAer(AerBackend):
    """Real Aer, except that it fails (or hangs) on programs named 'poison*'."""

    def __init__(self, hang: float = 0.0) -> None:
        super().__init__()
        self.hang = hang
        self.calls: list[str] = []

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        names = [p.name for p in batch.programs]
        self.calls.extend(names)
        if any(name.startswith("poison") for name in names):
            if self.hang:
                time.sleep(self.hang)
            raise RuntimeError("device calibration in progress\nsecond line")
        return super().run(batch, seed)


def _bell(name: str) -> Program:
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return Program(name, circuit, shots=100)


class BrokenPacker(SerialPolicy):
    """A policy with a bug that shows on programs named 'poison*'."""

    def next_batch(self, queue):
        if queue[0].name.startswith("poison"):
            raise IndexError("list index out of range")
        return super().next_batch(queue)


async def _run_all(
    backend: FlakyAer, settings: Settings, policy: type[SerialPolicy] = SerialPolicy
) -> dict[str, dict]:
    broker = Broker(backend, policy(backend), settings)
    broker.start()
    programs = [_bell("a"), _bell("poison"), _bell("b")]
    try:
        receipts = await broker.submit("me", programs)
        return {
            p.name: await broker.result("me", r["id"], 60)
            for p, r in zip(programs, receipts, strict=True)
        }
    finally:
        await broker.close()


async def test_a_failing_backend_fails_only_its_program_after_one_retry() -> None:
    backend = FlakyAer()
    results = await _run_all(backend, broker_settings())
    assert (
        results["poison"]["error"] == "poison: backend aer failed: device calibration in progress"
    )
    assert "counts" not in results["poison"]
    for name in "ab":
        assert (
            set(results[name]["counts"]) <= {"00", "11"}
            and sum(results[name]["counts"].values()) == 100
        )
    assert backend.calls.count("poison") == 2


async def test_a_hanging_backend_times_out() -> None:
    backend = FlakyAer(hang=1.0)
    results = await _run_all(backend, broker_settings({"batchTimeout": 0.2}))
    assert results["poison"]["error"] == "poison: backend aer failed: timed out after 0.2 s"
    assert sum(results["a"]["counts"].values()) == sum(results["b"]["counts"].values()) == 100


async def test_a_packing_bug_fails_only_the_program_it_hits() -> None:
    results = await _run_all(AerBackend(), broker_settings(), BrokenPacker)
    assert results["poison"]["error"] == "poison: the serial policy failed: list index out of range"
    assert sum(results["a"]["counts"].values()) == sum(results["b"]["counts"].values()) == 100


class MalformedAer(AerBackend):
    """Answers each placement with a number instead of counts: a bug past the backend's try."""

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        return "job", [42 for _ in batch.placements]  # type: ignore[misc]


async def test_a_dying_dispatcher_fails_programs_instead_of_hanging() -> None:
    backend = MalformedAer()
    broker = Broker(backend, SerialPolicy(backend))
    broker.start()
    try:
        receipts = await broker.submit("me", [_bell("a"), _bell("b")])
        results = [await broker.result("me", r["id"], 30) for r in receipts]
    finally:
        await broker.close()
    assert [r["error"] for r in results] == [
        "a: the broker failed: 'int' object is not iterable",
        "b: the broker failed: 'int' object is not iterable",
    ]
