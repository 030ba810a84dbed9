"""`sfq bench load --quick`: clients against `sfq serve`, every result checked."""

from __future__ import annotations

import json
from pathlib import Path

from streamflow_quantum.bench.load import main


def test_quick_load_loses_nothing_and_records_what_it_ran(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    assert main(["--quick", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    [run] = report["runs"]
    loaded = run["loaded"]
    assert (loaded["programs"], loaded["lost"], loaded["wrong"]) == (50, 0, 0), loaded
    assert (report["lost"], report["wrong"]) == (0, 0)
    assert 0 < loaded["p50_s"] <= loaded["p95_s"]
    ratio = loaded["p95_s"] / run["alone"]["p50_s"]
    assert report["p95_over_alone_p50"] == run["p95_over_alone_p50"] == ratio
    settings = report["settings"]
    assert settings["broker"] == "process"
    assert settings["broker_settings"] == {
        "backend": "aer:fake_brisbane",
        "noise": False,
        "packing": "fit",
        "batchWindow": 0.1,
    }
    assert report["command"] == f"sfq bench load --quick --json {out}" and report["commit"]
    assert report["rss_mb"] > 100  # the served broker's own process, Qiskit loaded
