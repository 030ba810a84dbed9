"""A StreamFlow Slurm deployment with no cluster behind it fails with Slurm's own clear reason.

No cluster is stopped: SLURM_CONF points sbatch at a configuration whose controller
port has no slurmctld, which is what a workflow sees before `sfq cluster up`.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from streamflow_quantum.cluster.config import ClusterSpec, render_slurm_conf

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

TOOL = """cwlVersion: v1.2
class: CommandLineTool
baseCommand: [hostname]
inputs: []
outputs:
  out:
    type: stdout
"""

CONFIG = """version: v1.0
workflows:
  hostname:
    type: cwl
    config:
      file: hostname.cwl
      settings: inputs.yml
    bindings:
      - step: /
        target:
          deployment: slurm
          service: compute
deployments:
  slurm:
    type: slurm
    config:
      pollingInterval: 1
      services:
        compute:
          partition: compute
          nodes: "1"
database:
  type: default
  config:
    connection: {database}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def test_slurm_workflow_without_a_controller_says_so(tmp_path: Path) -> None:
    conf = tmp_path / "slurm.conf"
    conf.write_text(render_slurm_conf(ClusterSpec(base_port=_free_port()), tmp_path))
    (tmp_path / "hostname.cwl").write_text(TOOL)
    (tmp_path / "inputs.yml").write_text("{}\n")
    (tmp_path / "streamflow.yml").write_text(CONFIG.format(database=tmp_path / "sqlite.db"))
    run = subprocess.run(
        [Path(sys.executable).parent / "streamflow", "run", "streamflow.yml", "--outdir", "out"],
        cwd=tmp_path,
        env={"SLURM_CONF": str(conf), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode != 0
    log = run.stdout + run.stderr
    assert (
        "Error submitting job /0 to Slurm: sbatch: error: Batch job submission failed: Unable to contact slurm controller"
        in log
    )
