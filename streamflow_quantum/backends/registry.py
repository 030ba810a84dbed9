"""Backends by name: ``aer``, ``aer:<fake device>``, ``ibm:<backend>``."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit.providers import BackendV2

    from streamflow_quantum.backends.base import Backend


class BackendSpecError(ValueError):
    """A backend name that names nothing we can run; the message lists the valid ones."""


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


def _fake_device(name: str, spec: str) -> BackendV2:
    devices = fake_devices()
    if name not in devices:
        raise BackendSpecError(
            f"unknown fake device {name!r} in backend {spec!r}; valid devices: {', '.join(sorted(devices))}"
        )
    return devices[name]()


def check_spec(spec: str) -> None:
    """Validate a backend name without building the backend."""
    kind, _, device = spec.partition(":")
    if kind == "aer" and not device:
        return
    if kind in ("aer", "ibm") and device:
        if kind == "aer" or device.startswith("fake_"):
            _fake_device(device, spec)
        return
    raise BackendSpecError(
        f"unknown backend {spec!r}; use 'aer', 'aer:<fake device>' (e.g. aer:fake_brisbane) "
        "or 'ibm:<backend name>' (e.g. ibm:ibm_brisbane, or ibm:fake_brisbane for the runtime's local mode)"
    )


def make_backend(spec: str, noise: bool = True, ibm: dict[str, Any] | None = None) -> Backend:
    check_spec(spec)
    kind, _, device = spec.partition(":")
    if kind == "aer":
        from streamflow_quantum.backends.aer import AerBackend

        return AerBackend(_fake_device(device, spec) if device else None, noise=noise)
    from streamflow_quantum.backends.ibm import IBMBackend

    ibm = ibm or {}
    local = _fake_device(device, spec) if device.startswith("fake_") else None
    return IBMBackend(
        device=local,
        name=device,
        channel=ibm.get("channel"),
        instance=ibm.get("instance"),
        mode=ibm.get("mode", "job"),
    )
