"""Runs per point: mean, spread and the ratio to exclusive, on hand-built runs."""

from __future__ import annotations

import math
import subprocess

import pytest
import qiskit
import qiskit_aer

from streamflow_quantum.bench.provenance import provenance
from streamflow_quantum.bench.vqpu import FIGURES, point_row
from streamflow_quantum.bench.vqpu_runs import aggregate, mean_sd, ratio_sd


def test_mean_and_sample_standard_deviation() -> None:
    assert mean_sd([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]) == pytest.approx(
        (5.0, math.sqrt(32 / 7))
    )
    assert mean_sd([3.0]) == (3.0, 0.0)  # one run has no spread
    with pytest.raises(ValueError, match="no values"):
        mean_sd([])


def test_aggregate_keeps_the_keys_and_adds_sd_and_runs() -> None:
    runs = [{"mode": "m", "n": 2, "wall_s": 10.0}, {"mode": "m", "n": 2, "wall_s": 14.0}]
    row = aggregate(runs, ["wall_s"])
    assert row == {
        "mode": "m",
        "n": 2,
        "wall_s": 12.0,
        "wall_s_sd": pytest.approx(math.sqrt(8)),
        "runs": 2,
    }


def test_ratio_spread_adds_relative_spreads_in_quadrature() -> None:
    # 10 +- 1 over 20 +- 2: 0.5 with 10% and 10% relative spreads -> 0.5 * sqrt(0.02)
    assert ratio_sd(10.0, 1.0, 20.0, 2.0) == pytest.approx(0.5 * math.sqrt(0.02))
    assert ratio_sd(0.0, 1.0, 20.0, 2.0) == 0.0


def _run(total: float, occupancy: float, runtimes: list[float]) -> dict[str, object]:
    return {
        "policy": "vqpu+packing", "n": 2, "k": 2.0, "licence": "vqpu:1", "slurm_jobs": [1, 2],
        "total_s": total, "qpu_occupancy": occupancy, "qpu_busy_s": total * occupancy,
        "mean_queue_s": 0.5, "runtimes_s": runtimes, "executions": 20, "batches": 10,
    }  # fmt: skip


def test_point_row_ratios_each_run_to_n_times_mean_t1() -> None:
    # t1 runs 4 and 6 s: t1 = 5 s, N x t1 = 10 s; runs of 3 and 5 s give ratios 0.3 and 0.5.
    row = point_row(
        [_run(3.0, 0.8, [3.0, 2.5]), _run(5.0, 0.9, [5.0, 4.0])], 2, [4.0, 6.0], "slurm"
    )
    assert row["runs"] == 2 and row["exclusive_via"] == "slurm"
    assert (row["t1_s"], row["t1_s_sd"]) == pytest.approx((5.0, math.sqrt(2)))
    assert (row["exclusive_total_s"], row["exclusive_total_s_sd"]) == pytest.approx(
        (10.0, 2 * math.sqrt(2))
    )
    assert row["total_over_exclusive"] == pytest.approx(0.4)
    assert row["total_over_exclusive_sd"] == pytest.approx(math.sqrt(0.02))
    assert (row["qpu_occupancy"], row["qpu_occupancy_sd"]) == pytest.approx(
        (0.85, math.sqrt(0.005))
    )
    assert row["runtimes_s"] == [3.0, 2.5, 5.0, 4.0]  # every job of every run, for the violins
    assert row["slurm_jobs"] == [1, 2, 1, 2]
    assert {f"{f}_sd" for f in FIGURES} <= set(row)


def test_provenance_names_the_commit_and_the_command() -> None:
    meta = provenance("vqpu", ["--json", "x.json", "--runs", "5"])
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    assert meta["commit"].startswith(head.stdout.strip())
    assert meta["command"] == "sfq bench vqpu --json x.json --runs 5"
    assert meta["packages"]["qiskit"] == qiskit.__version__
    assert meta["packages"]["qiskit-aer"] == qiskit_aer.__version__
