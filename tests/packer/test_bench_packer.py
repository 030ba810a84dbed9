"""The benchmark's own measuring tools: ideal distributions, L1 and arrivals."""

from __future__ import annotations

import statistics

import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

from streamflow_quantum.bench.packer import arrival_times, ideal_distribution, l1_distance


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
