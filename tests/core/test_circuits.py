"""Loading untrusted circuit files: no file access, limits before parsing, standard gates."""

from __future__ import annotations

import io
import struct
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm2, qasm3, qpy
from qiskit.circuit.library import ECRGate, get_standard_gate_name_mapping
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import Operator

from streamflow_quantum.core.circuits import load_circuit, safe_name
from streamflow_quantum.core.errors import ProgramError
from streamflow_quantum.core.limits import DEFAULT_LIMITS, Limits

QASMBENCH = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "qasmbench"


def _refused(data: str | bytes, *words: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """Load ``data`` expecting a fast, one-line refusal naming ``words``; return the message."""
    raw = data.encode() if isinstance(data, str) else data
    start = time.perf_counter()
    with pytest.raises(ProgramError) as caught:
        load_circuit(raw, "probe.qasm", limits)
    assert time.perf_counter() - start < 0.5
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    return message


# --- 1. includes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "standard"), [("OPENQASM 2.0;", "qelib1.inc"), ("OPENQASM 3.0;", "stdgates.inc")]
)
def test_includes_other_than_the_standard_library_are_refused_unread(
    tmp_path: Path, header: str, standard: str
) -> None:
    canary = tmp_path / "canary.inc"
    canary.write_text("SECRETCANARY qreg s[1];\n")
    missing = tmp_path / "missing.inc"

    def program(path: str) -> str:
        return f'{header}\ninclude "{path}";\nqreg q[1];\ncreg c[1];\nmeasure q -> c;\n'

    present, absent = (
        _refused(program(str(path)), "only the standard library") for path in (canary, missing)
    )
    assert "SECRETCANARY" not in present
    assert present.replace("canary", "X") == absent.replace("missing", "X")
    # Relative paths, a '//' inside the path, and an include hidden after a comment marker.
    _refused(program("canary.inc"), standard)
    _refused(program(f"{tmp_path}//canary.inc"), standard)
    _refused(f'{header}\n/* */ include "{canary}";\nqreg q[1];', standard)


def test_the_standard_include_still_works() -> None:
    circuit = load_circuit(
        b'OPENQASM 2.0;\ninclude "qelib1.inc"; // the standard one\n'
        b"qreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n",
        "bell.qasm",
    )
    assert circuit.count_ops() == {"h": 1, "cx": 1, "measure": 2}
    circuit = load_circuit(
        b'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\n'
        b"h q[0];\ncx q[0], q[1];\nc = measure q;\n",
        "bell3.qasm",
    )
    assert circuit.num_qubits == 2


# --- 2. limits before parsing ------------------------------------------------------------


def test_huge_registers_are_refused_before_parsing() -> None:
    _refused(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[10000000];',
        "10000000 qubits",
        "1024 (maxQubits)",
    )
    _refused("OPENQASM 3.0;\nqubit[50000000] q;", "50000000 qubits", "maxQubits")
    _refused("OPENQASM 3.0;\nqubit[50_000_000] q;", "50000000 qubits", "maxQubits")
    _refused("OPENQASM 3.0;\nqubit[0x10000000] q;", "maxQubits")
    _refused("OPENQASM 3.0;\nqreg q[2];\nqubit[1023] r;", "1025 qubits", "maxQubits")
    _refused("OPENQASM 3.0;\nbit b;\nh $5000000;", "maxQubits")
    _refused("OPENQASM 3.0;\nconst uint n = 50000000;\nqubit[n] q;", "integer literal")
    _refused("OPENQASM 2.0;\nqreg q[1];\ncreg c[100000];", "100000 classical bits", "maxClbits")
    _refused("OPENQASM 3.0;\nqubit q;\nbit[100000] c;", "maxClbits")


def test_the_byte_limit_is_checked_first() -> None:
    _refused(b"OPENQASM 2.0;\n" + b" " * 2_000_000, "2000014 bytes", "1000000 (maxBytes)")


