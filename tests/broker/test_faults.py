"""A failing, hanging or lying backend, or a buggy policy, fails only the program at fault.

Serial first; then the same faults under ``space-time`` packing, where the program at
fault shares a batch with innocent ones that must still get their counts.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from qiskit import QuantumCircuit

from streamflow_quantum.backends.aer import AerBackend
from streamflow_quantum.backends.base import Backend
from streamflow_quantum.broker.core import Broker
from streamflow_quantum.broker.factory import build_broker
from streamflow_quantum.broker.outcomes import batch_seed
from streamflow_quantum.broker.settings import broker_settings
from streamflow_quantum.core.config import Settings
from streamflow_quantum.core.model import Batch, Program
from streamflow_quantum.packing.hyperq.policy import SpaceTimePolicy
from streamflow_quantum.packing.registry import policy_options
from streamflow_quantum.packing.serial import SerialPolicy

FAULT = "device calibration in progress"


class FlakyAer(AerBackend):
    """Real Aer, except that it fails (or hangs) on programs named 'poison*'."""

    def __init__(self, hang: float = 0.0, error: type[Exception] = RuntimeError) -> None:
        super().__init__()
        self.hang = hang
        self.error = error
        self.calls: list[str] = []

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        names = [p.name for p in batch.programs]
        self.calls.extend(names)
        if any(name.startswith("poison") for name in names):
            if self.hang:
                time.sleep(self.hang)
            raise self.error(f"{FAULT}\nsecond line")
        return super().run(batch, seed)


def _bell(name: str, shots: int = 100, seed: int | None = None) -> Program:
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return Program(name, circuit, shots=shots, seed=seed)


class BrokenPacker(SerialPolicy):
    """A policy with a bug that shows on programs named 'poison*'."""

    def next_batch(self, queue: Sequence[Program]) -> Batch:
        if queue[0].name.startswith("poison"):
            raise IndexError("list index out of range")
        return super().next_batch(queue)


async def _results(broker: Broker, programs: list[Program]) -> dict[str, dict[str, Any]]:
    broker.start()
    try:
        receipts = await broker.submit("me", programs)
        return {
            p.name: await broker.result("me", r["id"], 60)
            for p, r in zip(programs, receipts, strict=True)
        }
    finally:
        await broker.close()


async def _run_all(
    backend: FlakyAer, settings: Settings, policy: type[SerialPolicy] = SerialPolicy
) -> dict[str, dict[str, Any]]:
    return await _results(
        Broker(backend, policy(backend), settings), [_bell("a"), _bell("poison"), _bell("b")]
    )


def _correct(result: dict[str, Any], shots: int = 100) -> bool:
    counts = result.get("counts", {})
    return set(counts) <= {"00", "11"} and sum(counts.values()) == shots


async def test_a_failing_backend_fails_only_its_program_without_a_futile_retry() -> None:
    backend = FlakyAer()
    results = await _run_all(backend, broker_settings())
    assert results["poison"]["error"] == f"poison: backend aer failed: {FAULT}"
    assert "counts" not in results["poison"]
    assert _correct(results["a"]) and _correct(results["b"])
    assert backend.calls.count("poison") == 1  # alone already: retrying would fail again


async def test_a_transient_failure_is_retried_once() -> None:
    backend = FlakyAer(error=ConnectionResetError)
    results = await _run_all(backend, broker_settings())
    assert results["poison"]["error"] == f"poison: backend aer failed: {FAULT}"
    assert backend.calls.count("poison") == 2


async def test_a_hanging_backend_times_out() -> None:
    backend = FlakyAer(hang=1.0)
    results = await _run_all(backend, broker_settings({"batchTimeout": 0.2}))
    assert results["poison"]["error"] == "poison: backend aer failed: timed out after 0.2 s"
    assert _correct(results["a"]) and _correct(results["b"])


async def test_a_packing_bug_fails_only_the_program_it_hits() -> None:
    results = await _run_all(AerBackend(), broker_settings(), BrokenPacker)
    assert results["poison"]["error"] == "poison: the serial policy failed: list index out of range"
    assert _correct(results["a"]) and _correct(results["b"])


async def test_a_dying_dispatcher_fails_programs_instead_of_hanging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = AerBackend()
    broker = Broker(backend, SerialPolicy(backend))

    def bug(*args: object) -> None:
        raise TypeError("'int' object is not iterable")

    monkeypatch.setattr(broker, "_settle", bug)
    results = list((await _results(broker, [_bell("a"), _bell("b")])).values())
    assert [r["error"] for r in results] == [
        "a: the broker failed: 'int' object is not iterable",
        "b: the broker failed: 'int' object is not iterable",
    ]


def test_the_batch_seed_comes_from_its_programs_seeds_alone() -> None:
    one, other = _bell("a", seed=7), _bell("b", seed=2**32 - 1)
    assert batch_seed([one]) == 7
    assert batch_seed([_bell("c"), _bell("d")]) is None
    mixed = batch_seed([one, other])
    assert mixed == batch_seed([_bell("x", seed=7), _bell("y", seed=2**32 - 1)])
    assert mixed is not None and 0 <= mixed < 2**32


@pytest.mark.parametrize(
    ("shots", "seed", "reason"),
    [
        (True, None, "poison: shots must be between 1 and 1000000 (maxShots), not True"),
        (2**63, None, "poison: shots must be between 1 and 1000000 (maxShots)"),
        (10, 2**64, "poison: seed must be between 0 and 4294967295"),
        (10, -1, "poison: seed must be between 0 and 4294967295"),
    ],
)
async def test_absurd_shots_or_seeds_are_refused_alone(shots: Any, seed: Any, reason: str) -> None:
    backend = AerBackend()
    broker = Broker(backend, SerialPolicy(backend))
    broker.start()
    try:
        receipts = await broker.submit("me", [_bell("a", seed=3), _bell("poison", shots, seed)])
        assert receipts[1]["error"].startswith(reason)
        assert _correct(await broker.result("me", receipts[0]["id"], 60) or {})
    finally:
        await broker.close()


class SlowCompile(SerialPolicy):
    def prepare(self, program: Program, like: Program | None = None) -> None:
        if program.name.startswith("slow"):
            time.sleep(1.0)
        super().prepare(program, like)


async def test_a_compile_over_the_time_limit_is_refused_alone() -> None:
    backend = AerBackend()
    broker = Broker(backend, SlowCompile(backend), broker_settings({"compileTimeout": 0.3}))
    broker.start()
    try:
        receipts = await broker.submit("me", [_bell("slow"), _bell("quick")])
        assert receipts[0]["error"] == (
            "slow: compiling took over 0.3 s (compileTimeout); send a smaller circuit"
        )
        assert _correct(await broker.result("me", receipts[1]["id"], 60) or {})
    finally:
        await broker.close()


# -- under space-time packing ----------------------------------------------------------


class Faulty(Backend):
    """A real backend whose batches go wrong, in one of several ways, when they hold a
    program named 'poison*'."""

    @classmethod
    def open(cls, device: str, noise: bool, **options: Any) -> Backend:
        raise NotImplementedError

    def __init__(self, inner: Backend, fault: str, delay: float = 0.0) -> None:
        super().__init__(inner.name, inner.target)
        self.inner, self.fault, self.delay = inner, fault, delay
        self.batches: list[list[str]] = []

    def compile(self, circuit: QuantumCircuit) -> QuantumCircuit:
        return self.inner.compile(circuit)

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        names = [p.name for p in batch.programs]
        self.batches.append(names)
        poisoned = [i for i, name in enumerate(names) if name.startswith("poison")]
        if not poisoned:
            return self.inner.run(batch, seed)
        if self.fault == "raise":
            raise RuntimeError(FAULT)
        if self.fault == "hang":
            time.sleep(self.delay)
            return self.inner.run(batch, seed)
        if self.fault == "die":  # works a while, then the connection drops for good
            time.sleep(self.delay)
            raise RuntimeError("the device went away mid-batch")
        job, counts = self.inner.run(batch, seed)
        counts[poisoned[0]] = Counter({"01": batch.shots + 1})  # "wrong": too many shots
        return job, counts


def _packed_broker(fault: str, **settings: Any) -> tuple[Broker, Faulty]:
    made: list[Faulty] = []
    delay = settings.pop("delay", 0.0)

    def wrap(inner: Backend) -> Backend:
        made.append(Faulty(inner, fault, delay))
        return made[0]

    broker = build_broker(
        {"backend": "aer:fake_manila", "noise": False, "packing": "space-time", **settings},
        wrap,
    )
    return broker, made[0]


def _packed_programs() -> list[Program]:
    return [_bell("a"), _bell("poison"), _bell("b"), _bell("c")]


@pytest.mark.parametrize(
    ("fault", "settings", "reason"),
    [
        ("raise", {}, f"poison: backend aer:fake_manila failed: {FAULT}"),
        (
            "hang",
            {"delay": 3.0, "batchTimeout": 0.5},
            "poison: backend aer:fake_manila failed: timed out after 0.5 s",
        ),
        (
            "die",
            {"delay": 0.3},
            "poison: backend aer:fake_manila failed: the device went away mid-batch",
        ),
        (
            "wrong",
            {},
            "poison: backend aer:fake_manila failed: returned 101 shots for poison, not 100",
        ),
    ],
)
async def test_a_packed_batch_that_fails_blames_only_the_program_at_fault(
    fault: str, settings: dict[str, Any], reason: str
) -> None:
    broker, backend = await asyncio.to_thread(_packed_broker, fault, **settings)
    started = time.monotonic()
    results = await _results(broker, _packed_programs())
    assert results["poison"]["error"] == reason
    assert all(_correct(results[name]) for name in "abc"), results
    # The fault struck a shared batch, and each program then ran alone.
    assert "poison" in backend.batches[0] and len(backend.batches[0]) > 1
    assert ["poison"] in backend.batches[1:]
    assert time.monotonic() - started < 30


class PickyPacker(SpaceTimePolicy):
    """A packing bug that shows whenever 'poison*' is anywhere in the queue, not only at its head."""

    def next_batch(self, queue: Sequence[Program]) -> Batch:
        if any(p.name.startswith("poison") for p in queue):
            raise KeyError("region 7")
        return super().next_batch(queue)


async def test_a_packing_bug_blames_the_program_it_hits_not_the_queue_head() -> None:
    backend = await asyncio.to_thread(AerBackend.open, "fake_manila", False)
    policy = PickyPacker.from_backend(backend, **policy_options("space-time"))
    broker = Broker(backend, policy, broker_settings({"packing": "space-time"}))
    results = await _results(broker, _packed_programs())
    assert results["poison"]["error"] == "poison: the space-time policy failed: 'region 7'"
    assert all(_correct(results[name]) for name in "abc"), results


async def test_a_hung_backend_does_not_stall_submissions() -> None:
    """While a batch hangs, new programs are still accepted and compiled at once."""
    broker, _ = await asyncio.to_thread(_packed_broker, "hang", delay=5.0, batchTimeout=2.0)
    broker.start()
    try:
        [hung] = await broker.submit("me", [_bell("poison")])
        await asyncio.sleep(0.3)  # the batch is running, and hangs
        started = time.monotonic()
        [receipt] = await broker.submit("me", [_bell("late")])
        assert "id" in receipt and time.monotonic() - started < 1.5
        late = await broker.result("me", receipt["id"], 60)
        assert late is not None and _correct(late)
        assert (await broker.result("me", hung["id"], 60) or {})["error"].endswith(
            "timed out after 2 s"
        )
    finally:
        await broker.close()


async def test_close_does_not_wait_for_a_hung_backend() -> None:
    broker, _ = await asyncio.to_thread(_packed_broker, "hang", delay=30.0)
    broker.start()
    [receipt] = await broker.submit("me", [_bell("poison")])
    await asyncio.sleep(0.3)
    started = time.monotonic()
    await broker.close()
    assert time.monotonic() - started < 3
    assert (await broker.result("me", receipt["id"], 1) or {})["error"] == (
        "poison: the broker shut down before it ran"
    )
