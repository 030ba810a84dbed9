"""The IBM path (qiskit-ibm-runtime's client-side Sampler) offline, in the runtime's local
mode on a fake device, through the broker."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from qiskit import QuantumCircuit

from streamflow_quantum.backends import ibm
from streamflow_quantum.broker.factory import build_broker
from streamflow_quantum.core.model import Program


def ghz(width: int) -> QuantumCircuit:
    circuit = QuantumCircuit(width, width, name=f"ghz_{width}")
    circuit.h(0)
    for qubit in range(width - 1):
        circuit.cx(qubit, qubit + 1)
    circuit.measure(range(width), range(width))
    return circuit


async def sample(
    settings: dict[str, Any], circuits: list[QuantumCircuit], shots: int
) -> list[dict[str, Any]]:
    """Each circuit's result from a broker on ``settings``, in order, with no
    DeprecationWarning raised from our code (the runtime's SamplerV2 would)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=DeprecationWarning, module="streamflow_quantum")
        broker = build_broker(settings)
        broker.start()
        try:
            receipts = await broker.submit(
                "me", [Program(c.name, c, shots=shots, seed=1) for c in circuits]
            )
            return [await broker.result("me", r["id"], timeout=120) for r in receipts]
        finally:
            await broker.close()


def assert_ghz(result: dict[str, Any], width: int, shots: int) -> None:
    counts = result["counts"]
    assert result["backend"] == "ibm:fake_manila"
    assert result["job"], result
    assert sum(counts.values()) == shots
    assert all(len(key) == width for key in counts), counts
    # FakeManila's noise: most shots, not all, land on the two GHZ outcomes.
    assert counts.get("0" * width, 0) + counts.get("1" * width, 0) > 0.75 * shots, counts


@pytest.mark.parametrize("mode", ["job", "batch", "session"])
async def test_the_ibm_path_runs_in_local_mode(mode: str) -> None:
    """One program alone (serial), in each of the runtime's execution modes."""
    [result] = await sample(
        {"backend": "ibm:fake_manila", "ibm": {"mode": mode}, "packing": "serial"},
        [ghz(3)],
        shots=300,
    )
    assert_ghz(result, 3, 300)


@pytest.mark.parametrize(
    ("mode", "composite_qubits"),
    [("job", ibm.LOCAL_COMPOSITE_QUBITS), ("session", ibm.LOCAL_COMPOSITE_QUBITS), ("job", 0)],
    ids=["job", "session", "job-by-placement"],
)
async def test_packed_programs_share_one_ibm_job(
    mode: str, composite_qubits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """space-time packing on a 5-qubit device: several GHZ programs in one batch, one
    Sampler job, the counts split back per program. In local mode a composite wider than
    LOCAL_COMPOSITE_QUBITS runs as its placements (the last case), still one job."""
    monkeypatch.setattr(ibm, "LOCAL_COMPOSITE_QUBITS", composite_qubits)
    circuits = [ghz(2), ghz(3), ghz(2), ghz(3)]
    results = await sample(
        {
            "backend": "ibm:fake_manila",
            "ibm": {"mode": mode},
            "packing": "space-time",
            "batchWindow": 1,
            "fidelityBudget": 1,
        },
        circuits,
        shots=400,
    )
    for circuit, result in zip(circuits, results, strict=True):
        assert result["circuit"] == circuit.name
        assert_ghz(result, circuit.num_qubits, 400)
    batches = [result["batch"] for result in results]
    jobs = [result["job"] for result in results]
    assert len(set(batches)) < len(circuits), f"nothing packed: {batches}"
    assert len(set(jobs)) == len(set(batches)), "one runtime job per batch"
