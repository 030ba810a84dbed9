"""`sfq sample` run directly on a backend (no broker), as under plain cwltool."""

from __future__ import annotations

import io
import json
from pathlib import Path

from qiskit import QuantumCircuit, qpy

from tests.conftest import run_tool

GHZ3 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
h q[0];
cx q[0],q[1];
cx q[1],q[2];
measure q -> c;
"""


def _sample(tmp_path: Path, *circuits: Path, backend: str = "aer", shots: int = 400):
    out = tmp_path / "out.json"
    done = run_tool(
        "sfq",
        "sample",
        "--shots",
        str(shots),
        "--seed",
        "3",
        "--backend",
        backend,
        "--output",
        out,
        *circuits,
    )
    results = json.loads(out.read_text())["results"] if out.exists() else []
    return done, results


def test_bitstrings_are_in_qiskit_order_across_formats(tmp_path: Path) -> None:
    qasm3 = tmp_path / "x0.qasm"
    qasm3.write_text(
        'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\nbit[3] c;\nx q[0];\nc = measure q;\n'
    )
    circuit = QuantumCircuit(2, 2, name="x1")
    circuit.x(1)
    circuit.measure([0, 1], [0, 1])
    buffer = io.BytesIO()
    qpy.dump(circuit, buffer)
    qpy_file = tmp_path / "x1.qpy"
    qpy_file.write_bytes(buffer.getvalue())
    done, results = _sample(tmp_path, qasm3, qpy_file)
    assert done.returncode == 0, done.stderr
    assert [r["counts"] for r in results] == [{"001": 400}, {"10": 400}]
    assert [r["circuit"] for r in results] == ["x0.qasm", "x1.qpy"]
    for r in results:
        assert r["backend"] == "aer" and r["job"] and r["batch"]
        assert r["times"]["submitted"] <= r["times"]["started"] <= r["times"]["finished"]


def test_a_malformed_circuit_is_refused_and_the_others_still_run(tmp_path: Path) -> None:
    good = tmp_path / "ghz.qasm"
    good.write_text(GHZ3)
    bad = tmp_path / "bad.qasm"
    bad.write_text("OPENQASM 2.0;\nqreg q[2];\nfoo q[0];\n")
    unmeasured = tmp_path / "nomeasure.qasm"
    unmeasured.write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nh q[0];\n')
    done, results = _sample(tmp_path, bad, good, unmeasured)
    assert done.returncode == 1
    assert (
        results[1]["counts"].keys() <= {"000", "111"} and sum(results[1]["counts"].values()) == 400
    )
    assert (
        "bad.qasm: invalid OpenQASM 2" in results[0]["error"]
        and "'foo' is not defined" in results[0]["error"]
    )
    assert (
        results[2]["error"]
        == "nomeasure.qasm: the circuit measures no qubit; add measurements to get counts"
    )
    assert len(done.stderr.strip().splitlines()) == 2


def test_a_circuit_too_big_for_the_device_says_so(tmp_path: Path) -> None:
    wide = tmp_path / "wide.qasm"
    wide.write_text(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[6];\ncreg c[6];\nh q[0];\nmeasure q -> c;\n'
    )
    done, results = _sample(tmp_path, wide, backend="aer:fake_manila")
    assert done.returncode == 1
    assert results[0]["error"] == (
        "wide.qasm: needs 6 qubits but the widest QPU here, aer:fake_manila, has 5: send at "
        "most 5, or cut it for expectation values with `sfq estimate`"
    )


def test_a_noiseless_fake_device_is_exact(tmp_path: Path) -> None:
    """`noise: false` keeps the device's coupling map (so routing happens) but no errors."""
    circuit = tmp_path / "ghz.qasm"
    circuit.write_text(GHZ3)
    done, results = _sample(tmp_path, circuit, backend="aer:fake_manila")
    noisy_counts = results[0]["counts"]
    assert done.returncode == 0
    out = tmp_path / "ideal.json"
    ideal = run_tool(
        "sfq",
        "sample",
        "--shots",
        "400",
        "--backend",
        "aer:fake_manila",
        "--output",
        out,
        circuit,
        SFQ_NOISE="false",
    )
    assert ideal.returncode == 0, ideal.stderr
    assert set(json.loads(out.read_text())["results"][0]["counts"]) <= {"000", "111"}
    assert set(noisy_counts) - {"000", "111"}, "the noisy device should show some errors"
