"""A broker killed with programs queued loses none of them once restarted on its journal."""

from __future__ import annotations

import base64
import signal
import subprocess
import time
from pathlib import Path

from tests.broker.test_standalone import _call, ghz
from tests.conftest import serve_broker

CLIENT = "restart-client-0123456789abcdef"


def _serve(state: Path, *flags: str) -> tuple[subprocess.Popen[str], str]:
    return serve_broker(
        "--state-dir",
        state,
        "--backend",
        "aer:fake_manila",
        "--no-noise",
        "--packing",
        "space-time",
        *flags,
    )


def _program(i: int) -> dict[str, object]:
    data = base64.b64encode(ghz(2 + i % 3).encode()).decode()
    return {"name": f"ghz-{i}", "data": data, "shots": 200, "key": f"restart-key-{i:04d}-abcdef"}


def test_sigkill_with_programs_queued_loses_none(tmp_path: Path) -> None:
    # A minute's batch window keeps every program queued when the broker is killed.
    server, url = _serve(tmp_path, "--batch-window", "60")
    programs = [_program(i) for i in range(11)]
    status, answer = _call(url, "/programs", CLIENT, {"programs": programs})
    assert status == 200, answer
    ids = [receipt["id"] for receipt in answer["programs"]]
    server.send_signal(signal.SIGKILL)
    server.wait(timeout=30)

    server, url = _serve(tmp_path, "--batch-window", "0.1")
    try:
        # The same keys again (a client retrying a lost answer): the same programs.
        status, again = _call(url, "/programs", CLIENT, {"programs": programs[:3]})
        assert [r["id"] for r in again["programs"]] == ids[:3]
        results = []
        for program_id in ids:
            deadline = time.time() + 60
            while True:
                status, record = _call(url, f"/programs/{program_id}?wait=10", CLIENT)
                if status == 200 or time.time() > deadline:
                    break
            assert status == 200, record
            results.append(record)
        status, other = _call(url, f"/programs/{ids[0]}", "another-client-0123456789abcdef")
        assert status == 404 and '"not-yours"' in other["text"]
        status, unknown = _call(url, "/programs/p-000000000000", CLIENT)
        assert status == 404 and '"unknown"' in unknown["text"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    for i, record in enumerate(results):
        width = 2 + i % 3
        assert record["circuit"] == f"ghz-{i}"
        assert sum(record["counts"].values()) == 200
        assert set(record["counts"]) <= {"0" * width, "1" * width}
    # Each ran once: one batch per program, however many times it was submitted.
    assert all(len(record.get("batches", [record["batch"]])) == 1 for record in results)
