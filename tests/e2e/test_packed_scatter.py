"""A scatter of quantum steps on a fake-device qpu with `packing: space-time` shares backend jobs."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_tool

pytestmark = pytest.mark.slow


def test_concurrent_steps_are_packed_into_fewer_jobs(repo: Path, tmp_path: Path) -> None:
    example = repo / "examples" / "ghz-scatter"
    config = yaml.safe_load((example / "streamflow.yml").read_text())
    config["workflows"]["ghz"]["config"] = {
        "file": str(example / "main.cwl"),
        "settings": str(example / "inputs.yml"),
    }
    config["deployments"]["qpu"]["config"] = {
        "backend": "aer:fake_brisbane",
        "noise": False,
        "vqpus": 6,
        "packing": "space-time",
        "batchWindow": 1.0,
    }
    (tmp_path / "streamflow.yml").write_text(yaml.safe_dump(config))
    done = run_tool(
        "streamflow", "run", tmp_path / "streamflow.yml", "--outdir", tmp_path / "out", cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = [
        json.loads(f.read_text())["results"][0] for f in (tmp_path / "out").glob("counts*.json")
    ]
    assert len(results) == 6
    batches: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        width = int(r["circuit"][4:-5])
        assert set(r["counts"]) <= {"0" * width, "1" * width} and sum(r["counts"].values()) == 1000
        assert len(r["placement"]) >= width
        batches[r["batch"]].append(r)
    assert len(batches) < len(results), "six concurrent programs should share backend jobs"
