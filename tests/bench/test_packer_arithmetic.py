"""`sfq bench packer`'s clock, simulation and figures on hand-built queues with known answers."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from qiskit import QuantumCircuit

from streamflow_quantum.bench.packer import (
    CHECKOUT_BENCHMARKS,
    Clock,
    Run,
    active_qubit_s,
    default_benchmarks,
    figures,
    load_workload,
    simulate,
)
from streamflow_quantum.core.model import Batch, Placement, Program

#: Every job costs 1 s + shots x 0.1 s: 2 s for 10 shots, 1.5 s for 5.
CLOCK = Clock(overhead_s=1.0, rep_delay_s=0.05, shots=10)
DURATION_S = 0.05


class Heads:
    """A trivial policy: the first ``size`` programs, for at most ``chunk`` shots each."""

    name = "heads"
    packs = True

    def __init__(self, size: int, chunk: int | None = None) -> None:
        self.size, self.chunk = size, chunk
        self.forgotten: list[str] = []

    def prepare(self, program: Program, like: Program | None = None) -> None:
        pass

    def forget(self, program: Program) -> None:
        self.forgotten.append(program.name)

    def next_batch(self, queue: Sequence[Program]) -> Batch:
        taken = list(queue[: self.size])
        shots = min(p.shots_left for p in taken)
        if self.chunk is not None:
            shots = min(shots, self.chunk)
        return Batch(
            [Placement(p, p.circuit, ()) for p in taken], shots, QuantumCircuit(), [], DURATION_S
        )


def programs(*spec: tuple[int, int]) -> list[Program]:
    """Programs named p0, p1, ... of (width, shots)."""
    return [Program(f"p{i}", QuantumCircuit(w), s) for i, (w, s) in enumerate(spec)]


def test_clock_charges_overhead_plus_shots_times_delay_and_duration() -> None:
    clock = Clock()
    assert (clock.overhead_s, clock.rep_delay_s, clock.shots) == (2.0, 250e-6, 4000)
    assert clock.job_s(4000, 1e-6) == pytest.approx(2.0 + 4000 * 251e-6)
    assert CLOCK.job_s(10, DURATION_S) == pytest.approx(2.0)
    assert CLOCK.job_s(0, 1.0) == pytest.approx(1.0)


def test_serial_all_at_once_runs_back_to_back() -> None:
    queue = programs((1, 10), (2, 10), (1, 10))
    run = simulate(Heads(1), queue, [0.0, 0.0, 0.0], CLOCK)
    assert [[p.name for p in b.programs] for b in run.batches] == [["p0"], ["p1"], ["p2"]]
    assert run.qpu_s == pytest.approx(6.0)
    assert run.latencies == pytest.approx([2.0, 4.0, 6.0])
    assert [p.shots_done for p in queue] == [10, 10, 10]


def test_packing_two_at_a_time() -> None:
    policy = Heads(2)
    run = simulate(policy, programs((1, 10), (2, 10), (1, 10)), [0.0, 0.0, 0.0], CLOCK)
    assert [len(b.programs) for b in run.batches] == [2, 1]
    assert run.qpu_s == pytest.approx(4.0)
    assert run.latencies == pytest.approx([2.0, 2.0, 4.0])
    assert sorted(policy.forgotten) == ["p0", "p1", "p2"]


def test_an_idle_device_waits_for_the_next_arrival() -> None:
    # p0 runs 0-2; the device idles until p1 arrives at 5 (5-7); p2 arrived at 5.5, runs 7-9.
    run = simulate(Heads(1), programs((1, 10), (1, 10), (1, 10)), [0.0, 5.0, 5.5], CLOCK)
    assert run.qpu_s == pytest.approx(6.0)  # device time only, not the idle gap
    assert run.latencies == pytest.approx([2.0, 2.0, 3.5])


def test_a_program_with_shots_left_stays_at_the_head_until_done() -> None:
    # Chunks of 5 shots (1.5 s a job): p0 needs two jobs (done at 3), p1 one (done at 4.5).
    policy = Heads(1, chunk=5)
    queue = programs((1, 10), (1, 5))
    run = simulate(policy, queue, [0.0, 0.0], CLOCK)
    assert [b.programs[0].name for b in run.batches] == ["p0", "p0", "p1"]
    assert run.latencies == pytest.approx([3.0, 4.5])
    assert [p.shots_done for p in queue] == [10, 5]
    assert policy.forgotten == ["p0", "p1"]


def test_figures_against_serial() -> None:
    serial = simulate(Heads(1), programs((1, 10), (3, 10)), [0.0, 0.0], CLOCK)
    packed = simulate(Heads(2), programs((1, 10), (3, 10)), [0.0, 0.0], CLOCK)
    active = active_qubit_s(serial, CLOCK)
    assert active == pytest.approx(1 * 2.0 + 3 * 2.0)
    ours = figures(packed, serial, active, num_qubits=4)
    assert ours["batches"] == 1
    assert ours["throughput_ratio"] == pytest.approx(4.0 / 2.0)
    assert ours["utilization"] == pytest.approx(8.0 / (4 * 2.0))
    assert ours["mean_latency_s"] == pytest.approx(2.0)
    alone = figures(serial, serial, active, num_qubits=4)
    assert alone["throughput_ratio"] == 1.0
    assert alone["utilization"] == pytest.approx(8.0 / (4 * 4.0))
    assert alone["mean_latency_s"] == pytest.approx((2.0 + 4.0) / 2)


def test_schedule_time_is_per_program_in_ms() -> None:
    run = Run(batches=[], qpu_s=1.0, latencies=[1.0, 2.0, 3.0], schedule_s=0.006)
    assert figures(run, run, 0.0, 1)["schedule_ms_per_program"] == pytest.approx(2.0)


def test_the_workloads_ship_with_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SFQ_BENCHMARKS", raising=False)
    assert default_benchmarks() == CHECKOUT_BENCHMARKS
    small = load_workload(CHECKOUT_BENCHMARKS, "small_only")
    both = load_workload(CHECKOUT_BENCHMARKS, "small_med")
    assert (len(small), len({n for n, _ in small})) == (145, 29)
    assert (len(both), len({n for n, _ in both})) == (196, 49)
    monkeypatch.setenv("SFQ_BENCHMARKS", "/elsewhere")
    assert str(default_benchmarks()) == "/elsewhere"
