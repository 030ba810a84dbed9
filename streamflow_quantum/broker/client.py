"""Sampling circuits from a quantum step: through the broker named by ``SFQ_BROKER``, or
directly on ``SFQ_BACKEND`` (default ``aer``) when no broker is set, so that the same
CWL runs under plain cwltool.

Talking to a broker needs only the standard library: a step pays no Qiskit import.
A broker that is unreachable, restarting or overloaded (connection refused or reset,
502/503/504) is retried with exponential back-off and jitter for ``SFQ_BROKER_RETRY_S``
seconds (default 120; 0 fails at once). Each program carries an idempotency ``key``
drawn once, so a submission retried after a lost answer never runs twice, and a program
a restarted broker no longer knows (a 404 with ``"reason": "unknown"``) is submitted
again under the same key; a 404 with ``"reason": "not-yours"`` is an error.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import io
import itertools
import json
import logging
import os
import random
import secrets
import ssl
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from streamflow_quantum.broker import protocol
from streamflow_quantum.core.errors import ProgramError, one_line

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

logger = logging.getLogger(__name__)


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
    programs: Sequence[tuple[str, bytes]],
    shots: int | None,
    seed: int | None,
    budget: float | None = None,
) -> list[dict[str, Any]]:
    """Results (or ``{"circuit", "error"}`` entries) for circuits given as file bytes."""
    payload = [protocol.encode_program(name, data, shots, seed, budget) for name, data in programs]
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
        results = []
        for item, receipt in zip(payload, receipts, strict=True):
            if "id" not in receipt:
                results.append(_refused(item, receipt))
                continue
            record = await broker.result("direct", receipt["id"], None)  # no timeout: a record
            if record is None:
                raise SamplingError(f"{item['name']}: the broker gave no result")
            results.append(record)
        return results
    finally:
        await broker.close()


def _step_digest(*parts: str) -> str | None:
    """A digest of the step's lasting name (``SFQ_STEP``) and ``parts``; None without one."""
    step = os.environ.get(protocol.ENV_STEP)
    if not step:
        return None
    return hashlib.sha256("\0".join((step, *parts)).encode()).hexdigest()[:32]


def _program_key(index: int, item: dict[str, Any]) -> str:
    """A program's idempotency key: random, or, for a step with a lasting name, what it
    asks for (its place, circuit file, shots, seed and budget), so a later run of the
    step gets the same program back."""
    asked = json.dumps([index, item["data"], item["shots"], item["seed"], item["budget"]])
    return _step_digest("program", asked) or secrets.token_hex(16)


def _announce(receipts: list[dict[str, Any]]) -> None:
    """Say (INFO) when the broker expects the programs just queued to start and finish."""
    timed = [
        r
        for r in receipts
        if isinstance(r, dict) and all(isinstance(r.get(k), int | float) for k in _WHEN)
    ]
    if timed:
        start = min(r["starts_in_s"] for r in timed)
        done = max(r["starts_in_s"] + r["estimated_finish"] - r["estimated_start"] for r in timed)
        logger.info(
            "%d program%s queued: starts in about %.1f s, done in about %.1f s",
            len(timed),
            "" if len(timed) == 1 else "s",
            start,
            done,
        )


#: What a receipt says of when its program should run (seconds; broker's clock for two).
_WHEN = ("starts_in_s", "estimated_start", "estimated_finish")


def _refused(item: dict[str, Any], receipt: dict[str, Any]) -> dict[str, Any]:
    return {"circuit": item["name"], "error": receipt["error"]}


#: Seconds the client keeps retrying an unreachable or overloaded broker (``SFQ_BROKER_RETRY_S``).
ENV_RETRY = "SFQ_BROKER_RETRY_S"
DEFAULT_RETRY_S = 120.0
#: First back-off delay, doubled after each failure up to the cap; each sleep is jittered.
_BACKOFF_FIRST_S = 0.25
_BACKOFF_CAP_S = 10.0
#: HTTP statuses that mean "the broker is not there right now": a proxy without a
#: backend, a broker restarting or shedding load.
_RETRY_STATUSES = frozenset({502, 503, 504})
#: Times a program the broker no longer knows (restarted without a state directory) is
#: submitted again under the same idempotency key before giving up.
_RESUBMISSIONS = 2


