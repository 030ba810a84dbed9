"""Users of a standalone broker (`sfq serve --users FILE`), each with a token of their own."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamflow_quantum.broker import protocol
from streamflow_quantum.broker.users import UsersFile
from tests.conftest import BROKER_SECRET, run_tool, serve_broker

#: A Bell pair: as is for estimates, measured into ``c`` for sampling.
BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\ncx q[0],q[1];\n'
MEASURED = BELL.replace("h q[0];", "creg c[2];\nh q[0];") + "measure q -> c;\n"
#: One client key that every user sends: isolation must not rest on keys being secret.
KEY = "the-same-client-key-0123456789"


def _add(path: Path, name: str) -> str:
    done = run_tool("sfq", "users", "add", name, "--file", path, timeout=60)
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stdout.splitlines() if line.startswith("SFQ_BROKER_SECRET=")]
    return line.split("=", 1)[1]


def _call(
    url: str, path: str, token: str | None, body: dict | None = None, key: str = KEY
) -> tuple[int, dict]:
    headers = {protocol.CLIENT_HEADER: key}
    if token is not None:
        headers[protocol.SECRET_HEADER] = protocol.bearer(token)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/v1{path}", data, headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, {"text": e.read().decode()}


def _program(shots: int = 100) -> dict:
    data = base64.b64encode(MEASURED.encode()).decode()
    return {"programs": [{"name": "bell", "data": data, "shots": shots}]}


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A broker for alice and bob, and for the holders of the shared secret; their tokens."""
    path = tmp_path_factory.mktemp("users") / "users.yaml"
    tokens = {name: _add(path, name) for name in ("alice", "bob")}
    server, url = serve_broker("--packing", "serial", "--users", path)
    yield url, tokens
    server.terminate()
    server.wait(timeout=30)


def test_users_add_prints_a_token_once_and_the_file_keeps_only_its_digest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "users.yaml"
    done = run_tool("sfq", "users", "add", "alice", "--file", path, "--priority", "2", timeout=60)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1].removeprefix("SFQ_BROKER_SECRET=")
    assert len(token) >= 43 and done.stdout.count(token) == 1
    text = path.read_text()
    assert token not in text
    assert hashlib.sha256(token.encode()).hexdigest() in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = run_tool("sfq", "users", "add", "alice", "--file", path, timeout=60)
    assert (again.returncode, again.stderr) == (
        1,
        f"sfq users: {path}: there is a user named 'alice' already\n",
    )
    assert path.read_text() == text
    listed = run_tool("sfq", "users", "list", timeout=60, SFQ_USERS=str(path))
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[1].split() == ["alice", "2", "-", "-"]
    assert token not in listed.stdout and "token" not in listed.stdout.lower()


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        (
            [{"name": "ann", "token_sha256": "0" * 64}, {"name": "ann", "token_sha256": "1" * 64}],
            "user 'ann' (entry 2): another entry has this name; names must be unique",
        ),
        (
            [{"name": "ann", "token_sha256": "0" * 64, "priority": -1}],
            "user 'ann' (entry 1): priority: -1 is less than or equal to the minimum of 0",
        ),
        (
            [{"name": "ann", "token": "a-plain-token"}],
            "user 'ann' (entry 1): 'token_sha256' is a required property",
        ),
    ],
)
def test_serve_refuses_a_malformed_users_file(
    tmp_path: Path, entries: list[dict], problem: str
) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(json.dumps({"users": entries}))  # JSON is YAML
    done = run_tool("sfq", "serve", "--port", "0", "--users", path, timeout=60)
    assert (done.returncode, done.stderr) == (2, f"sfq serve: {path}: {problem}\n")


def test_a_user_cannot_read_another_users_result_even_with_the_same_key(
    users: tuple[str, dict[str, str]],
) -> None:
    url, tokens = users
    status, answer = _call(url, "/programs", tokens["alice"], _program())
    assert status == 200, answer
    program_id = answer["programs"][0]["id"]
    not_yours = {"error": "no such program for this client", "reason": "not-yours"}
    for other in (tokens["bob"], BROKER_SECRET):  # bob, and the shared secret's holders
        status, answer = _call(url, f"/programs/{program_id}?wait=5", other)
        assert (status, json.loads(answer["text"])) == (404, not_yours)
    status, result = _call(url, f"/programs/{program_id}?wait=30", tokens["alice"])
    assert status == 200 and set(result["counts"]) <= {"00", "11"}, result


