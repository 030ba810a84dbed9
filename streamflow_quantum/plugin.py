"""The StreamFlow plugin: registers deployment type ``qpu``."""

from __future__ import annotations

from streamflow.ext.plugin import StreamFlowPlugin

from streamflow_quantum.connector.qpu import QPUConnector


class QuantumPlugin(StreamFlowPlugin):
    def register(self) -> None:
        self.register_connector("qpu", QPUConnector)
