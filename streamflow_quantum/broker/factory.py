"""Building a broker from the settings a qpu deployment, `sfq serve` or `sfq sample` gives."""

from __future__ import annotations

from typing import Any

from streamflow_quantum.backends.registry import make_backend
from streamflow_quantum.broker.core import Broker, BrokerSettings
from streamflow_quantum.packing.registry import make_policy


def build_broker(
    backend: str = "aer",
    noise: bool = True,
    packing: str = "serial",
    ibm: dict[str, Any] | None = None,
    **settings: Any,
) -> Broker:
    """Blocking (it loads Qiskit and the device): call it from a worker thread in async code."""
    device = make_backend(backend, noise=noise, ibm=ibm)
    return Broker(device, make_policy(packing, device), BrokerSettings(**settings))