def test_estimates_belong_to_their_user(users: tuple[str, dict[str, str]]) -> None:
    url, tokens = users
    body = {
        "name": "bell",
        "data": base64.b64encode(BELL.encode()).decode(),
        "observables": "ZZ",
        "shots": 200,
        "key": "estimate-key-0123456789",
    }
    ids = {}
    for name in ("alice", "bob"):
        status, answer = _call(url, "/estimates", tokens[name], body)
        assert status == 200, answer
        ids[name] = answer["id"]
    assert ids["alice"] != ids["bob"]  # the same client key and idempotency key, two users
    status, answer = _call(url, f"/estimates/{ids['alice']}?wait=5", tokens["bob"])
    assert status == 404, answer
    status, result = _call(url, f"/estimates/{ids['alice']}?wait=30", tokens["alice"])
    assert status == 200, result
    assert result.get("values") == [pytest.approx(1.0)], result


def test_a_wrong_or_missing_token_is_refused(users: tuple[str, dict[str, str]]) -> None:
    url, tokens = users
    for token in (tokens["alice"][:-1] + "x", "", None, BROKER_SECRET + "x"):
        status, answer = _call(url, "/info", token)
        assert (status, answer["text"]) == (
            401,
            "missing or wrong broker token (set SFQ_BROKER_SECRET to your token)",
        )
    assert _call(url, "/info", tokens["alice"])[0] == 200


def test_sfq_sample_with_a_users_token(users: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, tokens = users
    (tmp_path / "bell.qasm").write_text(MEASURED)
    out = tmp_path / "out.json"
    done = run_tool(
        "sfq",
        "sample",
        "--shots",
        "100",
        "--output",
        out,
        "bell.qasm",
        cwd=tmp_path,
        SFQ_BROKER=url,
        SFQ_BROKER_SECRET=tokens["bob"],
    )
    assert done.returncode == 0, done.stderr
    [result] = json.loads(out.read_text())["results"]
    assert sum(result["counts"].values()) == 100


def _status_within(url: str, token: str, expected: int, seconds: float = 15) -> int:
    """The status of ``/info`` for ``token`` once it is ``expected``, or when time is up."""
    deadline = time.monotonic() + seconds
    while (status := _call(url, "/info", token)[0]) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return status


def test_users_removed_or_added_while_the_broker_runs(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    carol, dave = _add(path, "carol"), _add(path, "dave")
    server, url = serve_broker("--users", path, secret=None)
    try:
        assert _call(url, "/info", carol)[0] == 200
        assert _call(url, "/info", BROKER_SECRET)[0] == 401  # no shared secret given
        done = run_tool("sfq", "users", "remove", "carol", "--file", path, timeout=60)
        assert done.returncode == 0, done.stderr
        assert _status_within(url, carol, 401) == 401
        assert _call(url, "/info", dave)[0] == 200
        erin = _add(path, "erin")
        assert _status_within(url, erin, 200) == 200
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_file_is_read_again_at_most_once_a_second_and_a_broken_one_is_ignored(
    tmp_path: Path,
) -> None:
    path = tmp_path / "users.yaml"
    entry = {"name": "ann", "token_sha256": hashlib.sha256(b"t1").hexdigest()}
    path.write_text(json.dumps({"users": [entry]}))
    now = [0.0]
    users = UsersFile(path, clock=lambda: now[0])
    assert users.authenticate(b"t1") is not None
    path.write_text(json.dumps({"users": [entry | {"name": "bea"}]}))
    now[0] = 0.5
    assert [u.name for u in users.users] == ["ann"] and users.authenticate(b"t1").name == "ann"
    now[0] = 1.0
    assert users.authenticate(b"t1").name == "bea"
    assert users.authenticate(b"t2") is None
    path.write_text("users: [")
    now[0] = 2.0
    assert users.authenticate(b"t1").name == "bea"


def test_a_users_quota_from_the_file_refuses_what_is_over_it(tmp_path: Path) -> None:
    """`sfq users add --max-queued 1`: the broker queues one program of that user at a time,
    and says so; the result names its user."""
    path = tmp_path / "users.yaml"
    done = run_tool("sfq", "users", "add", "carol", "--file", path, "--max-queued", "1", timeout=60)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1].removeprefix("SFQ_BROKER_SECRET=")
    # A long batch window: the first program is still queued when the second arrives.
    server, url = serve_broker("--users", path, "--batch-window", "3", secret=None)
    try:
        body = _program()
        body["programs"] *= 2
        status, answer = _call(url, "/programs", token, body)
        assert status == 200, answer
        first, second = answer["programs"]
        assert "id" in first and "starts_in_s" in first
        assert "user carol has 1 programs queued" in second["error"]
        assert "max_queued 1" in second["error"]
        status, record = _call(url, f"/programs/{first['id']}?wait=30", token)
        assert (status, record["user"]) == (200, "carol")
    finally:
        server.terminate()
        server.wait(timeout=30)
