"""Hostile clients: over a thousand seeded malformed requests against a real BrokerServer.

Each must get a 4xx (never a 5xx, never a hang), the server must keep serving, valid
programs submitted meanwhile by another client must get correct counts, and the
server's memory must come back to where it was.
"""

from __future__ import annotations

import base64
import gc
import http.client
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest

from streamflow_quantum.bench.harness import BrokerThread
from streamflow_quantum.broker import protocol

SEED = 20261130
REQUESTS = 1200
LIMITS = {"maxBytes": 20_000, "maxPrograms": 16, "maxShots": 100_000}
GHZ3 = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\n'
    "h q[0];\ncx q[0],q[1];\ncx q[1],q[2];\nmeasure q -> c;\n"
)
Request = tuple[str, str, dict[str, Any], bytes]  # method, path, headers, body


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def _bad_programs(rng: random.Random) -> Any:
    """One malformed program (or list of them) of the many kinds a client can send."""
    good = {"name": "g", "data": _b64(GHZ3), "shots": 10}
    kinds: list[Callable[[], Any]] = [
        lambda: (
            good | {"shots": rng.choice([True, False, "10", 1.5, -1, 0, 2**63, 10**30, [], {}])}
        ),
        lambda: good | {"seed": rng.choice([True, "7", 2**32, 2**64, -1, 1.0, [1]])},
        lambda: good | {"data": rng.choice([None, 7, [], {}, True, "", "!!!", "a", "é" * 9])},
        lambda: good | {"data": _b64(rng.randbytes(rng.randint(1, 400)))},
        lambda: good | {"data": _b64(b"QISKIT" + rng.randbytes(rng.randint(0, 200)))},
        lambda: good | {"data": _b64(_bad_qasm(rng))},
        lambda: good | {"name": rng.choice([7, [], {}, True, 1.5])},
        lambda: good | {"name": "x\n2026-01-01 ERROR forged" * rng.randint(1, 5000)},
        lambda: good | {"name": "".join(chr(rng.randint(0, 0x10FFFF)) for _ in range(50))},
        lambda: {k: v for k, v in good.items() if k != rng.choice(list(good))} | {"data": 1},
        lambda: rng.choice([None, 7, "x", [], [good], True]),
        lambda: good | {"data": "A" * (LIMITS["maxBytes"] * 2)},
    ]
    return rng.choice(kinds)()


def _bad_qasm(rng: random.Random) -> str:
    return rng.choice(
        [
            "OPENQASM 2.0;\nqreg q[2];\ncx q[0];\n",
            "OPENQASM 2.0;\nqreg q[99999999];\ncreg c[1];\nmeasure q[0] -> c[0];\n",
            "OPENQASM 3.0;\nqubit[2] q;\n" + "(" * 5000 + ")" * 5000 + ";\n",
            'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nh q[0];\n',  # no measurement
            "OPENQASM 7.0;\n",
            "not a circuit",
            'OPENQASM 2.0;\ninclude "/etc/passwd";\n',
            GHZ3.replace("qreg q[3]", "qreg q[3000]").replace("creg c[3]", "creg c[9000]"),
        ]
    )


def _body(rng: random.Random) -> bytes:
    choice = rng.randrange(10)
    if choice == 0:
        return rng.choice([b"", b"{", b"null", b"[]", b'"x"', b"\xff\xfe", b'{"programs": 1}'])
    if choice == 1:  # nesting deep enough for a RecursionError
        depth = rng.choice([1000, 10_000, 100_000])
        return b'{"programs": ' + b"[" * depth + b"]" * depth + b"}"
    if choice == 2:
        return json.dumps({"programs": [{"name": "g", "data": _b64(GHZ3)}] * 40}).encode()
    if choice == 3:
        return json.dumps({"programs": []}).encode()
    if choice == 4:  # over the body limit
        return b'{"programs": ["' + b"A" * 600_000 + b'"]}'
    items = [_bad_programs(rng) for _ in range(rng.randint(1, 4))]
    return json.dumps({"programs": items}).encode()


