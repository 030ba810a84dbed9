"""Calibration files for fake_manila (5 qubits in a line), derived from its own snapshot."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

DEVICE = "fake_manila"
#: What a degraded qubit reads wrong, and its gates' error.
BAD_READOUT = 0.4
BAD_GATE = 0.3


def snapshot() -> dict[str, Any]:
    """fake_manila's own properties (its ``props_manila.json``)."""
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    device = FakeManilaV2()
    props: dict[str, Any] = json.loads(Path(device.dirname, device.props_filename).read_text())
    return props


def degraded(bad: Collection[int]) -> dict[str, Any]:
    """The snapshot with the ``bad`` qubits' readout and every gate touching them much worse."""
    props = snapshot()
    for q in bad:
        for item in props["qubits"][q]:
            if item["name"] in ("readout_error", "prob_meas0_prep1", "prob_meas1_prep0"):
                item["value"] = BAD_READOUT
    for gate in props["gates"]:
        if set(gate["qubits"]) & set(bad):
            for item in gate["parameters"]:
                if item["name"] == "gate_error":
                    item["value"] = BAD_GATE
    return props


def write(path: Path, props: dict[str, Any]) -> Path:
    path.write_text(json.dumps(props))
    return path
