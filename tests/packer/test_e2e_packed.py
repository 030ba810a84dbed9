"""`streamflow run` of the GHZ scatter example with the packer: fewer batches than programs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.workflow_runs import run_ghz_example

pytestmark = pytest.mark.slow


def test_ghz_scatter_packs_space_time(repo: Path, tmp_path: Path) -> None:
    example = tmp_path / "examples" / "ghz-scatter"
    shutil.copytree(repo / "examples" / "ghz-scatter", example)
    shutil.copytree(repo / "workflows" / "tools", tmp_path / "workflows" / "tools")
    config = yaml.safe_load((example / "streamflow.yml").read_text())
    config["deployments"]["qpu"]["config"].update(
        {
            "backend": "aer:fake_brisbane",
            "noise": False,
            "vqpus": 6,
            "packing": "space-time",
            "batchWindow": 2.0,
        }
    )
    (example / "streamflow.yml").write_text(yaml.safe_dump(config))
    results = run_ghz_example(example / "streamflow.yml", tmp_path)
    assert len(results) == 6
    assert len({r["batch"] for r in results}) < len(results)
    for r in results:
        width = int(r["circuit"][4:-5])
        assert set(r["counts"]) == {"0" * width, "1" * width}
        assert sum(r["counts"].values()) == 1000
        assert abs(r["counts"]["0" * width] - 500) < 4 * 1000**0.5 / 2