def _requests(rng: random.Random, secret: str, count: int) -> Iterator[Request]:
    good = {"Authorization": f"Bearer {secret}", "X-SFQ-Client": "fuzz-" + "k" * 20}
    for _ in range(count):
        headers = dict(good)
        roll = rng.random()
        if roll < 0.08:
            headers["Authorization"] = rng.choice(
                [b"Bearer \xff\xfe" + secret.encode(), "Bearer wrong", "", b"\xc3\x28"]
            )
        elif roll < 0.16:
            headers["X-SFQ-Client"] = rng.choice([b"\xff" * 20, "short", "k" * 300, "\tk" * 10, ""])
        elif roll < 0.2:
            del headers[rng.choice(list(headers))]
        path_roll = rng.random()
        if path_roll < 0.7:
            yield "POST", "/v1/programs", headers, _body(rng)
        elif path_roll < 0.85:
            wait = rng.choice(["nan", "inf", "-1", "abc", "1e999", "0", ""])
            yield "GET", f"/v1/programs/p-{rng.randrange(10**6)}?wait={wait}", headers, b""
        else:
            method = rng.choice(["PUT", "DELETE", "GET", "PATCH"])
            path = rng.choice(["/v1/programs", "/v1/info", "/v1/../x", "/v2/programs", "/%ff"])
            yield method, path, headers, _body(rng) if method != "GET" else b""


def _send(connection: http.client.HTTPConnection, request: Request) -> int:
    method, path, headers, body = request
    connection.putrequest(method, path, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    response.read()
    if response.getheader("Connection", "").lower() == "close":
        connection.close()
    return response.status


def _fuzz(url: str, secret: str, seed: int, count: int) -> Counter[int]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    statuses: Counter[int] = Counter()
    for request in _requests(random.Random(seed), secret, count):
        try:
            statuses[_send(connection, request)] += 1
        except (http.client.HTTPException, ConnectionError):  # the server closed a bad connection
            connection.close()
            statuses[0] += 1
    connection.close()
    return statuses


class ValidClient(threading.Thread):
    """Submits GHZ-3 programs one after another, checking each one's counts."""

    def __init__(self, url: str, secret: str) -> None:
        super().__init__(daemon=True)
        self.base = url + protocol.API
        self.headers = {
            "Authorization": protocol.bearer(secret),
            "X-SFQ-Client": "valid-client-" + "v" * 20,
            "Content-Type": "application/json",
        }
        self.stop = threading.Event()
        self.results: list[dict[str, Any]] = []
        self.failures: list[str] = []

    def _call(self, path: str, body: Any = None) -> tuple[int, Any]:
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data, self.headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                program = {"name": "ghz3", "data": _b64(GHZ3), "shots": 50, "seed": 1}
                _, answer = self._call("/programs", {"programs": [program]})
                program_id = answer["programs"][0]["id"]
                status = 202
                while status == 202:
                    status, result = self._call(f"/programs/{program_id}?wait=30")
                self.results.append(result)
            except Exception as e:  # recorded: the test fails on any
                self.failures.append(repr(e))
                return


def _rss(process: psutil.Process) -> int:
    gc.collect()
    time.sleep(0.2)
    return int(process.memory_info().rss)


@pytest.fixture(scope="module")
def server() -> Iterator[BrokerThread]:
    settings = {"backend": "aer:fake_manila", "noise": False, "packing": "space-time", **LIMITS}
    with BrokerThread(settings) as thread:
        yield thread


def test_malformed_requests_get_4xx_and_valid_clients_still_get_counts(
    server: BrokerThread,
) -> None:
    process = psutil.Process()
    _fuzz(server.url, server.secret, SEED - 1, 150)  # warm-up: parsers, caches, pools
    before = _rss(process)
    client = ValidClient(server.url, server.secret)
    client.start()
    started = time.monotonic()
    statuses = _fuzz(server.url, server.secret, SEED, REQUESTS)
    elapsed = time.monotonic() - started
    client.stop.set()
    client.join(timeout=60)
    after = _rss(process)

    assert sum(statuses.values()) == REQUESTS
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses[0] == 0, statuses  # no dropped connection
    assert {s for s in statuses if 400 <= s < 500} >= {400, 401, 404, 405, 413}, statuses
    assert elapsed < 60, elapsed
    assert not client.is_alive() and not client.failures, client.failures
    assert len(client.results) >= 3
    for result in client.results:
        assert set(result["counts"]) <= {"000", "111"} and sum(result["counts"].values()) == 50
    assert after <= 1.2 * before, (before, after)


def test_a_request_with_non_utf8_headers_gets_one_line(server: BrokerThread) -> None:
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    headers = {"Authorization": b"Bearer \xff", "X-SFQ-Client": "k" * 20}
    assert _send(connection, ("GET", "/v1/info", headers, b"")) == 401
    headers = {"Authorization": f"Bearer {server.secret}", "X-SFQ-Client": b"\xff" * 20}
    connection.putrequest("GET", "/v1/programs/p-1")
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    text = response.read().decode()
    assert response.status == 400
    assert (
        text == "send a random client key of 16 to 256 printable ASCII characters in X-SFQ-Client"
    )
    connection.close()
