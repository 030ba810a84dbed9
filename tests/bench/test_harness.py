"""The benchmarks' brokers, in a thread or as `sfq serve`: served while the with block runs,
start errors raised."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections import Counter
from typing import TYPE_CHECKING

import psutil
import pytest

from streamflow_quantum.backends.base import Backend
from streamflow_quantum.bench.harness import BrokerThread, ServedBroker
from streamflow_quantum.broker import protocol
from streamflow_quantum.core.errors import ConfigError

if TYPE_CHECKING:
    from streamflow_quantum.core.model import Batch


class Closing(Backend):
    """A wrapper that records its close."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner.name, inner.target)
        self.inner, self.closed = inner, False

    @classmethod
    def open(cls, device: str, noise: bool, **options: object) -> Backend:
        raise NotImplementedError

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        return self.inner.run(batch, seed)

    def close(self) -> None:
        self.closed = True
        self.inner.close()


def _info(broker: BrokerThread | ServedBroker) -> dict[str, object]:
    request = urllib.request.Request(
        f"{broker.url}{protocol.API}/info",
        headers={protocol.SECRET_HEADER: protocol.bearer(broker.secret)},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_serves_the_wrapped_backend_while_the_block_runs() -> None:
    wrapped: list[Closing] = []

    def wrap(backend: Backend) -> Backend:
        wrapped.append(Closing(backend))
        return wrapped[0]

    with BrokerThread({"backend": "aer", "packing": "serial"}, wrap) as broker:
        assert broker.env == {protocol.ENV_URL: broker.url, protocol.ENV_SECRET: broker.secret}
        assert broker.broker.backend is wrapped[0]
        assert _info(broker)["packing"] == "serial"
        assert not wrapped[0].closed
    assert wrapped[0].closed
    with pytest.raises(OSError):
        _info(broker)


def test_a_broker_that_cannot_start_raises_on_entering() -> None:
    with pytest.raises(ConfigError), BrokerThread({"backend": "nope"}):
        pytest.fail("the block must not run")


def test_brokers_one_after_another_in_a_fresh_process() -> None:
    # Each closed broker's threads exit, the one that imported Qiskit among them; the
    # next broker crashed (SIGSEGV) in most such processes before the harness took care.
    script = (
        "from streamflow_quantum.bench.harness import BrokerThread\n"
        "for _ in range(4):\n"
        "    with BrokerThread({'backend': 'aer', 'packing': 'serial'}):\n"
        "        pass\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def test_sfq_serve_in_its_own_process_gets_every_setting_and_stops_on_leaving() -> None:
    settings = {"backend": "aer", "packing": "space", "queue": "priority", "batchWindow": 0.25}
    with ServedBroker(settings) as broker:
        assert broker.pid != os.getpid()
        info = _info(broker)
        assert (info["packing"], info["queue"]) == ("space", "priority"), info
        served = psutil.Process(broker.pid)
    assert not served.is_running()
    with pytest.raises(OSError):
        _info(broker)


def test_a_served_broker_that_cannot_start_raises_on_entering() -> None:
    with pytest.raises(RuntimeError, match="did not start"), ServedBroker({"backend": "nope"}):
        pytest.fail("the block must not run")