def test_broadcast_and_nested_definitions_cannot_multiply_operations() -> None:
    broadcast = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1024];\n' + "h q;\n" * 2000
    _refused(broadcast, "maxOperations")
    levels = ["gate g0 a { x a; x a; x a; x a; x a; x a; x a; x a; x a; x a; }"]
    levels += [f"gate g{i} a {{ {f'g{i - 1} a; ' * 10}}}" for i in range(1, 9)]
    bomb = (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
        + "\n".join(levels)
        + "\nqreg q[1];\ncreg c[1];\ng8 q[0];\nmeasure q -> c;\n"
    )
    _refused(bomb, "expand", "maxOperations")
    small = Limits(max_operations=10)
    _refused(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n' + "x q[0];\n" * 11,
        "maxOperations",
        limits=small,
    )


def test_deep_nesting_is_refused_before_the_qasm3_parser() -> None:
    depth = 100_000
    text = f"OPENQASM 3.0;\nqubit q;\nrz({'(' * depth}0{')' * depth}) q;\n"
    _refused(text, "maxNesting")


def _qpy(circuit: QuantumCircuit) -> bytearray:
    buffer = io.BytesIO()
    qpy.dump(circuit, buffer)
    return bytearray(buffer.getvalue())


def _circuit_header_offset(data: bytearray) -> int:
    """Where the (only) circuit header starts, for the QPY version this Qiskit writes (>= 16)."""
    assert data[6] >= 16
    return int(struct.unpack_from("!Q", data, struct.calcsize("!6sBBBBQc") + 1)[0])


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        (3, 50_000_000, ("50000000 qubits", "maxQubits")),  # num_qubits
        (4, 50_000_000, ("maxClbits",)),  # num_clbits
        (7, 10**12, ("maxOperations",)),  # num_instructions
        (6, 2**31, ("forged",)),  # num_registers
    ],
)
def test_forged_qpy_headers_are_refused_before_loading(
    field: int, value: int, words: tuple[str, ...]
) -> None:
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.measure([0, 1], [0, 1])
    data = _qpy(circuit)
    pack = "!H1cHIIQIQI"
    offset = _circuit_header_offset(data)
    header = list(struct.unpack_from(pack, data, offset))
    assert header[3:5] == [2, 2]
    header[field] = value
    struct.pack_into(pack, data, offset, *header)
    _refused(bytes(data), *words)
    _refused(bytes(data[:30]), "QPY")


def test_qpy_with_several_circuits_is_refused() -> None:
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    buffer = io.BytesIO()
    qpy.dump([circuit, circuit], buffer)
    _refused(buffer.getvalue(), "exactly one circuit")
    assert load_circuit(bytes(_qpy(circuit)), "one.qpy").num_qubits == 1


# --- 3. standard gates written as definitions --------------------------------------------


def _every_standard_gate() -> QuantumCircuit:
    rng = np.random.default_rng(7)
    circuit = QuantumCircuit(5)
    for gate in get_standard_gate_name_mapping().values():
        if gate.name in {"measure", "reset", "delay", "global_phase"}:
            continue
        params = rng.uniform(-np.pi, np.pi, len(gate.params))
        circuit.append(gate.base_class(*params), range(gate.num_qubits))
    circuit.measure_all()
    return circuit


def _random_circuits() -> list[QuantumCircuit]:
    return [
        random_circuit(2 + seed % 5, 6, max_operands=4, measure=True, seed=seed)
        for seed in range(10)
    ]


def _ecr_circuit() -> QuantumCircuit:
    circuit = QuantumCircuit(3)
    circuit.append(ECRGate(), [0, 1])
    circuit.append(ECRGate(), [2, 1])
    circuit.measure_all()
    return circuit


def _unitary(circuit: QuantumCircuit) -> Operator:
    return Operator(circuit.remove_final_measurements(inplace=False))


