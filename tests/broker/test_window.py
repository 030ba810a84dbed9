"""The batch window: it gathers programs only while gathering could fill the batch more."""

from __future__ import annotations

import time

from streamflow_quantum.broker.factory import build_broker
from streamflow_quantum.core.model import Program
from streamflow_quantum.planning.validation import ghz_circuit

WINDOW_S = 3.0


def _bell(name: str) -> Program:
    return Program(name, ghz_circuit(2), shots=100)


async def _turnaround(broker, programs: list[Program]) -> float:
    begin = time.monotonic()
    receipts = await broker.submit("client", programs)
    for receipt in receipts:
        record = await broker.result("client", receipt["id"], 60)
        assert set(record["counts"]) <= {"00", "11"}, record
    return time.monotonic() - begin


async def test_a_queue_that_fills_a_batch_starts_it_without_waiting_out_the_window() -> None:
    broker = build_broker(
        {"backend": "aer:fake_manila", "noise": False, "packing": "space", "batchWindow": WINDOW_S}
    )
    broker.start()
    try:
        # Alone, a program waits out the window: more might come to share its batch.
        assert await _turnaround(broker, [_bell("first")]) >= WINDOW_S
        # Three at once: the device holds two (with a qubit between them), not three.
        await _turnaround(broker, [_bell(f"b{i}") for i in range(3)])
        # Two now fill a batch as the device held it: nothing to gather for.
        quick = await _turnaround(broker, [_bell("next-0"), _bell("next-1")])
    finally:
        await broker.close()
    assert quick < WINDOW_S / 2, quick
