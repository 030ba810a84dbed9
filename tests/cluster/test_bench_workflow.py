from __future__ import annotations

from pathlib import Path

import yaml

from streamflow_quantum.bench.workflow import QUICK, WORKFLOW_DIR, _workflow_config


def test_bench_config_feeds_the_workflow_its_inputs_and_keeps_jobs_under_the_run(
    tmp_path: Path,
) -> None:
    config = _workflow_config(
        WORKFLOW_DIR / "streamflow-slurm.yml", tmp_path, QUICK.options("long")
    )
    settings = yaml.safe_load(config.read_text())
    (workflow,) = settings["workflows"].values()
    assert Path(workflow["config"]["file"]) == (WORKFLOW_DIR / "main.cwl").resolve()
    inputs = yaml.safe_load(Path(workflow["config"]["settings"]).read_text())
    assert (inputs["n_points"], inputs["quantum_delay"]) == (QUICK.n_points, QUICK.long_delay)
    declared = yaml.safe_load((WORKFLOW_DIR / "main.cwl").read_text())["inputs"]
    assert set(inputs) <= set(declared)  # every input the bench sets is one main.cwl takes
    # the records of a run are found by their WorkDir
    assert {d["workdir"] for d in settings["deployments"].values()} == {str(tmp_path / "jobs")}
    assert settings["database"]["config"]["connection"] == str(tmp_path / "sqlite.db")
