"""`sfq bench multi-qpu` at a small size: two QPUs do more than one, a failing one loses nothing."""

from __future__ import annotations

import json
from pathlib import Path

from streamflow_quantum.bench.multi_qpu import main


def test_two_qpus_against_one_and_one_failing(tmp_path: Path) -> None:
    out = tmp_path / "multi.json"
    # Serial packing: one program per job, so the QPU count, not packing, sets the pace.
    argv = ["--programs", "16", "--packing", "serial", "--overhead", "0.3", "--json", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    one, two, failing = report["results"]
    assert report["command"].startswith("sfq bench multi-qpu") and report["commit"]
    assert [r["qpus"] for r in report["results"]] == [1, 2, 2]
    assert one["lost"] == two["lost"] == failing["lost"] == 0
    assert two["throughput_ratio"] > 1.4  # 16 jobs of ~0.55 s on two QPUs, not one
    assert set(two["programs_per_qpu"].values()) != {16}  # both QPUs ran programs
    assert failing["failed_qpu"] and "went offline" in failing["drained"]
    label = failing["failed_qpu"]
    assert failing["programs_per_qpu"].get(label, 0) < two["programs_per_qpu"][label]
    assert all("estimate_median_abs_error" in r for r in report["results"])