# Both exporters write the standard gates outside their standard include as definitions: for
# OpenQASM 3, ecr, rzx, rzz, rxx, ryy, iswap, dcx, cs, csdg, csx, sxdg, r, ccz, rccx, c3sx...
DUMPS = {"qasm2": qasm2.dumps, "qasm3": qasm3.dumps}


@pytest.mark.parametrize("dumps", DUMPS.values(), ids=DUMPS.keys())
@pytest.mark.parametrize(
    "circuit", [_ecr_circuit(), _every_standard_gate(), *_random_circuits()], ids=lambda c: c.name
)
def test_dumps_round_trips_through_standard_gates(
    circuit: QuantumCircuit, dumps: Callable[..., str]
) -> None:
    loaded = load_circuit(dumps(circuit).encode(), "exported.qasm")
    assert _unitary(loaded).equiv(_unitary(circuit))
    standard = get_standard_gate_name_mapping()
    for instruction in loaded.data:
        op = instruction.operation
        assert op.name not in standard or isinstance(op, standard[op.name].base_class), op


def _devices() -> list[object]:
    from qiskit_ibm_runtime.fake_provider import FakeBrisbane, FakeSherbrooke, FakeTorino

    return [FakeBrisbane(), FakeSherbrooke(), FakeTorino()]


def test_ecr_directions_differ_between_the_chosen_devices() -> None:
    brisbane, sherbrooke, _ = _devices()
    reversed_edges = {(b, a) for a, b in brisbane.target["ecr"]}  # type: ignore[attr-defined]
    assert reversed_edges & set(sherbrooke.target["ecr"])  # type: ignore[attr-defined]


