"""The StreamFlow plugin: deployment types ``qpu`` and ``sfq-slurm``, failure manager ``sfq-failfast``."""

from __future__ import annotations

import importlib

from streamflow.ext.plugin import StreamFlowPlugin

from streamflow_quantum.cluster.preflight import FailFastFailureManager, SfqSlurmConnector
from streamflow_quantum.connector.qpu import QPUConnector


class QuantumPlugin(StreamFlowPlugin):
    def register(self) -> None:
        # Load qiskit's native extension (qiskit._accelerate) here, on the main thread, where
        # StreamFlow loads its plugins. The extension bundles the mimalloc allocator, whose
        # main heap belongs to the thread that first loads it. Left to itself, the first import
        # happens in the worker thread of `asyncio.to_thread(build_broker, ...)` when a `qpu`
        # deployment deploys; once that thread exits, the next thread that allocates through
        # the extension segfaults: e.g. a second workflow run in the same process, as the CWL
        # conformance suite does (issue 9; tests/test_two_workflows_one_process.py).
        # Of the native modules a deployment loads, only qiskit._accelerate bundles mimalloc
        # (qiskit_aer does not), so qiskit alone is enough.
        importlib.import_module("qiskit")
        self.register_connector("qpu", QPUConnector)
        self.register_connector("sfq-slurm", SfqSlurmConnector)
        self.register_failure_manager("sfq-failfast", FailFastFailureManager)