class _Unreachable(Exception):
    """One failed attempt that is worth retrying; ``reason`` says why."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _NotFound(Exception):
    """A 404 for a program: ``reason`` is ``unknown``, ``not-yours`` or None (an old broker)."""

    def __init__(self, reason: str | None, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def retry_seconds(environ: Mapping[str, str] = os.environ) -> float:
    text = environ.get(ENV_RETRY, "").strip()
    if not text:
        return DEFAULT_RETRY_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses NaN
        raise SamplingError(f"{ENV_RETRY} must be a number of seconds >= 0, not {text!r}")
    return value


#: This thread's open connections to brokers, by address: one client's requests, and
#: the next client's in the same thread, reuse one (HTTP keep-alive), so the broker
#: accepts and closes a connection per step rather than per request.
_connections = threading.local()


def _key(address: urllib.parse.SplitResult) -> tuple[str, str, int | None]:
    return (address.scheme, address.hostname or "", address.port)


def _connection(address: urllib.parse.SplitResult) -> tuple[http.client.HTTPConnection, bool]:
    """This thread's connection to ``address``, and whether it served a request before."""
    pool: dict[tuple[str, str, int | None], http.client.HTTPConnection]
    pool = _connections.__dict__.setdefault("pool", {})
    key = _key(address)
    if key in pool:
        return pool[key], True
    timeout = protocol.LONG_POLL_S + 30
    if address.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            key[1], address.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(key[1], address.port, timeout=timeout)
    pool[key] = connection
    return connection, False


def _forget(address: urllib.parse.SplitResult) -> None:
    connection = _connections.__dict__.get("pool", {}).pop(_key(address), None)
    if connection is not None:
        connection.close()


def _exchange(
    address: urllib.parse.SplitResult,
    method: str,
    path: str,
    data: bytes | None,
    headers: Mapping[str, str],
) -> tuple[http.client.HTTPResponse, bytes]:
    """One request and its whole answer, on this thread's connection to ``address``.

    A kept connection may have been closed by the broker while idle: that failure is
    tried once more on a new connection (a repeated submission is idempotent). An error
    answer ends the connection.
    """
    while True:
        connection, reused = _connection(address)
        try:
            connection.request(method, path, data, dict(headers))
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as e:
            _forget(address)
            stale = isinstance(
                e, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError
            )
            if reused and stale:
                continue
            raise
        if response.will_close or response.status >= 400:
            # After an error the server may not have read the whole request: start afresh.
            _forget(address)
        return response, raw


