"""Backends by kind: the part of a backend name before ``:`` (``aer``, ``ibm``).

A new backend is one module with a :class:`~streamflow_quantum.backends.base.Backend`
subclass, plus one line: here for a built-in, or an entry point in the group
``streamflow_quantum.backends`` of the package that ships it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from streamflow_quantum.core.errors import ConfigError
from streamflow_quantum.core.registry import Registry

if TYPE_CHECKING:
    from qiskit.providers import BackendV2

    from streamflow_quantum.backends.base import Backend

BACKENDS: Registry[Backend] = Registry(
    "backend",
    "streamflow_quantum.backends",
    {
        "aer": "streamflow_quantum.backends.aer:AerBackend",
        "ibm": "streamflow_quantum.backends.ibm:IBMBackend",
    },
)


@functools.cache
def fake_devices() -> dict[str, type]:
    """Offline fake devices by their snake_case name, e.g. ``fake_brisbane``."""
    from qiskit_ibm_runtime import fake_provider

    devices = {}
    for attr in dir(fake_provider):
        if attr.startswith("Fake") and not attr.startswith(("FakeProvider", "FakeFractional")):
            cls = getattr(fake_provider, attr)
            stem = attr[len("Fake") :].removesuffix("V2")
            devices["fake_" + stem.lower()] = cls
    return devices


def fake_device(name: str, spec: str) -> BackendV2:
    devices = fake_devices()
    if name not in devices:
        raise ConfigError(
            f"unknown fake device {name!r} in backend {spec!r}; valid devices: {', '.join(sorted(devices))}"
        )
    device: BackendV2 = devices[name]()
    return device


def check_spec(spec: str) -> None:
    """Validate a backend name without opening the backend."""
    kind, _, device = spec.partition(":")
    BACKENDS.get(kind).check_device(device, spec)


def make_backend(
    spec: str, noise: bool = True, options: Mapping[str, Any] | None = None
) -> Backend:
    """Open the backend ``spec`` names; ``options`` are its kind's own settings."""
    check_spec(spec)
    kind, _, device = spec.partition(":")
    return BACKENDS.get(kind).open(device, noise=noise, **(options or {}))
