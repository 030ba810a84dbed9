"""One client's long compile holds up nobody else: programs compile side by side."""

from __future__ import annotations

import asyncio
import random
import statistics
import time

from qiskit import QuantumCircuit

from streamflow_quantum.broker.factory import build_broker
from streamflow_quantum.core.model import Program


def _ghz(i: int) -> Program:
    circuit = QuantumCircuit(3, 3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.measure(range(3), range(3))
    return Program(f"ghz-{i}", circuit, 100)


def _heavy() -> Program:
    """127 qubits and 10,000 CX: about 20 s to compile for FakeBrisbane on one core."""
    rng = random.Random(1)
    circuit = QuantumCircuit(127, 127)
    for _ in range(10_000):
        circuit.cx(*rng.sample(range(127), 2))
    circuit.measure(range(127), range(127))
    return Program("heavy", circuit, 100)


async def _latency(broker, client: str, program: Program) -> float:
    begin = time.perf_counter()
    [receipt] = await broker.submit(client, [program])
    result = await broker.result(client, receipt["id"], 120)
    assert set(result["counts"]) <= {"000", "111"}, result
    return time.perf_counter() - begin


async def test_a_long_compile_does_not_delay_another_clients_programs() -> None:
    broker = build_broker(
        {"backend": "aer:fake_brisbane", "noise": False, "packing": "serial", "compileTimeout": 4}
    )
    broker.start()
    try:
        await _latency(broker, "b", _ghz(0))  # warm: the pass manager, Aer
        alone = [await _latency(broker, "b", _ghz(i)) for i in range(5)]
        heavy = asyncio.ensure_future(broker.submit("a", [_heavy()]))
        await asyncio.sleep(0.5)  # the heavy program is compiling
        beside = [await _latency(broker, "b", _ghz(i)) for i in range(20)]
        [refusal] = await heavy
    finally:
        await broker.close()
    assert "compiling took over 4 s (compileTimeout)" in refusal["error"]
    # Target (issue 9): another client's p95 rises by at most 1 s. (Its worst can rise more:
    # a pass written in Rust may hold the GIL for a few seconds; see the README.)
    p95 = sorted(beside)[int(0.95 * (len(beside) - 1))]
    assert p95 <= statistics.median(alone) + 1.0, (alone, beside)