class _BrokerClient:
    """Submits programs and waits for their results, riding out broker restarts.

    Connection errors and 502/503/504 answers are retried with exponential back-off and
    jitter for ``retry_s`` seconds in a row. Every program carries an idempotency key
    drawn once, so a submission repeated after a lost answer never runs twice.
    """

    def __init__(
        self,
        url: str,
        secret: str,
        retry_s: float | None = None,
        backoff_s: float = _BACKOFF_FIRST_S,
    ) -> None:
        self.url = url.rstrip("/") + protocol.API
        self.address = urllib.parse.urlsplit(self.url)
        if self.address.scheme not in ("http", "https") or not self.address.hostname:
            raise SamplingError(
                f"{protocol.ENV_URL} must be an http:// or https:// address, not {url!r}"
            )
        self.headers = {
            protocol.SECRET_HEADER: protocol.bearer(secret),
            protocol.CLIENT_HEADER: _step_digest("client") or secrets.token_hex(16),
            "Content-Type": "application/json",
        }
        self.retry_s = retry_seconds() if retry_s is None else retry_s
        self.backoff_s = backoff_s

    # -- one request -------------------------------------------------------------

    def _attempt(self, method: str, path: str, data: bytes | None) -> tuple[int, Any]:
        try:
            response, raw = _exchange(
                self.address, method, self.address.path + path, data, self.headers
            )
        except ssl.SSLError as e:
            if isinstance(e, ssl.SSLEOFError | ssl.SSLZeroReturnError):  # cut off: retry
                raise _Unreachable(one_line(e)) from None
            # A certificate or TLS set-up problem: retrying cannot fix it.
            raise SamplingError(
                f"TLS with the broker at {self.url} failed ({one_line(e)}); for a "
                "self-signed certificate, point SSL_CERT_FILE at it"
            ) from None
        except (OSError, http.client.HTTPException) as e:
            # Refused, reset, closed without an answer (RemoteDisconnected), timed out.
            raise _Unreachable(one_line(e)) from None
        if response.status >= 400:
            body = raw.decode(errors="replace").strip()
            if response.status in _RETRY_STATUSES:
                raise _Unreachable(
                    f"it answered {response.status}: {_message(body) or response.reason}",
                    _retry_after(response.getheader("Retry-After")),
                )
            if response.status == 404 and path.startswith("/programs/"):
                raise _NotFound(_reason(body), _message(body))
            raise SamplingError(
                f"broker at {self.url} answered {response.status}: "
                f"{_message(body) or response.reason}"
            )
        try:
            return response.status, json.loads(raw)
        except ValueError as e:  # a body cut short, or not JSON: a broker going down
            raise _Unreachable(f"its answer was not JSON ({one_line(e)})") from None

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request, retried while the broker is unreachable, for ``retry_s`` seconds."""
        data = None if body is None else json.dumps(body).encode()
        deadline = time.monotonic() + self.retry_s
        delay = self.backoff_s
        for attempt in itertools.count():
            try:
                return self._attempt(method, path, data)
            except _Unreachable as e:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SamplingError(
                        f"cannot reach the broker at {self.url} ({e.reason}); gave up after "
                        f"{self.retry_s:g} s ({ENV_RETRY}); is it running, and is "
                        f"{protocol.ENV_URL} right?"
                    ) from None
                pause = e.retry_after if e.retry_after is not None else _jitter(delay)
                # Once per outage at WARNING (a step's log shows why it waits), then quietly.
                logger.log(
                    logging.WARNING if attempt == 0 else logging.DEBUG,
                    "broker at %s unreachable (%s); retrying for up to %.0f s",
                    self.url,
                    e.reason,
                    left,
                )
                time.sleep(min(pause, left))
                delay = min(2 * delay, _BACKOFF_CAP_S)
        raise AssertionError("unreachable")  # itertools.count() never ends

    # -- programs ----------------------------------------------------------------

    def sample(self, payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # One key per program, drawn once (or derived from the step): the same on every
        # retry and resubmission.
        keyed = [item | {"key": _program_key(i, item)} for i, item in enumerate(payload)]
        receipts = self._submit(keyed)
        results = []
        for item, receipt in zip(keyed, receipts, strict=True):
            if "id" not in receipt:
                results.append(_refused(item, receipt))
                continue
            results.append(self._wait(item, receipt["id"]))
        return results

    def _submit(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        _, answer = self._call("POST", "/programs", {"programs": items})
        receipts = answer.get("programs") if isinstance(answer, dict) else None
        if not isinstance(receipts, list) or len(receipts) != len(items):
            raise SamplingError(f"broker at {self.url} gave a malformed answer to a submission")
        _announce(receipts)
        return receipts

    def _wait(self, item: dict[str, Any], program_id: str) -> dict[str, Any]:
        resubmitted = 0
        while True:
            try:
                status, answer = self._call(
                    "GET", f"/programs/{program_id}?wait={protocol.LONG_POLL_S:g}"
                )
            except _NotFound as e:
                if e.reason == "not-yours":
                    raise SamplingError(
                        f"broker at {self.url} says program {program_id} ({item['name']}) "
                        f"belongs to another client: {e.message or 'not yours'}"
                    ) from None
                # Unknown to this broker: it restarted without its journal, or the result
                # expired. The same key again: a broker that still has it answers its id.
                if resubmitted == _RESUBMISSIONS:
                    raise SamplingError(
                        f"broker at {self.url} lost program {program_id} ({item['name']}) "
                        f"{resubmitted + 1} times: {e.message or 'unknown program'}"
                    ) from None
                resubmitted += 1
                logger.warning(
                    "broker at %s no longer knows %s (%s); submitting it again",
                    self.url,
                    item["name"],
                    e.message or "unknown program",
                )
                (receipt,) = self._submit([item])
                if "id" not in receipt:
                    return _refused(item, receipt)
                program_id = receipt["id"]
                continue
            if status == 200:
                return dict(answer)
            time.sleep(0.01)


def _jitter(delay: float) -> float:
    """Half the delay, plus up to as much again at random: clients restart spread out."""
    return delay / 2 + random.uniform(0, delay / 2)


def _retry_after(value: str | None) -> float | None:
    try:
        return min(max(float(value), 0.0), _BACKOFF_CAP_S) if value else None
    except ValueError:  # an HTTP date: use our own back-off
        return None


def _json_error(body: str) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _message(body: str) -> str:
    """The ``error`` of a JSON error body, else the body's text (first line)."""
    error = _json_error(body).get("error")
    text = str(error) if error else body
    return text.strip().splitlines()[0] if text.strip() else ""


