"""Building a broker from settings: a qpu deployment's, `sfq serve`'s or `sfq sample`'s."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from streamflow_quantum.backends.base import Backend
from streamflow_quantum.backends.registry import make_backend
from streamflow_quantum.broker.core import Broker
from streamflow_quantum.broker.journal import Journal
from streamflow_quantum.broker.settings import broker_settings
from streamflow_quantum.core.config import Settings
from streamflow_quantum.packing.base import PackingPolicy
from streamflow_quantum.packing.registry import make_policy


def build_broker(
    settings: Settings | Mapping[str, Any] | None = None,
    wrap_backend: Callable[[Backend], Backend] | None = None,
    journal: Journal | None = None,
) -> Broker:
    """A broker for ``settings`` (validated here when a plain mapping): a QPU for each of
    ``backends``, or for ``backend``.

    QPUs named alike (``[aer:fake_brisbane, aer:fake_brisbane]``: the same device, with
    the same calibration) share one packing policy, so a program compiles once for them.
    ``wrap_backend`` replaces each opened backend by a wrapper of it before the policy
    sees it (a benchmark's modelled device time, a test's injected faults).
    Blocking (it loads Qiskit and the device): call it from a worker thread in async code.
    """
    if not isinstance(settings, Settings):
        settings = broker_settings(settings)
    qpus = []
    policies: dict[str, PackingPolicy] = {}
    for name in settings["backends"] or [settings["backend"]]:
        backend = make_backend(name, settings["noise"], settings.get(name.partition(":")[0]))
        if wrap_backend is not None:
            backend = wrap_backend(backend)
        if name not in policies:
            policies[name] = make_policy(settings["packing"], backend, settings["packingOptions"])
        qpus.append((backend, policies[name]))
    (backend, policy), *more = qpus
    return Broker(backend, policy, settings, journal, more=more)
