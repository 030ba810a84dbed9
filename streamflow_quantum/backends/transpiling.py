"""Where circuits are transpiled: in the calling thread, or in a compiler process.

Every compile of the project goes through :func:`transpile`: Qiskit's preset pass
manager for a Target at an optimization level, seeded, kept per thread (Qiskit's
passes keep per-run state on themselves, so a pass manager never runs in two threads
at once).

A broker compiles its clients' programs in compiler processes instead
(:func:`in_compiler_process`), for two reasons threads cannot give: some of Qiskit's
passes hold the GIL for seconds, which stalls every other client's work, and a compile
cannot be interrupted, only its process killed (:meth:`Lease.stop`). The processes are
shared by every broker of this process and kept between compiles; each keeps the
Targets and pass managers it was sent, so a compile ships only the circuit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator
from functools import cache
from typing import IO, TYPE_CHECKING

import streamflow_quantum

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.transpiler import PassManager, Target

logger = logging.getLogger(__name__)

#: Targets (with their pass managers) a thread or a compiler process keeps, newest last:
#: HyperQ's policies compile for one Target per qVM shape.
TARGETS_KEPT = 32

_local = threading.local()


def transpile(circuit: QuantumCircuit, target: Target, optimization_level: int) -> QuantumCircuit:
    """``circuit`` compiled for ``target``: in this thread's compiler process where the
    thread has one (:func:`in_compiler_process`), else here."""
    process: CompilerProcess | None = getattr(_local, "process", None)
    if process is not None:
        return process.transpile(circuit, target, optimization_level)
    managers: PassManagers | None = getattr(_local, "managers", None)
    if managers is None:
        managers = _local.managers = PassManagers()
    return managers.run(circuit, target, optimization_level)


class PassManagers:
    """Preset pass managers by (Target, optimization level), the newest :data:`TARGETS_KEPT`."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[int, int], tuple[Target, PassManager]] = OrderedDict()

    def run(
        self, circuit: QuantumCircuit, target: Target, optimization_level: int
    ) -> QuantumCircuit:
        key = (id(target), optimization_level)
        kept = self._kept.get(key)
        if kept is None or kept[0] is not target:
            from qiskit.transpiler import generate_preset_pass_manager

            manager = generate_preset_pass_manager(
                optimization_level=optimization_level, target=target, seed_transpiler=0
            )
            kept = self._kept[key] = (target, manager)
            while len(self._kept) > TARGETS_KEPT:
                self._kept.popitem(last=False)
        self._kept.move_to_end(key)
        compiled: QuantumCircuit = kept[1].run(circuit)
        return compiled


class CompilerStopped(RuntimeError):
    """The compiler process ended while it compiled: killed, or out of memory."""


class CompilerProcess:
    """A Python process (``compiler.py``) that transpiles what it is sent, one at a time.

    Requests and replies are pickles on its stdin and stdout. A Target goes with the
    first request that needs it; the process keeps the last :data:`TARGETS_KEPT`, and
    this side keeps the same ones (strong references, so their ids stay theirs).
    """

    def __init__(self) -> None:
        package_root = os.path.dirname(os.path.dirname(streamflow_quantum.__file__))
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "streamflow_quantum.backends.compiler"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
        )
        self._stdin: IO[bytes] = self._process.stdin  # type: ignore[assignment]
        self._stdout: IO[bytes] = self._process.stdout  # type: ignore[assignment]
        self._sent: OrderedDict[int, Target] = OrderedDict()

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def transpile(
        self, circuit: QuantumCircuit, target: Target, optimization_level: int
    ) -> QuantumCircuit:
        key = id(target)
        new = self._sent.get(key) is not target
        if new:
            self._sent[key] = target
        self._sent.move_to_end(key)
        forget = []
        while len(self._sent) > TARGETS_KEPT:
            forget.append(self._sent.popitem(last=False)[0])
        request = (key, target if new else None, optimization_level, circuit, forget)
        try:
            pickle.dump(request, self._stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._stdin.flush()
            ok, value = pickle.load(self._stdout)
        except (OSError, EOFError, pickle.UnpicklingError) as e:
            self.stop()
            raise CompilerStopped(
                f"the compiler process ended (exit status {self._process.wait()})"
            ) from e
        if not ok:
            transpiler_error, kind, message = value
            if transpiler_error:
                from qiskit.transpiler.exceptions import TranspilerError

                raise TranspilerError(message)
            raise RuntimeError(f"{kind}: {message}")
        compiled: QuantumCircuit = value
        return compiled

    def stop(self) -> None:
        """Kill the process, whatever it is doing (safe from any thread)."""
        with contextlib.suppress(ProcessLookupError):
            self._process.kill()


class CompilerProcesses:
    """Compiler processes kept idle between compiles, at most ``keep`` of them."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._idle: list[CompilerProcess] = []
        self._lock = threading.Lock()

    def take(self) -> CompilerProcess:
        with self._lock:
            while self._idle:
                process = self._idle.pop()
                if process.alive:
                    return process
        return CompilerProcess()

    def give_back(self, process: CompilerProcess) -> None:
        with self._lock:
            if process.alive and len(self._idle) < self.keep:
                self._idle.append(process)
                return
        process.stop()

    def warm(self, count: int) -> None:
        """Start processes (their Python and Qiskit imports) until ``count`` are idle."""
        with self._lock:
            missing = count - len(self._idle)
            self._idle.extend(CompilerProcess() for _ in range(max(0, missing)))


@cache
def compiler_processes(keep: int) -> CompilerProcesses:
    """The compiler processes this process's brokers share."""
    return CompilerProcesses(keep)


class Lease:
    """One compile's hold on a compiler process, which :meth:`stop` kills."""

    def __init__(self) -> None:
        self.stopped = False
        self._process: CompilerProcess | None = None
        self._lock = threading.Lock()

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            if self._process is not None:
                self._process.stop()

    def _hold(self, process: CompilerProcess | None) -> None:
        with self._lock:
            self._process = process
            if process is not None and self.stopped:
                process.stop()


@contextlib.contextmanager
def in_compiler_process(processes: CompilerProcesses, lease: Lease) -> Iterator[None]:
    """Run this thread's :func:`transpile` calls in one of ``processes``, held by ``lease``."""
    process = processes.take()
    lease._hold(process)
    _local.process = process
    try:
        yield
    finally:
        _local.process = None
        lease._hold(None)
        processes.give_back(process)
