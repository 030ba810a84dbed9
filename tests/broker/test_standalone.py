"""A standalone broker (`sfq serve`) shared by several clients over HTTP."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import re
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamflow_quantum.broker import protocol
from tests.conftest import BROKER_SECRET, run_tool, serve_broker

SECRET = BROKER_SECRET
GHZ = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{n}];\ncreg c[{n}];\nh q[0];\n{cx}measure q -> c;\n'


def ghz(n: int) -> str:
    return GHZ.format(n=n, cx="".join(f"cx q[{i}],q[{i + 1}];\n" for i in range(n - 1)))


@pytest.fixture(scope="module")
def broker_url() -> Iterator[str]:
    server, url = serve_broker("--packing", "serial")
    yield url
    server.terminate()
    server.wait(timeout=30)


def _call(
    url: str, path: str, client: str, body: dict | None = None, secret: str = SECRET
) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}/v1{path}",
        None if body is None else json.dumps(body).encode(),
        {protocol.SECRET_HEADER: protocol.bearer(secret), protocol.CLIENT_HEADER: client},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, {"text": e.read().decode()}


def test_serve_refuses_to_start_without_a_secret() -> None:
    done = run_tool("sfq", "serve", "--port", "0", timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "sfq serve: a shared secret is required: set SFQ_BROKER_SECRET or pass --secret-file FILE"
    )


def test_serve_refuses_a_short_secret() -> None:
    done = run_tool("sfq", "serve", "--port", "0", timeout=60, SFQ_BROKER_SECRET="short-secret")
    assert done.returncode == 2
    assert done.stderr.startswith(
        "sfq serve: the shared secret has 12 bytes; use at least 32 random ones"
    )
    assert len(done.stderr.strip().splitlines()) == 1


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_serve_over_tls_and_stop_at_once_on_sigterm(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server, url = serve_broker("--packing", "serial", "--tls-cert", cert, "--tls-key", key)
    try:
        assert url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))
        request = urllib.request.Request(
            f"{url}/v1/info",
            headers={
                protocol.SECRET_HEADER: protocol.bearer(SECRET),
                protocol.CLIENT_HEADER: "c" * 32,
            },
        )
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            assert json.load(response)["packing"] == "serial"
        # A client waiting on a result does not hold the server up.
        program = {"name": "ghz", "data": base64.b64encode(ghz(2).encode()).decode()}
        body = json.dumps({"programs": [program]}).encode()
        request = urllib.request.Request(f"{url}/v1/programs", body, request.headers)
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            assert "id" in json.load(response)["programs"][0]
    finally:
        started = time.monotonic()
        server.terminate()
        server.wait(timeout=30)
    assert time.monotonic() - started < 5


def test_serve_refuses_a_half_tls_configuration(tmp_path: Path) -> None:
    cert, _ = _self_signed(tmp_path)
    done = run_tool(
        "sfq", "serve", "--port", "0", "--tls-cert", cert, timeout=60, SFQ_BROKER_SECRET=SECRET
    )
    assert (done.returncode, done.stderr.strip()) == (
        1,
        "sfq serve: --tls-cert and --tls-key go together",
    )


def test_a_request_without_the_secret_is_rejected(broker_url: str) -> None:
    status, answer = _call(broker_url, "/info", "a" * 32, secret="wrong")
    assert status == 401
    assert "missing or wrong broker secret" in answer["text"]
    assert _call(broker_url, "/info", "a" * 32)[0] == 200


def test_a_client_cannot_read_another_clients_result(broker_url: str) -> None:
    alice, bob = "alice-key-" + "1" * 22, "bob-key-" + "2" * 24
    program = {"name": "ghz", "data": base64.b64encode(ghz(2).encode()).decode(), "shots": 100}
    _, answer = _call(broker_url, "/programs", alice, {"programs": [program]})
    program_id = answer["programs"][0]["id"]
    status, text = _call(broker_url, f"/programs/{program_id}?wait=5", bob)
    assert status == 404
    assert json.loads(text["text"]) == {
        "error": "no such program for this client",
        "reason": "not-yours",
    }
    status, result = _call(broker_url, f"/programs/{program_id}?wait=20", alice)
    assert status == 200 and set(result["counts"]) <= {"00", "11"}


def test_bad_circuits_among_concurrent_clients_lose_nothing(
    broker_url: str, tmp_path: Path
) -> None:
    """Three `sfq sample` calls at once; one of them mixes a malformed circuit with good ones."""
    for n in (2, 3, 4, 5):
        (tmp_path / f"ghz{n}.qasm").write_text(ghz(n))
    (tmp_path / "broken.qasm").write_text("OPENQASM 2.0;\nqreg q[2];\ncx q[0];\n")
    calls = {
        "mixed": ["ghz2.qasm", "broken.qasm", "ghz3.qasm"],
        "one": ["ghz4.qasm"],
        "two": ["ghz5.qasm", "ghz2.qasm"],
    }
    outcomes: dict[str, tuple[int, list[dict]]] = {}
    logs: dict[str, str] = {}

    def call(name: str, files: list[str]) -> None:
        out = tmp_path / f"{name}.json"
        done = run_tool(
            "sfq",
            "sample",
            "--shots",
            "200",
            "--output",
            out,
            *files,
            cwd=tmp_path,
            SFQ_BROKER=broker_url,
            SFQ_BROKER_SECRET=SECRET,
        )
        outcomes[name] = (done.returncode, json.loads(out.read_text())["results"])
        logs[name] = done.stderr

    threads = [threading.Thread(target=call, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert outcomes["one"][0] == outcomes["two"][0] == 0
    assert outcomes["mixed"][0] == 1
    for name, files in calls.items():  # each step's log says when its programs should run
        queued = len(files) - files.count("broken.qasm")
        assert re.search(
            rf"sfq sample: {queued} programs? queued: starts in about [\d.]+ s, "
            r"done in about [\d.]+ s",
            logs[name],
        ), logs[name]
    for name, files in calls.items():
        for file, result in zip(files, outcomes[name][1], strict=True):
            if file == "broken.qasm":
                assert result["error"].startswith("broken.qasm: invalid OpenQASM 2:")
                continue
            width = int(file[3])
            assert result["circuit"] == file
            assert set(result["counts"]) <= {"0" * width, "1" * width}
            assert sum(result["counts"].values()) == 200


def test_a_wrong_broker_url_gives_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "g.qasm").write_text(ghz(2))
    done = run_tool(
        "sfq",
        "sample",
        tmp_path / "g.qasm",
        SFQ_BROKER="http://127.0.0.1:9",
        SFQ_BROKER_SECRET="x",
        SFQ_BROKER_RETRY_S="0",
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("sfq sample: cannot reach the broker at http://127.0.0.1:9/v1")
