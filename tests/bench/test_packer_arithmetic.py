"""`sfq bench packer`'s clock, simulation and figures on hand-built queues with known answers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from qiskit import QuantumCircuit

from streamflow_quantum.bench.packer import (
    CHECKOUT_BENCHMARKS,
    FIT_DEFAULT_BUDGET,
    HYPERQ_BATCHES,
    VARIANTS,
    Clock,
    HyperQBatch,
    Run,
    active_qubit_s,
    base_row,
    charge_hyperq,
    default_benchmarks,
    figures,
    hyperq_row,
    load_hyperq_batches,
    load_workload,
    simulate,
    targets,
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


def test_hyperq_batches_are_charged_back_to_back_on_the_clock() -> None:
    # 2 s per job plus 10 shots x (0.05 s + duration): 2.0 s and 2.5 s.
    batches = [HyperQBatch(("a", "b", "c"), 0.05), HyperQBatch(("d",), 0.1)]
    run = charge_hyperq(batches, CLOCK, schedule_s=0.4)
    assert run.qpu_s == pytest.approx(2.0 + 2.5)
    assert run.latencies == pytest.approx([2.0, 2.0, 2.0, 4.5])
    serial = simulate(Heads(1), programs(*[(1, 10)] * 4), [0.0] * 4, CLOCK)  # 4 x 2 s
    row = figures(run, serial, active_qubit_s(serial, CLOCK), num_qubits=4)
    assert row["batches"] == 2
    assert row["throughput_ratio"] == pytest.approx(8.0 / 4.5)
    assert row["utilization"] == pytest.approx(8.0 / (4 * 4.5))
    assert row["mean_latency_s"] == pytest.approx((3 * 2.0 + 4.5) / 4)
    assert row["schedule_ms_per_program"] == pytest.approx(100.0)


def test_hyperq_runs_report_their_mean_and_range() -> None:
    serial = simulate(Heads(1), programs(*[(1, 10)] * 4), [0.0] * 4, CLOCK)  # 8 s
    one = charge_hyperq([HyperQBatch(("a", "b", "c", "d"), 0.05)], CLOCK)  # 2 s: 4x
    two = charge_hyperq([HyperQBatch(("a", "b"), 0.05)] * 2, CLOCK)  # 4 s: 2x
    row = hyperq_row([one, two], serial, active_qubit_s(serial, CLOCK), num_qubits=1)
    assert row["runs"] == 2
    assert row["throughput_ratio"] == pytest.approx(3.0)
    assert row["range"]["throughput_ratio"] == pytest.approx([2.0, 4.0])
    assert row["batches"] == pytest.approx(1.5)
    assert row["range"]["batches"] == [1, 2]


def test_hyperq_batches_must_hold_the_queue(tmp_path: Path) -> None:
    queue = [("a", QuantumCircuit(1)), ("b", QuantumCircuit(1)), ("a", QuantumCircuit(1))]
    spec: dict[str, Any] = {
        "device": "fake_brisbane",
        "workload": "small-only",
        "arrival": "all-at-once",
        "runs": {
            "space": [
                {
                    "batches": [
                        {"programs": ["a", "b"], "duration_s": 1e-5},
                        {"programs": ["a"], "duration_s": 2e-5},
                    ],
                    "schedule_total_s": 0.3,
                }
            ]
        },
    }
    (tmp_path / HYPERQ_BATCHES).write_text(json.dumps(spec))
    runs = load_hyperq_batches(tmp_path, queue)
    assert runs == {"space": [([HyperQBatch(("a", "b"), 1e-5), HyperQBatch(("a",), 2e-5)], 0.3)]}
    spec["runs"]["space"][0]["batches"][1]["programs"] = ["b"]  # a twice, b once: not the queue
    (tmp_path / HYPERQ_BATCHES).write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="does not hold"):
        load_hyperq_batches(tmp_path, queue)


def test_the_checkout_holds_hyperqs_batches_of_the_small_only_queue() -> None:
    queue = load_workload(CHECKOUT_BENCHMARKS, "small_only")
    runs = load_hyperq_batches(CHECKOUT_BENCHMARKS, queue)
    assert {name: len(each) for name, each in runs.items()} == {
        "space": 3,
        "space-time": 5,
        "noise-aware": 2,
    }
    assert {len(batches) for batches, _ in runs["space"]} == {15}
    assert {len(batches) for batches, _ in runs["space-time"]} == {9}
    assert {len(batches) for batches, _ in runs["noise-aware"]} == {17}


def test_rows_name_device_scheduler_appends_budget_and_bound() -> None:
    fit = next(v for v in VARIANTS if v.label == "fit budget 0")
    row = base_row("FakeFez", "small-only", "all-at-once", fit, "ours", 7)
    assert row == {
        "device": "FakeFez",
        "workload": "small-only",
        "arrival": "all-at-once",
        "policy": "fit",
        "label": "fit budget 0",
        "scheduler": "ours",
        "appends_per_slot": 1,
        "fidelity_budget": 0.0,
        "lower_bound_batches": 7,
    }
    labels = {(v.label, v.appends_per_slot, v.fidelity_budget) for v in VARIANTS}
    assert {
        ("fit space", 0, 1.0),
        ("fit space-time", 1, 1.0),
        ("fit budgeted", 1, FIT_DEFAULT_BUDGET),
        ("fit budget 0", 1, 0.0),
        ("serial", None, None),
    } <= labels


def _row(label: str, scheduler: str = "ours", **figures: Any) -> dict[str, Any]:
    return {
        "device": "FakeBrisbane",
        "workload": "small-only",
        "arrival": "all-at-once",
        "label": label,
        "scheduler": scheduler,
        "schedule_ms_per_program": 5.0,
    } | figures


def test_targets_judge_throughput_l1_bound_and_time() -> None:
    results = [
        _row(
            "HyperQ space", "hyperq", throughput_ratio=9.28, range={"throughput_ratio": [9.2, 9.3]}
        ),
        _row("fit space", throughput_ratio=14.0, batches=12, lower_bound_batches=11),
        _row(
            "fit space-time",
            throughput_ratio=21.9,
            batches=7,
            lower_bound_batches=6,
        ),
        _row("fit budgeted", throughput_ratio=12.5, mean_l1=0.321, serial_mean_l1=0.30),
        _row(
            "fit budget 0",
            throughput_ratio=10.0,
            batches=20,
            lower_bound_batches=6,
            mean_l1=0.304,
            serial_mean_l1=0.30,
            schedule_ms_per_program=21.0,
        ),
        # Another device's rows are not judged.
        _row("fit space", throughput_ratio=1.0, batches=99, lower_bound_batches=1)
        | {"device": "FakeFez"},
    ]
    judged = {(t["figure"].split(",")[0], t["row"]): t for t in targets(results)}
    space = judged[("space only", "fit space")]
    assert (space["ours"], space["hyperq"], space["reached"]) == (14.0, 9.28, True)
    assert space["hyperq_range"] == [9.2, 9.3]
    assert judged[("space-time", "fit space-time")]["reached"] is False  # 21.9 < 22
    assert judged[("fidelity-budgeted (default budget)", "fit budgeted")]["reached"] is True
    l1 = {t["row"]: t for t in targets(results) if t["figure"].startswith("mean L1")}
    assert l1["fit budgeted"]["reached"] is False  # 0.321 > 0.30 + 0.02
    assert l1["fit budget 0"]["reached"] is True  # 0.304 <= 0.30 + 0.005
    bound = {t["row"]: t for t in targets(results) if t["figure"].startswith("batches")}
    assert bound["fit space"]["reached"] is True  # 12 <= 1.15 x 11
    assert bound["fit space-time"]["reached"] is False  # 7 > 6.9
    assert bound["fit budgeted"]["reached"] is None  # not measured
    (time,) = [t for t in targets(results) if t["figure"].startswith("schedule")]
    assert (time["ours"], time["reached"]) == (21.0, False)