def _reason(body: str) -> str | None:
    reason = _json_error(body).get("reason")
    return reason if reason in {"unknown", "not-yours"} else None


# -- many programs, and estimates (``sfq estimate``) ---------------------------------

#: Programs per submission when sampling many (the broker's default ``maxPrograms``).
CHUNK = 256


def broker_info() -> dict[str, Any]:
    """The broker's ``/v1/info`` (backend, qubits, packing); needs ``SFQ_BROKER``."""
    url = os.environ.get(protocol.ENV_URL)
    if not url:
        raise SamplingError(f"{protocol.ENV_URL} is not set")
    _, answer = _BrokerClient(url, os.environ.get(protocol.ENV_SECRET, ""))._call("GET", "/info")
    return dict(answer)


def sample_many_encoded(
    programs: Sequence[tuple[str, bytes]], shots: int | None, seeds: Sequence[int | None]
) -> list[dict[str, Any]]:
    """Results for many circuits (file bytes) through the broker in ``SFQ_BROKER``: every
    chunk is submitted before any result is awaited, so the broker may pack them all."""
    url = os.environ.get(protocol.ENV_URL)
    if not url:
        raise SamplingError(f"{protocol.ENV_URL} is not set")
    client = _BrokerClient(url, os.environ.get(protocol.ENV_SECRET, ""))
    payload = [
        protocol.encode_program(name, data, shots, seed)
        for (name, data), seed in zip(programs, seeds, strict=True)
    ]
    return _sample_many(client, payload)


def estimate_remote(request: dict[str, Any]) -> dict[str, Any]:
    """An estimate cut, run and reconstructed by the broker in ``SFQ_BROKER`` (``/v1/estimates``):
    submitted under an idempotency key, then awaited by long polls."""
    url = os.environ.get(protocol.ENV_URL)
    if not url:
        raise SamplingError(f"{protocol.ENV_URL} is not set")
    client = _BrokerClient(url, os.environ.get(protocol.ENV_SECRET, ""))
    _, answer = client._call("POST", "/estimates", request | {"key": secrets.token_hex(16)})
    estimate_id = answer.get("id") if isinstance(answer, dict) else None
    if not isinstance(estimate_id, str):
        raise SamplingError(f"broker at {client.url} gave a malformed answer to an estimate")
    while True:
        status, answer = client._call(
            "GET", f"/estimates/{estimate_id}?wait={protocol.LONG_POLL_S:g}"
        )
        if status == 200 and isinstance(answer, dict):
            return answer
        time.sleep(0.01)


def _sample_many(client: _BrokerClient, payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keyed = [item | {"key": secrets.token_hex(16)} for item in payload]
    receipts: list[dict[str, Any]] = []
    for start in range(0, len(keyed), CHUNK):
        receipts += client._submit(keyed[start : start + CHUNK])
    return [
        client._wait(item, receipt["id"]) if "id" in receipt else _refused(item, receipt)
        for item, receipt in zip(keyed, receipts, strict=True)
    ]
