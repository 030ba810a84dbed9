"""Backends re-read their calibration: a swapped file for aer, the provider's date for ibm."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from streamflow_quantum.backends import ibm
from streamflow_quantum.backends.aer import AerBackend
from streamflow_quantum.backends.base import CalibrationError
from streamflow_quantum.backends.ibm import IBMBackend
from streamflow_quantum.backends.registry import make_backend
from streamflow_quantum.cli.prov import device_calibration
from streamflow_quantum.core.errors import ConfigError
from tests.calibration.props import BAD_READOUT, DEVICE, degraded, snapshot, write


def test_a_swapped_file_is_a_new_calibration(tmp_path: Path) -> None:
    path = write(tmp_path / "props.json", snapshot())
    backend = make_backend(f"aer:{DEVICE}", options={"calibration": str(path)})
    first, target = backend.calibration, backend.target
    date = device_calibration(f"aer:{DEVICE}")[0]
    assert first is not None and date is not None and first.startswith(f"{date}#")
    assert backend.refresh_calibration() is False  # unchanged
    os.utime(path, (1, 1))  # touched, same content
    assert backend.refresh_calibration() is False
    assert (backend.calibration, backend.target) == (first, target)

    write(path, degraded([3, 4]))
    assert backend.refresh_calibration() is True
    assert backend.calibration not in (None, first)
    assert backend.target is not target
    assert backend.target["measure"][(4,)].error == BAD_READOUT
    assert target["measure"][(4,)].error < BAD_READOUT
    assert isinstance(backend, AerBackend) and backend.simulator.target is backend.target
    assert backend.refresh_calibration() is False


def test_without_a_file_the_fake_device_snapshot_is_the_calibration() -> None:
    backend = make_backend(f"aer:{DEVICE}")
    assert backend.calibration == device_calibration(f"aer:{DEVICE}")[0]
    assert backend.refresh_calibration() is False
    ideal = make_backend("aer")
    assert ideal.calibration is None and ideal.refresh_calibration() is False


def test_a_calibration_of_another_layout_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "props.json", snapshot())
    backend = make_backend(f"aer:{DEVICE}", options={"calibration": str(path)})
    before = backend.calibration, backend.target
    props = degraded([1])
    props["qubits"][4].append(
        {"date": props["last_update_date"], "name": "operational", "unit": "", "value": 0}
    )
    write(path, props)
    with pytest.raises(CalibrationError, match="coupling map"):
        backend.refresh_calibration()
    assert (backend.calibration, backend.target) == before


def test_a_calibration_file_must_fit_a_fake_device(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a fake device"):
        make_backend("aer", options={"calibration": str(tmp_path / "props.json")})
    with pytest.raises(ConfigError, match="no calibration file"):
        make_backend(f"aer:{DEVICE}", options={"calibration": str(tmp_path / "none.json")})
    props = snapshot()
    props["qubits"] = props["qubits"][:3]
    with pytest.raises(ConfigError, match="describes 3 qubits"):
        make_backend(f"aer:{DEVICE}", options={"calibration": str(write(tmp_path / "p", props))})


class Provider:
    """A runtime backend whose provider publishes a calibration when the test says."""

    name = "ibm_test"

    def __init__(self) -> None:
        from qiskit_ibm_runtime.fake_provider import FakeManilaV2

        self.target = FakeManilaV2().target
        self.date = "2025-01-01T00:00:00+00:00"
        #: What the provider has published: (date, Target).
        self.published: tuple[str, Any] = (self.date, self.target)
        self.refreshed = 0

    def properties(self, refresh: bool = False) -> SimpleNamespace:
        date = self.published[0] if refresh else self.date
        return SimpleNamespace(last_update_date=date)

    def refresh(self) -> None:
        self.refreshed += 1
        self.date, self.target = self.published


def test_ibm_takes_the_provider_s_new_calibration(monkeypatch: pytest.MonkeyPatch) -> None:
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    provider = Provider()
    monkeypatch.setattr(ibm, "_runtime_backend", lambda *args: provider)
    backend = IBMBackend(name="ibm_test")
    assert backend.calibration == provider.date
    assert backend.refresh_calibration() is False
    assert provider.refreshed == 0  # the same date: nothing rebuilt

    new = FakeManilaV2().target
    provider.published = ("2025-01-02T00:00:00+00:00", new)
    assert backend.refresh_calibration() is True
    assert (backend.calibration, backend.target) == ("2025-01-02T00:00:00+00:00", new)
    assert backend.refresh_calibration() is False
