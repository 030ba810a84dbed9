"""Sampling circuits from a quantum step: through the broker named by ``SFQ_BROKER``, or
directly on ``SFQ_BACKEND`` (default ``aer``) when no broker is set, so that the same
CWL runs under plain cwltool.

Talking to a broker needs only the standard library: a step pays no Qiskit import.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from streamflow_quantum.broker import protocol
from streamflow_quantum.core.errors import ProgramError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit


class SamplingError(RuntimeError):
    """The broker or backend could not be used at all; the message says what to fix."""


def sample(
    circuits: Sequence[QuantumCircuit],
    shots: int | None = None,
    seed: int | None = None,
    names: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Counts for each circuit, in order; raises ProgramError if any circuit was refused."""
    from qiskit import qpy

    encoded = []
    for i, circuit in enumerate(circuits):
        buffer = io.BytesIO()
        qpy.dump(circuit, buffer)
        name = names[i] if names else (circuit.name or f"circuit-{i}")
        encoded.append((name, buffer.getvalue()))
    results = sample_encoded(encoded, shots, seed)
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise ProgramError("; ".join(errors))
    return results


def sample_encoded(
    programs: Sequence[tuple[str, bytes]], shots: int | None, seed: int | None
) -> list[dict[str, Any]]:
    """Results (or ``{"circuit", "error"}`` entries) for circuits given as file bytes."""
    payload = [protocol.encode_program(name, data, shots, seed) for name, data in programs]
    if url := os.environ.get(protocol.ENV_URL):
        return _BrokerClient(url, os.environ.get(protocol.ENV_SECRET, "")).sample(payload)
    return asyncio.run(_sample_directly(payload))


async def _sample_directly(payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from streamflow_quantum.broker.factory import build_broker
    from streamflow_quantum.broker.settings import broker_schema
    from streamflow_quantum.core.config import from_environment

    broker = build_broker({"packing": "serial"} | from_environment(os.environ, broker_schema()))
    broker.start()
    try:
        receipts = await broker.submit(
            "direct", [protocol.decode_program(item) for item in payload]
        )
        return [
            await broker.result("direct", r["id"], None) if "id" in r else _refused(item, r)
            for item, r in zip(payload, receipts, strict=True)
        ]
    finally:
        await broker.close()


def _refused(item: dict[str, Any], receipt: dict[str, Any]) -> dict[str, Any]:
    return {"circuit": item["name"], "error": receipt["error"]}


class _BrokerClient:
    def __init__(self, url: str, secret: str) -> None:
        self.url = url.rstrip("/") + protocol.API
        self.headers = {
            protocol.SECRET_HEADER: protocol.bearer(secret),
            protocol.CLIENT_HEADER: secrets.token_hex(16),
            "Content-Type": "application/json",
        }

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, self.headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=protocol.LONG_POLL_S + 30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace").strip()
            raise SamplingError(f"broker at {self.url} answered {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise SamplingError(
                f"cannot reach the broker at {self.url} ({reason}); is it running, and is {protocol.ENV_URL} right?"
            ) from None

    def sample(self, payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
        _, answer = self._call("POST", "/programs", {"programs": payload})
        return [
            self._wait(r["id"]) if "id" in r else _refused(item, r)
            for item, r in zip(payload, answer["programs"], strict=True)
        ]

    def _wait(self, program_id: str) -> dict[str, Any]:
        while True:
            status, answer = self._call(
                "GET", f"/programs/{program_id}?wait={protocol.LONG_POLL_S}"
            )
            if status == 200:
                return answer
            time.sleep(0.01)
