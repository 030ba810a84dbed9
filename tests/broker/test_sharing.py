"""Sharing one broker: several QPUs, a QPU that fails, quotas, refusals at once, estimates."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from typing import Any

from qiskit import QuantumCircuit

from streamflow_quantum.backends.base import Backend
from streamflow_quantum.broker.core import Broker
from streamflow_quantum.broker.factory import build_broker
from streamflow_quantum.core.model import Batch, Program, User
from streamflow_quantum.planning.validation import ghz_circuit


class Paced(Backend):
    """A real backend that takes ``delay`` seconds per batch, and fails as a device that
    went offline (a dropped connection) from its ``fail_after``-th batch on."""

    @classmethod
    def open(cls, device: str, noise: bool, **options: Any) -> Backend:
        raise NotImplementedError

    def __init__(self, inner: Backend, delay: float, fail_after: int | None = None) -> None:
        super().__init__(inner.name, inner.target)
        self.inner, self.delay, self.fail_after = inner, delay, fail_after
        self.batches = 0
        self.gate = threading.Event()
        self.gate.set()

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        self.gate.wait(60)
        self.batches += 1
        time.sleep(self.delay)
        if self.fail_after is not None and self.batches > self.fail_after:
            raise ConnectionResetError("the QPU's provider closed the connection")
        return self.inner.run(batch, seed)


def _bell(name: str, qubits: int = 2) -> Program:
    circuit = QuantumCircuit(qubits, 2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return Program(name, circuit, shots=200)


async def _broker(settings: dict[str, Any], *paced: tuple[float, int | None]) -> Broker:
    """A broker whose i-th QPU is paced by ``paced[i]`` (delay, fail after)."""
    wrapped: list[Backend] = []

    def wrap(inner: Backend) -> Backend:
        delay, fail_after = paced[len(wrapped)]
        wrapped.append(Paced(inner, delay, fail_after))
        return wrapped[-1]

    return await asyncio.to_thread(build_broker, settings, wrap)


async def _run_all(
    broker: Broker, programs: list[Program], user: User | None = None
) -> list[dict[str, Any]]:
    receipts = await broker.submit("client", programs, user=user or User("anyone"))
    assert all("id" in r for r in receipts), receipts
    return [await broker.result("client", r["id"], 120) for r in receipts]


TWO = {"backends": ["aer:fake_manila", "aer:fake_manila"], "noise": False, "packing": "serial"}


def _good(record: dict[str, Any]) -> bool:
    counts = record.get("counts") or {}
    return set(counts) <= {"00", "11"} and sum(counts.values()) == 200


async def test_two_qpus_share_the_queue() -> None:
    broker = await _broker(TWO, (0.3, None), (0.3, None))
    broker.start()
    try:
        records = await _run_all(broker, [_bell(f"bell{i}") for i in range(8)])
    finally:
        await broker.close()
    assert all(_good(r) for r in records), records
    used = Counter(r["backend"] for r in records)
    assert set(used) == {q.label for q in broker.qpus} and len(used) == 2, used


async def test_a_failing_qpu_is_drained_and_loses_nothing() -> None:
    broker = await _broker(TWO, (0.1, None), (0.1, 1))
    broker.start()
    try:
        records = await _run_all(broker, [_bell(f"bell{i}") for i in range(10)])
        status = broker.status()
    finally:
        await broker.close()
    assert all(_good(r) for r in records), records
    failing = broker.qpus[1]
    assert not failing.online and "closed the connection" in str(failing.drained)
    assert [q["online"] for q in status["qpus"]] == [True, False]
    # What ran on the failing QPU before it failed kept its counts; the rest moved.
    assert Counter(r["backend"] for r in records)[failing.label] <= 1


async def test_a_circuit_wider_than_every_qpu_is_refused_at_once() -> None:
    broker = await _broker(TWO, (0.0, None), (0.0, None))
    broker.start()
    try:
        begin = time.perf_counter()
        [receipt] = await broker.submit("client", [_bell("wide", qubits=6)])
        elapsed = time.perf_counter() - begin
    finally:
        await broker.close()
    assert "needs 6 qubits but the widest QPU here" in receipt["error"]
    assert "has 5: send at most 5" in receipt["error"]
    assert elapsed < 1.0  # refused before compiling


async def test_quotas_refuse_with_the_quota_named() -> None:
    broker = await _broker(
        {"backend": "aer:fake_manila", "noise": False, "packing": "serial"}, (0.0, None)
    )
    backend = broker.backend
    assert isinstance(backend, Paced)
    backend.gate.clear()  # nothing runs: programs stay queued
    broker.start()
    try:
        capped = User("alice", max_queued=2)
        receipts = await broker.submit(
            "client", [_bell("a1"), _bell("a2"), _bell("a3")], user=capped
        )
        assert ["id" in r for r in receipts] == [True, True, False]
        assert "user alice has 2 programs queued" in receipts[2]["error"]
        assert "max_queued 2" in receipts[2]["error"]
        # Another user is not held by alice's quota.
        [other] = await broker.submit("other", [_bell("b1")], user=User("bob"))
        assert "id" in other
        backend.gate.set()
        await broker.result("client", receipts[0]["id"], 60)

        metered = User("carol", device_s=1e-9)  # less than any batch's modelled device time
        [first] = await broker.submit("carol", [_bell("c1")], user=metered)
        record = await broker.result("carol", first["id"], 60)
        assert record is not None and record["user"] == "carol" and record["device_s"] > 1e-9
        [refused] = await broker.submit("carol", [_bell("c2")], user=metered)
        assert "user carol used" in refused["error"] and "quota device_seconds" in refused["error"]
    finally:
        backend.gate.set()
        await broker.close()


class Charged(Paced):
    """A backend whose provider reports what it charged for each job, as IBM's does."""

    def used_s(self, job_id: str) -> float | None:
        return 5.0


