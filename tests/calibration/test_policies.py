"""Packing policies take a new calibration: placements and rankings follow the new errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamflow_quantum.backends.base import Backend
from streamflow_quantum.backends.registry import make_backend
from streamflow_quantum.core.model import Program
from streamflow_quantum.packing.registry import make_policy
from streamflow_quantum.planning.validation import ghz_circuit
from tests.calibration.props import DEVICE, degraded, snapshot, write


def _bell(name: str) -> Program:
    return Program(name, ghz_circuit(2), shots=100)


def _backend(path: Path) -> Backend:
    return make_backend(f"aer:{DEVICE}", options={"calibration": str(path)})


def test_fit_moves_queued_and_new_programs_off_degraded_qubits(tmp_path: Path) -> None:
    path = write(tmp_path / "props.json", snapshot())
    backend = _backend(path)
    policy = make_policy("fit", backend)
    before = _bell("before")
    policy.prepare(before)
    bad = set(policy.prepared[before.id].solo.mapping)  # type: ignore[attr-defined]
    success = policy.solo_success(before)
    assert success is not None and 0.9 < success < 1

    write(path, degraded(bad))
    assert backend.refresh_calibration()
    policy.recalibrate()
    after = _bell("after")
    policy.prepare(after)
    for program in (before, after):
        assert not bad & set(policy.prepared[program.id].solo.mapping)  # type: ignore[attr-defined]
    assert policy.solo_success(after) == policy.solo_success(before)
    batch = policy.next_batch([before, after])
    assert batch.programs[0] is before
    assert not bad & set(batch.placements[0].qubits)
    assert backend.run(batch, 7)[1][0].total() == batch.shots


@pytest.mark.parametrize("packing", ["serial", "space-time", "noise-aware"])
def test_other_policies_keep_queued_work_and_estimate_success(tmp_path: Path, packing: str) -> None:
    path = write(tmp_path / "props.json", snapshot())
    backend = _backend(path)
    policy = make_policy(packing, backend)
    before = _bell("before")
    policy.prepare(before)
    success = policy.solo_success(before)
    assert success is not None and 0.8 < success < 1
    write(path, degraded([0, 1, 3, 4]))
    assert backend.refresh_calibration()
    policy.recalibrate()
    worse = policy.solo_success(before)
    assert worse is not None and worse < success
    batch = policy.next_batch([before])
    assert batch.programs == [before]
    assert backend.run(batch, 7)[1][0].total() == batch.shots


def test_noise_aware_ranks_regions_again(tmp_path: Path) -> None:
    path = write(tmp_path / "props.json", degraded([0, 1]))
    backend = _backend(path)
    policy = make_policy("noise-aware", backend, {"lowQuality": 1})
    cell = {qubits: cell for cell, qubits in policy.layout.cells.items()}  # type: ignore[attr-defined]
    assert policy.order.low == {cell[0, 1]}  # type: ignore[attr-defined]
    write(path, degraded([3, 4]))
    assert backend.refresh_calibration()
    policy.recalibrate()
    assert policy.order.low == {cell[3, 4]}  # type: ignore[attr-defined]
