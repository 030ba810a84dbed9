"""The broker's wire format, shared by the server and the client.

Circuits travel as the bytes of their file (OpenQASM text or QPY), base64-encoded,
so a client need not import Qiskit: the broker parses and compiles them.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from streamflow_quantum.core.circuits import load_circuit
from streamflow_quantum.core.errors import ProgramError
from streamflow_quantum.core.model import Program

API = "/v1"
SECRET_HEADER = "Authorization"
CLIENT_HEADER = "X-SFQ-Client"
ENV_URL = "SFQ_BROKER"
ENV_SECRET = "SFQ_BROKER_SECRET"
#: Seconds a result request waits on the server before answering "pending".
LONG_POLL_S = 30.0


def encode_program(name: str, data: bytes, shots: int | None, seed: int | None) -> dict[str, Any]:
    return {
        "name": name,
        "data": base64.b64encode(data).decode("ascii"),
        "shots": shots,
        "seed": seed,
    }


def bearer(secret: str) -> str:
    return f"Bearer {secret}"


def decode_program(item: Any) -> Program | ProgramError:
    """A Program from its wire form, or the ProgramError that says why it is refused."""
    if not isinstance(item, dict):
        return ProgramError("each program must be an object with 'name' and 'data'")
    name = str(item.get("name") or "circuit")
    shots, seed = item.get("shots"), item.get("seed")
    if shots is not None and not isinstance(shots, int):
        return ProgramError(f"{name}: shots must be an integer")
    if seed is not None and not isinstance(seed, int):
        return ProgramError(f"{name}: seed must be an integer")
    try:
        data = base64.b64decode(item.get("data") or "", validate=True)
        circuit = load_circuit(data, name)
    except binascii.Error:
        return ProgramError(f"{name}: circuit data is not base64")
    except ProgramError as e:
        return e
    return Program(name=name, circuit=circuit, shots=shots, seed=seed)