async def test_quotas_charge_what_the_provider_reports() -> None:
    broker = await asyncio.to_thread(
        build_broker,
        {"backend": "aer:fake_manila", "noise": False, "packing": "serial"},
        lambda inner: Charged(inner, 0.0),
    )
    broker.start()
    try:
        metered = User("dave", device_s=4.0)  # far above the modelled time, below 5 s
        [first] = await broker.submit("dave", [_bell("d1")], user=metered)
        record = await broker.result("dave", first["id"], 60)
        assert record is not None and record["used_s"] == 5.0 and record["device_s"] < 4.0
        [refused] = await broker.submit("dave", [_bell("d2")], user=metered)
    finally:
        await broker.close()
    assert "user dave used 5" in refused["error"], refused


async def test_receipts_say_when_programs_should_start_and_finish() -> None:
    broker = await _broker(
        {"backend": "aer:fake_manila", "noise": False, "packing": "serial"}, (0.2, None)
    )
    broker.start()
    try:
        await _run_all(broker, [_bell("warm")])  # the model learns one batch's cost
        receipts = await broker.submit("client", [_bell(f"b{i}") for i in range(4)])
        starts = [r["estimated_start"] for r in receipts]
        assert starts == sorted(starts) and len(set(starts)) == 4  # one program per batch
        assert all(r["estimated_finish"] > r["estimated_start"] for r in receipts)
        # Each batch costs about the 0.2 s the backend takes: the last starts ~0.6 s later.
        assert 0.3 < starts[-1] - starts[0] < 3.0
        records = [await broker.result("client", r["id"], 60) for r in receipts]
    finally:
        await broker.close()
    actual = [r["times"]["started"] for r in records if r]
    assert abs(actual[-1] - starts[-1]) < 1.5


async def test_packed_receipts_foresee_the_batches_the_packer_forms() -> None:
    """Under a packing policy, programs given the same estimated start run in the same
    batch, and the dispatcher runs the batches the estimate formed, not new ones."""
    broker = await _broker(
        {"backend": "aer:fake_guadalupe", "noise": False, "packing": "fit"}, (0.2, None)
    )
    broker.start()
    try:
        await _run_all(broker, [_bell("warm")])  # the model learns one batch's cost
        programs = [Program(f"ghz{i}", ghz_circuit(2 + i % 4), shots=200) for i in range(14)]
        receipts = await broker.submit("client", programs)
        records = [await broker.result("client", r["id"], 120) for r in receipts]
        left = len(broker.qpus[0].formed)
    finally:
        await broker.close()
    assert all(r and "counts" in r for r in records), records
    by_estimate = Counter(r["estimated_start"] for r in receipts)
    by_batch = Counter(r["batch"] for r in records if r)
    assert len(by_batch) > 1 and max(by_batch.values()) > 1, by_batch  # packed, in batches
    assert sorted(by_estimate.values()) == sorted(by_batch.values())
    pairs = {(r["estimated_start"], rec["batch"]) for r, rec in zip(receipts, records, strict=True)}
    assert len(pairs) == len(by_batch)  # each estimated start is one batch
    assert left == 0  # every batch formed ahead was the one run


async def test_priority_ageing_lets_a_low_priority_program_run() -> None:
    """A high-priority user keeps the QPU busy; the low-priority program, aged past
    them, still runs before high-priority programs that queued long before it started."""
    settings = {
        "backend": "aer:fake_manila",
        "noise": False,
        "packing": "serial",
        "queue": "priority",
        "queueOptions": {"ageingSeconds": 0.2},
    }
    broker = await _broker(settings, (0.1, None))
    broker.start()
    low, high = User("low", priority=1), User("high", priority=11)  # 2 s of ageing apart
    try:
        first = await broker.submit("high", [_bell("busy")], user=high)  # the QPU is busy
        [receipt] = await broker.submit("low", [_bell("low")], user=low)
        flood: list[str] = [first[0]["id"]]
        for i in range(40):  # 4 s of work arriving over 2.4 s: the queue never empties
            [r] = await broker.submit("high", [_bell(f"high{i}")], user=high)
            flood.append(r["id"])
            await asyncio.sleep(0.06)
        record = await broker.result("low", receipt["id"], 60)
        highs = [await broker.result("high", i, 60) for i in flood]
    finally:
        await broker.close()
    assert record is not None and _good(record)
    started = record["times"]["started"]
    submitted = record["times"]["submitted"]
    assert 1.5 < started - submitted < 4.0  # waited out its 2 s of priority, not the flood
    overtaken = [
        h for h in highs if h and h["times"]["submitted"] < started < h["times"]["started"]
    ]
    assert overtaken, "the aged program overtook no waiting high-priority program"
    assert highs[0] is not None and highs[0]["times"]["started"] < started  # priority did count
