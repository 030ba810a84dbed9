"""The broker's wire format, shared by the server and the client.

Circuits travel as the bytes of their file (OpenQASM text or QPY), base64-encoded,
so a client need not import Qiskit: the broker parses and compiles them.

Everything a client sends is checked here before it costs the broker anything:
types (a bool is not an integer), ranges (shots, seeds), sizes (the file, the name,
the number of programs). A refusal is one line that says what to fix.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from streamflow_quantum.core.circuits import load_circuit, safe_name
from streamflow_quantum.core.errors import ProgramError
from streamflow_quantum.core.limits import DEFAULT_LIMITS, Limits
from streamflow_quantum.core.model import Program

API = "/v1"
SECRET_HEADER = "Authorization"
CLIENT_HEADER = "X-SFQ-Client"
ENV_URL = "SFQ_BROKER"
ENV_SECRET = "SFQ_BROKER_SECRET"
#: A quantum step's lasting name (a qpu deployment with ``stateDir`` sets it): the client
#: derives its client key and its programs' idempotency keys from it, so that the same
#: step in a later run finds the programs it submitted before.
ENV_STEP = "SFQ_STEP"
#: Seconds a result request waits on the server before answering "pending".
LONG_POLL_S = 30.0
#: Seeds are what every simulator takes: unsigned 32-bit integers.
MAX_SEED = 2**32 - 1
#: A client key's length in characters, at least and at most.
MIN_CLIENT_KEY, MAX_CLIENT_KEY = 16, 256


class RequestError(ValueError):
    """A request that is malformed as a whole (not one program of it); answered with a 4xx."""


def encode_program(
    name: str, data: bytes, shots: int | None, seed: int | None, budget: float | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "data": base64.b64encode(data).decode("ascii"),
        "shots": shots,
        "seed": seed,
        "budget": budget,
    }


def bearer(secret: str) -> str:
    return f"Bearer {secret}"


def max_request_bytes(limits: Limits) -> int:
    """The largest request body worth reading: every program at its largest, base64-encoded,
    with room for names and fields; never above 64 MiB."""
    per_program = 4 * (limits.max_bytes + 2) // 3 + 4 * limits.max_name + 1024
    return min(limits.max_programs * per_program, 64 * 2**20)


def program_items(body: Any, limits: Limits = DEFAULT_LIMITS) -> list[Any]:
    """The list of programs of a submission body, or the RequestError that says why not."""
    items = body.get("programs") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise RequestError('the body must be JSON {"programs": [...]}')
    if not items:
        raise RequestError("the request holds no programs")
    if len(items) > limits.max_programs:
        raise RequestError(
            f"the request holds {len(items)} programs; this broker's limit is "
            f"{limits.max_programs} (maxPrograms): split it"
        )
    return items


def _integer(
    item: dict[str, Any], key: str, label: str, low: int, high: int, setting: str
) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProgramError(f"{label}: {key} must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        raise ProgramError(f"{label}: {key} must be between {low} and {high}{setting}, not {value}")
    return value


def _name(item: dict[str, Any], limits: Limits) -> str:
    """The program's name as kept, in results and logs: escaped, of bounded length."""
    raw = item.get("name")
    if raw is None or raw == "":
        return "circuit"
    if not isinstance(raw, str):
        raise ProgramError(f"a program's name must be a string, not {type(raw).__name__}")
    return safe_name(raw, limits)


def _data(item: dict[str, Any], label: str, limits: Limits) -> bytes:
    text = item.get("data")
    if not isinstance(text, str) or not text:
        raise ProgramError(f"{label}: 'data' must be the circuit file's bytes in base64")
    if len(text) > 4 * (limits.max_bytes + 2) // 3:
        raise ProgramError(
            f"{label}: the file has more than {limits.max_bytes} bytes; "
            f"this broker's limit is {limits.max_bytes} (maxBytes)"
        )
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ProgramError(f"{label}: circuit data is not base64") from None


def decode_program(item: Any, limits: Limits = DEFAULT_LIMITS) -> Program | ProgramError:
    """A Program from its wire form, or the ProgramError that says why it is refused."""
    if not isinstance(item, dict):
        return ProgramError("each program must be an object with 'name' and 'data'")
    try:
        name = _name(item, limits)
        shots = _integer(item, "shots", name, 1, limits.max_shots, " (maxShots)")
        seed = _integer(item, "seed", name, 0, MAX_SEED, "")
        token = _token(item, name)
        budget = _budget(item, name)
        data = _data(item, name, limits)
        circuit = load_circuit(data, name, limits)
    except ProgramError as e:
        return e
    # shots None: the broker's default; Program's field is typed int, the broker fills it in.
    return Program(
        name=name,
        circuit=circuit,
        shots=shots or 0,
        seed=seed,
        fidelity_budget=budget,
        token=token,
        source=data,
    )


def _budget(item: dict[str, Any], name: str) -> float | None:
    """The program's fidelity budget: absent, or a number from 0 to 1."""
    budget = item.get("budget")
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, int | float) or not 0 <= budget <= 1:
        raise ProgramError(f"{name}: budget must be a number from 0 to 1 (fidelityBudget)")
    return float(budget)


def _token(item: dict[str, Any], name: str) -> str | None:
    """The client's idempotency key: absent, or 16 to 128 printable ASCII characters."""
    token = item.get("key")
    if token is None:
        return None
    if not (
        isinstance(token, str)
        and 16 <= len(token) <= 128
        and token.isascii()
        and token.isprintable()
    ):
        raise ProgramError(f"{name}: key must be 16 to 128 printable ASCII characters")
    return token
