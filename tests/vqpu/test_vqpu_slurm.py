"""`sfq bench vqpu` on real licences: each job a Slurm job; one `qpu_exclusive` copy
serialises the exclusive jobs, `vqpu` copies let the shared ones run together."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamflow_quantum.cluster.config import ClusterSpec
from streamflow_quantum.cluster.lifecycle import up
from streamflow_quantum.cluster.records import read_records, wait_for_records
from tests.conftest import run_tool

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def test_exclusive_jobs_hold_the_one_licence_in_turn_and_vqpu_jobs_run_together(
    tmp_path: Path,
) -> None:
    assert "qpu_exclusive:1" in up(ClusterSpec())  # added to a running cluster if missing
    out = tmp_path / "vqpu.json"
    done = run_tool(
        "sfq", "bench", "vqpu", "--json", out, "--n", "2", "--k", "0", "--max-nodes", "1",
        "--maxiter", "2", "--overhead", "0.1", "--policies", "exclusive,vqpu", "--runs", "1",
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert data["commit"] and data["command"].startswith("sfq bench vqpu --json")
    assert data["settings"]["exclusive_via"] == "slurm"
    rows = {r["policy"]: r for r in data["results"]}
    assert rows["exclusive"]["licence"] == "qpu_exclusive:1"
    assert rows["vqpu"]["licence"] == "vqpu:1"
    records = {
        policy: sorted(wait_for_records(row["slurm_jobs"], timeout=60), key=lambda r: r.start)
        for policy, row in rows.items()
    }
    assert all(len(r) == 2 and all(x.state == "COMPLETED" for x in r) for r in records.values())
    first, second = records["exclusive"]
    assert second.start >= first.end  # Slurm held the second until the licence came back
    a, b = records["vqpu"]
    assert b.start < a.end  # both held a vqpu copy at once
    assert {r.job_id for r in read_records()} >= set(rows["vqpu"]["slurm_jobs"])
