"""The benchmark's own measuring tools: ideal distributions, L1 on the composite, arrivals,
HyperQ's own batches on our clock and the batch lower bound."""

from __future__ import annotations

import statistics

import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

from streamflow_quantum.backends.aer import AerBackend
from streamflow_quantum.backends.base import Backend
from streamflow_quantum.backends.registry import make_backend
from streamflow_quantum.bench.packer import (
    CHECKOUT_BENCHMARKS,
    Clock,
    active_qubit_s,
    arrival_times,
    charge_hyperq,
    hyperq_row,
    ideal_distribution,
    l1_distance,
    load_hyperq_batches,
    load_workload,
    lower_bound,
    make_programs,
    mean_l1,
    simulate,
)
from streamflow_quantum.core.model import Batch
from streamflow_quantum.packing.registry import make_policy


def test_ideal_distribution_follows_clbits_and_registers_out_of_order():
    q, late, early = (
        QuantumRegister(3, "q"),
        ClassicalRegister(1, "late"),
        ClassicalRegister(2, "early"),
    )
    circuit = QuantumCircuit(q, late, early)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.x(2)
    circuit.measure(2, late[0])
    circuit.measure([0, 1], [early[1], early[0]])
    # clbits in order: late[0], early[0], early[1]; Qiskit order puts clbit 0 rightmost.
    assert ideal_distribution(circuit) == pytest.approx({"001": 0.5, "111": 0.5})


def test_mid_circuit_measurement_falls_back_to_sampling():
    circuit = QuantumCircuit(1, 2)
    circuit.h(0)
    circuit.measure(0, 0)
    circuit.x(0)
    circuit.measure(0, 1)
    distribution = ideal_distribution(circuit)
    assert set(distribution) == {"01", "10"}
    assert distribution["01"] == pytest.approx(0.5, abs=0.01)
    assert l1_distance(distribution, {"01": 50, "10": 50}) < 0.02


def test_poisson_arrivals_average_one_per_second():
    times = arrival_times(2000, "poisson")
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert statistics.fmean(gaps) == pytest.approx(1.0, rel=0.1)
    assert arrival_times(5, "all-at-once") == [0.0] * 5


@pytest.fixture(scope="module")
def brisbane_backend() -> Backend:
    return make_backend("aer:fake_brisbane", noise=True)


def test_hyperqs_own_batches_on_our_clock_against_our_serial(brisbane_backend: Backend) -> None:
    """The figures benchmarks/README.md states: serial 448 s; 9.26-9.30x, 14.4-15.1x, 7.98x."""
    clock = Clock()
    queue = load_workload(CHECKOUT_BENCHMARKS, "small_only")
    serial_policy = make_policy("serial", brisbane_backend)
    programs = make_programs(serial_policy, queue, clock.shots)
    serial = simulate(serial_policy, programs, [0.0] * len(programs), clock)
    assert serial.qpu_s == pytest.approx(448, abs=2)
    active = active_qubit_s(serial, clock)
    rows = {
        name: hyperq_row(
            [charge_hyperq(b, clock, s) for b, s in runs], serial, active, num_qubits=127
        )
        for name, runs in load_hyperq_batches(CHECKOUT_BENCHMARKS, queue).items()
    }
    assert rows["space"]["range"]["throughput_ratio"] == pytest.approx([9.26, 9.30], abs=0.006)
    assert rows["space-time"]["range"]["throughput_ratio"] == pytest.approx([14.4, 15.1], abs=0.06)
    assert rows["noise-aware"]["throughput_ratio"] == pytest.approx(7.98, abs=0.011)
    assert rows["space"]["batches"] == 15 and rows["noise-aware"]["batches"] == 17


def test_the_lower_bound_is_below_what_fit_packs(brisbane_backend: Backend) -> None:
    clock = Clock(shots=100)
    queue = load_workload(CHECKOUT_BENCHMARKS, "small_only")[:40]
    space, time = (lower_bound(brisbane_backend, queue, clock.shots, a) for a in (0, 1))
    assert 1 <= time <= space
    for options, bound in (({"timePacking": False}, space), ({"appendsPerSlot": 1}, time)):
        policy = make_policy("fit", brisbane_backend, options)
        run = simulate(policy, make_programs(policy, queue, clock.shots), [0.0] * 40, clock)
        assert bound <= len(run.batches)


def test_mean_l1_reads_each_programs_bits_from_the_composite() -> None:
    """Ideal Aer through the composite-faithful face: L1 near 0, with bits in Qiskit's order."""
    backend = make_backend("aer:fake_lagos", noise=False)
    assert isinstance(backend, AerBackend)
    one = QuantumCircuit(3, 3, name="one")
    one.x(0)
    one.h(1)
    one.measure([0, 1, 2], [0, 1, 2])
    two = QuantumCircuit(2, 2, name="two")
    two.x(1)
    two.measure([0, 1], [0, 1])
    queue = [("one", one), ("two", two), ("one", one)]
    ideals = {name: ideal_distribution(c) for name, c in queue}
    assert ideals["one"] == pytest.approx({"001": 0.5, "011": 0.5})
    clock = Clock(shots=2000)
    for name in ("serial", "fit"):
        policy = make_policy(name, backend)
        run = simulate(policy, make_programs(policy, queue, 2000), [0.0] * 3, clock)
        batches = [b for b in run.batches if isinstance(b, Batch)]
        assert mean_l1(backend.simulator, batches, ideals, shots=2000) < 0.08
    # Wrong ideals (bits reversed) are far off: the measure can fail.
    wrong = {"one": {"100": 0.5, "110": 0.5}, "two": {"01": 1.0}}
    assert mean_l1(backend.simulator, batches, wrong, shots=2000) > 1.5
