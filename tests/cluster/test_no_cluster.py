"""A StreamFlow Slurm deployment with no cluster behind it fails, and says why.

No cluster is stopped: SLURM_CONF points sbatch at a configuration whose controller
port has no slurmctld, which is what a workflow sees before `sfq cluster up`.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamflow_quantum.cluster.config import ClusterSpec, render_slurm_conf

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
#: The line sfq-slurm logs when `scontrol ping` finds no controller.
UNREACHABLE = re.compile(
    r"ERROR +Slurm controller unreachable \(Slurmctld\(primary\) at \S+ is DOWN\): "
    r"run sfq cluster up$",
    re.MULTILINE,
)

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


@pytest.mark.parametrize("workflow", ["clustering", "qaoa", "coloring"])
def test_looping_slurm_workflow_without_a_controller_fails_fast(
    tmp_path: Path, workflow: str
) -> None:
    """The sfq-slurm deployment says what to do; sfq-failfast ends the CWL loop's wait.

    With StreamFlow's plain `slurm` deployment these runs never exit: the first step
    fails, and the loop after it waits forever for an iteration that cannot start.
    """
    conf = tmp_path / "slurm.conf"
    conf.write_text(render_slurm_conf(ClusterSpec(base_port=_free_port()), tmp_path))
    config = REPO / "workflows" / workflow / "streamflow-slurm.yml"
    started = time.monotonic()
    try:
        run = subprocess.run(
            [Path(sys.executable).parent / "streamflow", "run", config, "--outdir", "out"],
            cwd=tmp_path,
            env={"SLURM_CONF": str(conf), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired as hung:
        out = hung.stdout.decode() if isinstance(hung.stdout, bytes) else hung.stdout or ""
        pytest.fail(f"{workflow}: streamflow run did not exit within 30 s:\n{out[-2000:]}")
    assert time.monotonic() - started < 30
    assert run.returncode != 0
    log = run.stdout + run.stderr
    assert UNREACHABLE.search(log), log[-3000:]
