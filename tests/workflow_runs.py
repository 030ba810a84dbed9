"""Running a graph workflow end to end under cwltool or `streamflow run`, on small inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO, run_tool


def run_cwltool(workflow: str, tmp_path: Path, inputs: dict[str, Any]) -> Path:
    """The output directory of ``workflows/<workflow>/main.cwl`` run on ``inputs``."""
    job = tmp_path / "inputs.json"
    job.write_text(json.dumps(inputs))
    out = tmp_path / "out"
    done = run_tool(
        "cwltool",
        "--enable-ext",
        "--outdir",
        out,
        REPO / "workflows" / workflow / "main.cwl",
        job,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def run_streamflow(
    workflow: str, tmp_path: Path, inputs: dict[str, Any], config_file: str = "streamflow.yml"
) -> Path:
    """The output directory of ``workflows/<workflow>/<config_file>`` run on ``inputs``,
    with its own run database (the default one is shared by every run on the machine)
    and every job's directory under ``tmp_path / "jobs"`` (where Slurm records it)."""
    directory = REPO / "workflows" / workflow
    config = yaml.safe_load((directory / config_file).read_text())
    (tmp_path / "inputs.yml").write_text(yaml.safe_dump(inputs))
    for entry in config["workflows"].values():
        entry["config"] = {
            "file": str(directory / "main.cwl"),
            "settings": str(tmp_path / "inputs.yml"),
        }
    for deployment in config["deployments"].values():
        deployment["workdir"] = str(tmp_path / "jobs")
    config["database"] = {"type": "default", "config": {"connection": str(tmp_path / "sqlite.db")}}
    (tmp_path / "streamflow.yml").write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    done = run_tool(
        "streamflow", "run", tmp_path / "streamflow.yml", "--outdir", out, cwd=tmp_path, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def run_ghz_example(config: Path, tmp_path: Path) -> list[dict[str, Any]]:
    """Each step's result from `streamflow run` of a GHZ scatter config, in circuit order."""
    done = run_tool(
        "streamflow", "run", config, "--outdir", tmp_path / "out", cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = [
        json.loads(f.read_text())["results"][0] for f in (tmp_path / "out").glob("ghz_*.json")
    ]
    return sorted(results, key=lambda r: int(r["circuit"][4:-5]))
