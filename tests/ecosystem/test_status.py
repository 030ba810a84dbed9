"""`GET /v1/status` and `sfq status`: the queue, the running batch and estimated starts."""

from __future__ import annotations

import asyncio
import base64
import sys
import threading
from collections import Counter
from typing import Any

import aiohttp

from streamflow_quantum.backends.base import Backend
from streamflow_quantum.broker import protocol
from streamflow_quantum.broker.factory import build_broker
from streamflow_quantum.broker.server import BrokerServer
from streamflow_quantum.core.model import Batch
from tests.conftest import tool_env

SECRET = "status-secret-0123456789-0123456789"
GHZ = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\nmeasure q -> c;\n'


class Gated(Backend):
    """Runs a batch only once the test opens the gate: a batch stays running meanwhile."""

    @classmethod
    def open(cls, device: str, noise: bool, **options: Any) -> Backend:
        raise NotImplementedError

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner.name, inner.target)
        self.inner, self.gate, self.running = inner, threading.Event(), threading.Event()

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        self.running.set()
        self.gate.wait(60)
        return self.inner.run(batch, seed)


async def _submit(session: aiohttp.ClientSession, url: str, client: str, n: int) -> list[str]:
    program = {"name": "ghz.qasm", "data": base64.b64encode(GHZ.encode()).decode(), "shots": 100}
    async with session.post(
        f"{url}/v1/programs",
        json={"programs": [program] * n},
        headers={protocol.SECRET_HEADER: protocol.bearer(SECRET), protocol.CLIENT_HEADER: client},
    ) as response:
        assert response.status == 200
        return [r["id"] for r in (await response.json())["programs"]]


async def _sfq_status(*args: str, secret: str = SECRET) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streamflow_quantum.cli.main", "status", *args,
        env=tool_env(SFQ_BROKER_SECRET=secret),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_sfq_status_shows_the_queue() -> None:
    gated: list[Gated] = []

    def wrap(inner: Backend) -> Backend:
        gated.append(Gated(inner))
        return gated[0]

    broker = await asyncio.to_thread(
        build_broker, {"backend": "aer", "packing": "space", "batchWindow": 0.05}, wrap
    )
    server = BrokerServer(broker, SECRET)
    url = await server.start()
    backend = gated[0]
    try:
        async with aiohttp.ClientSession() as session:
            first = await _submit(session, url, "a" * 32, 1)
            await asyncio.to_thread(backend.running.wait, 30)  # the first batch holds the QPU
            await _submit(session, url, "a" * 32, 2)
            await _submit(session, url, "b" * 32, 3)
            code, out, err = await _sfq_status("--broker", url)
            assert code == 0, err
            assert "queue policy fifo; 5 programs waiting" in out
            assert "aer (" in out and ": batch b-" in out and "1 programs" in out
            assert "3 qubits" in out and "waiting per client:" in out
            status = broker.status()
            assert sorted(status["clients"].values()) == [2, 3]
            [qpu] = status["qpus"]
            assert qpu["running"]["programs"] == 1
            starts = [item["estimated_start"] for item in status["queue"]]
            assert starts == sorted(starts) and starts[0] >= qpu["running"]["started"]
            assert all(
                item["estimated_finish"] > item["estimated_start"] for item in status["queue"]
            )
            assert out.count("(client ") == 5  # each waiting program, by client prefix

            code, _, err = await _sfq_status("--broker", url, secret="wrong-secret")
            assert code == 1 and "answered 401" in err

            backend.gate.set()
            async with session.get(
                f"{url}/v1/programs/{first[0]}?wait=30",
                headers={
                    protocol.SECRET_HEADER: protocol.bearer(SECRET),
                    protocol.CLIENT_HEADER: "a" * 32,
                },
            ) as response:
                record = await response.json()
            assert record["device_s"] == 0.0  # ideal Aer: no durations in its Target
            for _ in range(100):
                if not broker.status()["queued"] and broker.status()["qpus"][0]["running"] is None:
                    break
                await asyncio.sleep(0.05)
            status = broker.status()
            assert status["queued"] == 0 and status["qpus"][0]["running"] is None
            assert status["qpus"][0]["model"]["batches_seen"] >= 2
    finally:
        backend.gate.set()
        await server.close()
