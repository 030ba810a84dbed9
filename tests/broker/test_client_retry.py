"""The step's broker client against a scripted stdlib HTTP server: retries, keys, 404s."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from streamflow_quantum.broker import protocol
from streamflow_quantum.broker.client import (
    ENV_RETRY,
    SamplingError,
    _BrokerClient,
    retry_seconds,
    sample_encoded,
)

SECRET = "test-secret-0123456789"


@dataclass
class Script:
    """What the fake broker does, and what it saw."""

    drop_posts: int = 0  # read the submission, accept it, then hang up without answering
    unavailable_posts: int = 0  # answer 503 without reading
    unavailable_gets: int = 0
    pending_gets: int = 0  # answer 202 "pending" first
    forget: int = 0  # answer 404 "unknown" for this many polls (a restart without journal)
    not_yours: bool = False
    text_404: bool = False  # an old broker: 404 with a text body
    status: int | None = None  # answer every request with this status
    posts: list[list[dict[str, Any]]] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # key -> program id
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0  # accepted
    hang_up: bool = False  # close each connection after its answer, without saying so


def make_handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            with script.lock:
                script.connections += 1

        def answer(self, status: int, body: Any, text: bool = False) -> None:
            data = (body if text else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = self.close_connection or script.hang_up

        def do_POST(self) -> None:
            with script.lock:
                if script.status is not None:
                    self.answer(script.status, {"error": "scripted"})
                    return
                if script.unavailable_posts:
                    script.unavailable_posts -= 1
                    self.close_connection = True
                    self.answer(503, {"error": "restarting"})
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                items = body["programs"]
                script.posts.append(items)
                receipts = []
                for item in items:
                    if item["name"] == "bad":
                        receipts.append({"error": "bad: refused"})
                        continue
                    program_id = script.ids.setdefault(item["key"], f"p-{len(script.ids)}")
                    receipts.append({"circuit": item["name"], "id": program_id})
                if script.drop_posts:
                    script.drop_posts -= 1
                    self.close_connection = True  # the answer is lost
                    return
            self.answer(200, {"programs": receipts})

        def do_GET(self) -> None:
            assert self.headers[protocol.SECRET_HEADER] == protocol.bearer(SECRET)
            program_id = self.path.split("/")[-1].split("?")[0]
            with script.lock:
                script.gets.append(program_id)
                if script.status is not None:
                    self.answer(script.status, {"error": "scripted"})
                elif script.unavailable_gets:
                    script.unavailable_gets -= 1
                    self.answer(503, "Service Unavailable", text=True)
                elif script.not_yours:
                    self.answer(404, {"error": "not your program", "reason": "not-yours"})
                elif script.text_404:
                    self.answer(404, "no such program for this client", text=True)
                elif script.forget:
                    script.forget -= 1
                    script.ids.clear()
                    self.answer(404, {"error": "no such program", "reason": "unknown"})
                elif script.pending_gets:
                    script.pending_gets -= 1
                    self.answer(202, {"status": "pending"})
                else:
                    self.answer(200, {"id": program_id, "counts": {"0": 10}})

    return Handler


class FakeBroker:
    def __init__(self, script: Script, port: int = 0) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(script))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def broker(script: Script) -> Iterator[FakeBroker]:
    fake = FakeBroker(script)
    yield fake
    fake.close()


def client(url: str, retry_s: float = 20.0) -> _BrokerClient:
    return _BrokerClient(url, SECRET, retry_s=retry_s, backoff_s=0.01)


def payload(*names: str) -> list[dict[str, Any]]:
    return [protocol.encode_program(name, b"OPENQASM 2.0;", 10, None) for name in names]


def test_a_lost_submission_answer_is_retried_under_the_same_keys(
    script: Script, broker: FakeBroker
) -> None:
    script.drop_posts = 2
    results = client(broker.url).sample(payload("a", "b"))
    assert [r["counts"] for r in results] == [{"0": 10}, {"0": 10}]
    assert len(script.posts) == 3
    keys = [[item["key"] for item in items] for items in script.posts]
    assert keys[0] == keys[1] == keys[2]
    assert len(set(keys[0])) == 2 and all(len(k) == 32 for k in keys[0])
    assert len(script.ids) == 2  # the broker ran each program once
    assert [r["id"] for r in results] == ["p-0", "p-1"]


def test_503_answers_are_retried_for_submission_and_results(
    script: Script, broker: FakeBroker
) -> None:
    script.unavailable_posts, script.unavailable_gets, script.pending_gets = 2, 3, 2
    (result,) = client(broker.url).sample(payload("a"))
    assert result == {"id": "p-0", "counts": {"0": 10}}
    assert len(script.posts) == 1
    assert script.gets == ["p-0"] * 6  # 3 x 503, 2 x pending, the result


def test_a_refused_connection_is_retried_until_the_broker_is_up(script: Script) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started: list[FakeBroker] = []
    timer = threading.Timer(0.5, lambda: started.append(FakeBroker(script, port)))
    timer.start()
    try:
        begun = time.monotonic()
        (result,) = client(f"http://127.0.0.1:{port}").sample(payload("a"))
        assert result["counts"] == {"0": 10}
        assert time.monotonic() - begun >= 0.4
    finally:
        timer.join()
        for fake in started:
            fake.close()


def test_retrying_stops_after_the_retry_time(script: Script, broker: FakeBroker) -> None:
    script.status = 503
    begun = time.monotonic()
    with pytest.raises(SamplingError) as caught:
        client(broker.url, retry_s=0.5).sample(payload("a"))
    assert 0.4 <= time.monotonic() - begun < 5
    assert str(caught.value) == (
        f"cannot reach the broker at {broker.url}/v1 (it answered 503: scripted); gave up after "
        f"0.5 s ({ENV_RETRY}); is it running, and is {protocol.ENV_URL} right?"
    )


def test_other_errors_are_not_retried(script: Script, broker: FakeBroker) -> None:
    script.status = 401
    with pytest.raises(SamplingError, match="answered 401: scripted"):
        client(broker.url).sample(payload("a"))
    script.status = None
    assert script.posts == []


def test_a_program_the_broker_forgot_is_submitted_again_under_its_key(
    script: Script, broker: FakeBroker
) -> None:
    script.forget = 1
    (result,) = client(broker.url).sample(payload("a"))
    assert result["counts"] == {"0": 10}
    assert len(script.posts) == 2
    assert script.posts[0][0]["key"] == script.posts[1][0]["key"]
    assert script.posts[1][0]["name"] == "a"


def test_a_program_lost_again_and_again_is_given_up(script: Script, broker: FakeBroker) -> None:
    script.forget = 10
    with pytest.raises(SamplingError, match=r"lost program p-0 \(a\) 3 times: no such program"):
        client(broker.url).sample(payload("a"))
    assert len(script.posts) == 3


def test_another_clients_program_is_an_error(script: Script, broker: FakeBroker) -> None:
    script.not_yours = True
    with pytest.raises(SamplingError) as caught:
        client(broker.url).sample(payload("a"))
    assert str(caught.value) == (
        f"broker at {broker.url}/v1 says program p-0 (a) belongs to another client: "
        "not your program"
    )
    assert len(script.posts) == 1


def test_an_old_brokers_text_404_counts_as_unknown(script: Script, broker: FakeBroker) -> None:
    script.text_404 = True
    with pytest.raises(SamplingError, match="lost program p-0 .* no such program for this client"):
        client(broker.url).sample(payload("a"))


def test_refused_programs_keep_their_place(script: Script, broker: FakeBroker) -> None:
    results = client(broker.url).sample(payload("a", "bad", "c"))
    assert results[1] == {"circuit": "bad", "error": "bad: refused"}
    assert [r.get("counts") for r in results] == [{"0": 10}, None, {"0": 10}]


def test_the_retry_time_comes_from_the_environment(
    script: Script, broker: FakeBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(protocol.ENV_URL, broker.url)
    monkeypatch.setenv(protocol.ENV_SECRET, SECRET)
    monkeypatch.setenv(ENV_RETRY, "0")
    script.unavailable_posts = 1
    with pytest.raises(SamplingError, match="gave up after 0 s"):
        sample_encoded([("a", b"OPENQASM 2.0;")], 10, None)
    monkeypatch.setenv(ENV_RETRY, "30")
    script.unavailable_posts = 1
    (result,) = sample_encoded([("a", b"OPENQASM 2.0;")], 10, None)
    assert result["counts"] == {"0": 10}


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bad_retry_time_is_refused(value: str) -> None:
    with pytest.raises(SamplingError, match=f"{ENV_RETRY} must be a number of seconds >= 0"):
        retry_seconds({ENV_RETRY: value})
    assert retry_seconds({}) == 120.0


def test_the_client_imports_no_qiskit() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, streamflow_quantum.broker.client\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'qiskit', 'aiohttp'}))",
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "[]", done.stderr


def test_a_threads_requests_share_one_connection(script: Script, broker: FakeBroker) -> None:
    script.pending_gets = 1
    for name in ("a", "b"):  # two steps one after the other, as two clients
        (result,) = client(broker.url).sample(payload(name))
        assert result["counts"] == {"0": 10}
    assert (len(script.posts), len(script.gets)) == (2, 3)
    assert script.connections == 1


def test_a_kept_connection_the_broker_closed_is_replaced_at_once(
    script: Script, broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    script.hang_up = True  # as a server closes idle connections
    with caplog.at_level(logging.DEBUG, logger="streamflow_quantum.broker.client"):
        for name in ("a", "b"):
            (result,) = client(broker.url, retry_s=0).sample(payload(name))
            assert result["counts"] == {"0": 10}
    assert (len(script.posts), len(script.gets)) == (2, 2)
    assert script.connections == 4
    assert not [r for r in caplog.records if "unreachable" in r.getMessage()]


def test_an_outage_is_logged_once(
    script: Script, broker: FakeBroker, caplog: pytest.LogCaptureFixture
) -> None:
    script.unavailable_posts = 4
    with caplog.at_level(logging.DEBUG, logger="streamflow_quantum.broker.client"):
        client(broker.url).sample(payload("a"))
    levels = [r.levelname for r in caplog.records if "unreachable" in r.getMessage()]
    assert levels == ["WARNING", "DEBUG", "DEBUG", "DEBUG"]


def test_a_tls_failure_is_not_retried(script: Script, broker: FakeBroker) -> None:
    tls_url = broker.url.replace("http://", "https://")
    begun = time.monotonic()
    with pytest.raises(SamplingError, match=f"^TLS with the broker at {tls_url}/v1 failed"):
        client(tls_url).sample(payload("a"))
    assert time.monotonic() - begun < 5
    assert script.posts == []
