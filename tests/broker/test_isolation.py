"""One client's long compile holds up nobody else: programs compile side by side, each in a
compiler process of its own, which is killed when its compile runs out of time."""

from __future__ import annotations

import asyncio
import os
import random
import signal
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
    # Target (issue 9): another client's p95 rises by at most 1 s. Compiles share no GIL,
    # so not even its worst does.
    assert max(beside) <= statistics.median(alone) + 1.0, (alone, beside)


def _compilers() -> dict[int, float]:
    """This process's compiler processes: CPU seconds each has used, by pid."""
    used = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read()
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        ours = int(fields[1]) == os.getpid() and fields[0] != "Z"  # a live child
        if ours and b"streamflow_quantum.backends.compiler" in command:
            used[int(entry)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


async def test_a_compile_out_of_time_is_stopped_not_left_running() -> None:
    broker = build_broker(
        {"backend": "aer:fake_brisbane", "noise": False, "packing": "serial", "compileTimeout": 2}
    )
    broker.start()
    try:
        [refusal] = await broker.submit("a", [_heavy()])
        assert "compiling took over 2 s (compileTimeout)" in refusal["error"]
        await asyncio.sleep(0.2)
        before, own = _compilers(), time.process_time()
        await asyncio.sleep(1.0)
        after, own = _compilers(), time.process_time() - own
        busy = {pid: after[pid] - before[pid] for pid in after.keys() & before.keys()}
        # Nothing keeps compiling it: neither a compiler process nor a thread of the broker.
        assert own + sum(busy.values()) < 0.3, (own, busy)
        assert await _latency(broker, "b", _ghz(0)) < 5
    finally:
        await broker.close()


async def test_a_compiler_that_dies_refuses_only_its_program() -> None:
    broker = build_broker(
        {"backend": "aer:fake_brisbane", "noise": False, "packing": "serial", "compileTimeout": 60}
    )
    broker.start()
    try:
        await _latency(broker, "b", _ghz(0))
        start = _compilers()
        heavy = asyncio.ensure_future(broker.submit("a", [_heavy()]))
        working: list[int] = []
        deadline = time.monotonic() + 30
        while not working and time.monotonic() < deadline:  # until a compiler is busy with it
            await asyncio.sleep(0.1)
            now = _compilers()
            working = [pid for pid in now.keys() & start.keys() if now[pid] - start[pid] > 0.5]
        assert working, "no compiler process took the program"
        os.kill(working[0], signal.SIGKILL)  # as the kernel's OOM killer would
        [refusal] = await heavy
        assert "the compiler process ended (exit status -9)" in refusal["error"], refusal
        assert await _latency(broker, "b", _ghz(1)) < 5
    finally:
        await broker.close()


def _medium(seed: int) -> QuantumCircuit:
    """6 qubits and 6,000 CX: about half a second to compile for FakeBrisbane, and quick
    to simulate."""
    rng = random.Random(seed)
    circuit = QuantumCircuit(6, 6)
    for _ in range(6_000):
        control, target = rng.sample(range(6), 2)
        circuit.cx(control, target)
        circuit.rz(rng.random(), target)
    circuit.measure(range(6), range(6))
    return circuit


async def test_a_burst_of_one_circuit_compiles_once() -> None:
    broker = build_broker({"backend": "aer:fake_brisbane", "noise": False, "packing": "serial"})
    broker.start()
    try:
        await _latency(broker, "b", _ghz(0))  # warm: the Target is in the compiler processes

        async def compiler_seconds(copies: int, seed: int) -> float:
            before = _compilers()
            circuit = _medium(seed)
            receipts = await asyncio.gather(
                *(
                    broker.submit(f"c{i}", [Program(f"m{i}", circuit, 10)], keys=[f"k{seed}"])
                    for i in range(copies)
                )
            )
            assert all("id" in r for [r] in receipts), receipts
            after = _compilers()
            return sum(after[pid] - before.get(pid, 0.0) for pid in after)

        one = await compiler_seconds(1, seed=1)
        burst = await compiler_seconds(8, seed=2)
    finally:
        await broker.close()
    assert one > 0.1, one  # it did compile, in a compiler process
    # Eight submissions at once of one circuit: one compile, the others reuse it.
    assert burst < 2 * one, (one, burst)
