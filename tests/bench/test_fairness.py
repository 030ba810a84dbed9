"""`sfq bench fairness` end to end, small: A floods 30 programs, B submits 4 meanwhile."""

from __future__ import annotations

import json
from pathlib import Path

from streamflow_quantum.bench.fairness import main

ROW_KEYS = {
    "policy",
    "user",
    "mean_wait_s",
    "alone_wait_s",
    "wait_ratio",
    "turnaround_ratio",
    "estimate_median_abs_error",
    "estimate_error_ratio",
    "programs",
    "lost",
}


def test_fair_share_serves_the_trickler_ahead_of_the_flood(tmp_path: Path) -> None:
    out = tmp_path / "fairness.json"
    argv = ["--flood", "30", "--trickle", "4", "--policies", "fifo,fair-share"]
    argv += ["--shots", "20", "--overhead", "0.05", "--json", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    rows = {(r["policy"], r["user"]): r for r in report["results"]}
    assert set(rows) == {(p, u) for p in ("fifo", "fair-share") for u in ("a", "b")}
    for row in rows.values():
        assert set(row) >= ROW_KEYS
        assert row["lost"] == 0
    assert [rows[p, "a"]["programs"] for p in ("fifo", "fair-share")] == [30, 30]
    assert [rows[p, "b"]["programs"] for p in ("fifo", "fair-share")] == [4, 4]
    fifo, fair = rows["fifo", "b"], rows["fair-share", "b"]
    assert fifo["arrived_while_a_queued"] == 4
    # Under fifo B waits behind A's queue; under fair-share only for the job in flight.
    assert fair["mean_wait_s"] < fifo["mean_wait_s"] / 4
    assert fair["alone_wait_s"] == report["alone"]["mean_wait_s"]
    assert fair["turnaround_ratio"] < fifo["turnaround_ratio"]
    assert report["targets"]["lost_is_0"]
    assert report["command"].startswith("sfq bench fairness")