def _with_ecr(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` with ECR both ways on its first two qubits before its measurements."""
    result = circuit.remove_final_measurements(inplace=False)
    result.append(ECRGate(), [0, 1])
    result.append(ECRGate(), [1, 0])
    result.measure_all()
    result.name = circuit.name
    return result


def _compiles_to_device_operations(loaded: QuantumCircuit) -> None:
    """``loaded`` compiles for each device to the device's own operations, not namesakes."""
    from qiskit.transpiler import generate_preset_pass_manager

    for device in _devices():
        target = device.target  # type: ignore[attr-defined]
        manager = generate_preset_pass_manager(
            optimization_level=1, target=target, seed_transpiler=1
        )
        compiled = manager.run(loaded)
        assert set(compiled.count_ops()) <= set(target.operation_names) | {"barrier"}
        for instruction in compiled.data:
            op = instruction.operation
            if op.name != "barrier":
                assert isinstance(op, target.operation_from_name(op.name).base_class), op


@pytest.mark.parametrize("dumps", DUMPS.values(), ids=DUMPS.keys())
@pytest.mark.parametrize(
    "circuit",
    [_ecr_circuit(), _every_standard_gate(), *map(_with_ecr, _random_circuits()[::3])],
    ids=lambda c: c.name,
)
def test_exported_circuits_transpile_on_ecr_and_cz_devices(
    circuit: QuantumCircuit, dumps: Callable[..., str]
) -> None:
    _compiles_to_device_operations(load_circuit(dumps(circuit).encode(), "exported.qasm"))


WRONG_DEFINITIONS = {
    "qasm2": (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\ngate ecr a,b { cx a,b; }\n'
        "gate rzx(t) a,b { rz(t) a; }\ngate pair a,b { ecr a,b; }\n"
        "qreg q[2];\ncreg c[2];\necr q[0],q[1];\nrzx(0.4) q[1],q[0];\npair q[1],q[0];\n"
        "measure q -> c;\n"
    ),
    "qasm3": (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\ngate ecr a, b { cx a, b; }\n'
        "gate rzx(t) a, b { rz(t) a; }\ngate pair a, b { ecr a, b; }\n"
        "qubit[2] q;\nbit[2] c;\necr q[0], q[1];\nrzx(0.4) q[1], q[0];\npair q[1], q[0];\n"
        "c = measure q;\n"
    ),
}


@pytest.mark.parametrize("text", WRONG_DEFINITIONS.values(), ids=WRONG_DEFINITIONS.keys())
def test_a_wrong_definition_under_a_standard_name_keeps_its_own_meaning(text: str) -> None:
    loaded = load_circuit(text.encode(), "mine.qasm")
    names = [instruction.operation.name for instruction in loaded.data]
    assert "ecr" not in names
    assert "rzx" not in names
    assert "custom_ecr" in names
    assert "custom_rzx" in names
    expected = QuantumCircuit(2)
    expected.cx(0, 1)
    expected.rz(0.4, 1)
    expected.cx(1, 0)
    assert _unitary(loaded).equiv(Operator(expected))
    _compiles_to_device_operations(loaded)


MATCHING_DEFINITIONS = {
    "qasm2": (
        "OPENQASM 2.0;\ngate cx a,b { CX a,b; }\ngate h a { U(pi/2,0,pi) a; }\n"
        "gate ecr a,b { U(0,0,pi/2) a; U(pi/2,-pi/2,pi/2) b; CX a,b; U(pi,0,pi) a; }\n"
        "qreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\necr q[1],q[0];\nmeasure q -> c;\n"
    ),
    "qasm3": (
        "OPENQASM 3.0;\ngate cx a, b { ctrl @ U(pi, 0, pi) a, b; }\n"
        "gate h a { U(pi/2, 0, pi) a; }\ngate x a { U(pi, 0, pi) a; }\n"
        "gate rzx(t) a, b { h b; cx a, b; U(0, 0, t) b; cx a, b; h b; }\n"
        "gate ecr a, b { rzx(pi/4) a, b; x a; rzx(-pi/4) a, b; }\n"
        "qubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\necr q[1], q[0];\nc = measure q;\n"
    ),
}


@pytest.mark.parametrize("text", MATCHING_DEFINITIONS.values(), ids=MATCHING_DEFINITIONS.keys())
def test_a_matching_definition_becomes_the_standard_gate(text: str) -> None:
    loaded = load_circuit(text.encode(), "own-qelib.qasm")
    standard = get_standard_gate_name_mapping()
    assert loaded.count_ops() == {"h": 1, "cx": 1, "ecr": 1, "measure": 2}
    for instruction in loaded.data:
        op = instruction.operation
        assert isinstance(op, standard[op.name].base_class), op
    _compiles_to_device_operations(loaded)


# --- 4. existing inputs -------------------------------------------------------------------


@pytest.mark.skipif(not QASMBENCH.is_dir(), reason="no QASMBench checkout")
def test_every_qasmbench_circuit_loads() -> None:
    paths = sorted(path for path in QASMBENCH.rglob("*.qasm") if path.stat().st_size > 0)
    loaded = 0
    for path in paths:
        try:  # as the benchmark loader reads them; a few files in the suite are broken
            reference = qasm2.load(str(path), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        except qasm2.QASM2Error:
            continue
        if "measure" not in reference.count_ops():
            continue
        circuit = load_circuit(path.read_bytes(), path.name)
        assert circuit.num_qubits == reference.num_qubits, path
        assert circuit.size() == reference.size(), path
        loaded += 1
    assert loaded >= 50


# --- 5. names -----------------------------------------------------------------------------


def test_safe_name_escapes_and_truncates() -> None:
    assert safe_name("ghz.qasm") == "ghz.qasm"
    assert safe_name("a\nb\x1b[31m\u202e") == "a\\nb\\x1b[31m\\u202e"
    long = safe_name("x" * 1000, Limits(max_name=20))
    assert len(long) == 20
    assert long.endswith("...")
    message = _refused(b"\xff\xfe", "neither")
    assert message.startswith("probe.qasm")
    with pytest.raises(ProgramError) as caught:
        load_circuit(b"nothing", "evil\nname" + "y" * 500)
    assert "\n" not in str(caught.value)
    assert len(str(caught.value)) < 400
