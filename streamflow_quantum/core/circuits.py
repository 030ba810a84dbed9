"""Reading circuits as users hand them over: OpenQASM 2, OpenQASM 3 or QPY."""

from __future__ import annotations

import io
import os
import re
from typing import TYPE_CHECKING

from streamflow_quantum.core.errors import ProgramError, one_line

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

_QASM_VERSION = re.compile(r"^\s*OPENQASM\s+(\d+)(?:\.\d+)?\s*;", re.MULTILINE)
_QPY_MAGIC = b"QISKIT"


def _without_comments(text: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.DOTALL)


def load_circuit(data: bytes, name: str, limits: object = None) -> QuantumCircuit:
    """Parse one circuit, detecting its format; fail with a one-line reason."""
    if data.startswith(_QPY_MAGIC):
        from qiskit import qpy

        try:
            circuits = qpy.load(io.BytesIO(data))
        except Exception as e:
            raise ProgramError(f"{name}: not a readable QPY file: {one_line(e)}") from e
        if len(circuits) != 1:
            raise ProgramError(
                f"{name}: a QPY file must hold exactly one circuit, not {len(circuits)}"
            )
        circuit = circuits[0]
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProgramError(f"{name}: neither OpenQASM text nor QPY") from e
        circuit = _parse_qasm(text, name)
    if not any(instruction.operation.name == "measure" for instruction in circuit.data):
        raise ProgramError(f"{name}: the circuit measures no qubit; add measurements to get counts")
    circuit.name = name
    return circuit


def _parse_qasm(text: str, name: str) -> QuantumCircuit:
    match = _QASM_VERSION.search(_without_comments(text))
    if match is None:
        raise ProgramError(
            f"{name}: no 'OPENQASM 2.0;' or 'OPENQASM 3.0;' header; is it a circuit file?"
        )
    version = match.group(1)
    try:
        if version == "2":
            from qiskit import qasm2

            return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        if version == "3":
            from qiskit import qasm3

            return qasm3.loads(text)
    except Exception as e:
        raise ProgramError(f"{name}: invalid OpenQASM {version}: {one_line(e)}") from e
    raise ProgramError(f"{name}: OpenQASM {version} is not supported; use OpenQASM 2 or 3")


def read_circuit_file(path: str) -> QuantumCircuit:
    name = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ProgramError(f"{name}: cannot read {path}: {e.strerror}") from e
    return load_circuit(data, name)


def safe_name(name, limits=None):
    return name
