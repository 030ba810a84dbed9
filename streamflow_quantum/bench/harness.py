"""A broker for the benchmarks: a BrokerServer on 127.0.0.1 in a thread of this process
(``BrokerThread``), or `sfq serve` in a process of its own (``ServedBroker``)."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from streamflow_quantum.broker import protocol
from streamflow_quantum.broker.factory import build_broker
from streamflow_quantum.broker.server import BrokerServer
from streamflow_quantum.core.config import to_arguments

if TYPE_CHECKING:
    from types import TracebackType

    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.broker.core import Broker

#: How long closing may take: the broker waits for the backend job in flight.
CLOSE_TIMEOUT_S = 120.0


class BrokerThread:
    """``build_broker(settings, wrap_backend)`` served over HTTP while a ``with`` block runs.

    Entering returns once the server listens (``url``, ``secret``, and ``env`` for a
    client's environment); leaving closes the server and the broker. A failure to
    start is raised on entering, a failure to close on leaving.
    """

    def __init__(
        self,
        settings: Mapping[str, Any],
        wrap_backend: Callable[[Backend], Backend] | None = None,
    ) -> None:
        self.settings = settings
        self.wrap_backend = wrap_backend
        self.secret = secrets.token_hex(16)
        self.url = ""
        self._broker: Broker | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="broker", daemon=True)

    @property
    def broker(self) -> Broker:
        if self._broker is None:
            raise RuntimeError("the broker has not started: enter the with block first")
        return self._broker

    @property
    def pid(self) -> int:
        """The process the broker runs in: this one."""
        return os.getpid()

    @property
    def env(self) -> dict[str, str]:
        """What a client (``sfq sample``, a step) needs in its environment to use this broker."""
        return {protocol.ENV_URL: self.url, protocol.ENV_SECRET: self.secret}

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # raised again in the thread that owns the with block
            self._error = error
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._broker = await asyncio.to_thread(build_broker, self.settings, self.wrap_backend)
        server = BrokerServer(self._broker, self.secret)
        try:
            self.url = await server.start()
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            await self._stop.wait()
        finally:
            await server.close()

    def __enter__(self) -> BrokerThread:
        # Qiskit 2.6 crashes (SIGSEGV) a thread that uses it once the thread that first
        # imported it has exited, as a closed broker's worker thread has: import it here,
        # in the thread that outlives every broker it starts.
        import qiskit  # noqa: F401

        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(CLOSE_TIMEOUT_S)
        if self._thread.is_alive():
            raise TimeoutError(f"the broker at {self.url} did not close in {CLOSE_TIMEOUT_S:g} s")
        if self._error is not None:
            raise self._error


class ServedBroker:
    """`sfq serve` on 127.0.0.1 with ``settings``, in a process of its own, while a
    ``with`` block runs: as an operator runs it, so that the benchmark's clients do not
    share the broker's interpreter (and its GIL). ``env`` and ``pid`` as for
    :class:`BrokerThread`; leaving stops it with SIGTERM."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings
        self.secret = secrets.token_hex(32)
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the broker has not started: enter the with block first")
        return self._process.pid

    @property
    def env(self) -> dict[str, str]:
        return {protocol.ENV_URL: self.url, protocol.ENV_SECRET: self.secret}

    def __enter__(self) -> ServedBroker:
        command = [sys.executable, "-m", "streamflow_quantum.cli.main", "serve", "--port", "0"]
        self._process = subprocess.Popen(
            [*command, "--log-level", "WARNING", *to_arguments(self.settings)],
            env={**os.environ, protocol.ENV_SECRET: self.secret},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if " at http" not in line:
            self._process.kill()
            raise RuntimeError(f"sfq serve did not start (exit status {self._process.wait()})")
        self.url = line.rsplit(" at ", 1)[1].strip()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._process is not None
        self._process.terminate()
        try:
            self._process.wait(CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            raise TimeoutError(
                f"the broker at {self.url} did not stop in {CLOSE_TIMEOUT_S:g} s"
            ) from None
