"""sfq-slurm's ``launch: srun``: each step an srun job, with sbatch's settings checked."""

from __future__ import annotations

import inspect
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from streamflow.core.exception import WorkflowDefinitionException
from streamflow.deployment.connector.local import LocalConnector
from streamflow.deployment.connector.queue_manager import SlurmService

from streamflow_quantum.cluster.launch import MANY_TASKS, SRUN_LACKS, srun_options
from streamflow_quantum.cluster.preflight import SfqSlurmConnector


def connector(**services: dict[str, Any]) -> SfqSlurmConnector:
    return SfqSlurmConnector(
        deployment_name="slurm",
        config_dir=".",
        connector=LocalConnector("local", "."),
        service=None,
        launch="srun",
        maxConcurrentJobs=2,
        services=services,
    )


def test_a_services_settings_become_srun_options() -> None:
    built = connector(
        compute={
            "partition": "compute",
            "nodes": "1",
            "cpusPerTask": 2,
            "exclusive": True,
            "licenses": "qpu:1",
            "useMinNodes": True,
            "noKill": False,
        }
    )
    assert sorted(built._srun_options["compute"]) == [
        "--cpus-per-task=2",
        "--exclusive",
        "--licenses=qpu:1",
        "--ntasks=1",
        "--partition=compute",
        "--use-min-nodes",
    ]


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"nodes": "2"}, "nodes: 2"),
        ({"ntasks": 4}, "ntasks: 4"),
        ({"ntasksPerNode": 2}, "ntasksPerNode: 2"),
        ({"array": "1-4"}, "array: 1-4"),
        ({"requeue": True}, "requeue: True"),
        ({"file": "template.sh"}, "file: template.sh"),
    ],
)
def test_settings_srun_cannot_honour_are_refused_when_the_deployment_is_built(
    settings: dict[str, Any], named: str
) -> None:
    with pytest.raises(WorkflowDefinitionException, match=f"'compute'.*cannot take {named};"):
        connector(compute={"partition": "compute", **settings})


def test_an_unknown_launch_is_refused() -> None:
    with pytest.raises(WorkflowDefinitionException, match="launch: 'fast'"):
        SfqSlurmConnector(
            deployment_name="slurm",
            config_dir=".",
            connector=LocalConnector("local", "."),
            service=None,
            launch="fast",
        )


@pytest.mark.skipif(shutil.which("srun") is None, reason="Slurm's client is not installed")
def test_every_setting_srun_is_given_is_an_option_srun_knows() -> None:
    """Every StreamFlow Slurm setting not refused under srun becomes an srun option."""
    accepted = inspect.signature(SlurmService.__init__).parameters.keys() - (
        {"self", "nodes", "ntasks"} | SRUN_LACKS | MANY_TASKS
    )
    flags = {"contiguous", "exclusive", "noKill", "overcommit", "oversubscribe", "reboot"}
    flags |= {"spreadJob", "useMinNodes"}
    settings = {key: True if key in flags else "1" for key in accepted}
    # srun stops at the first option it does not know, and --help ends the parse; a
    # value it cannot read (a date, a time) is another error, so one option at a time.
    unknown = []
    for option in srun_options("all", settings):
        parsed = subprocess.run(
            ["srun", option, "--help"], capture_output=True, text=True, check=False
        )
        if "unrecognized option" in parsed.stderr:
            unknown.append(option)
    assert unknown == []


WORKFLOW = """cwlVersion: v1.2
class: Workflow
requirements:
  ShellCommandRequirement: {}
inputs: []
outputs:
  where:
    type: File
    outputSource: where/out
  slept:
    type: File
    outputSource: sleeper/out
steps:
  where:
    run:
      class: CommandLineTool
      baseCommand: [sh, -c]
      arguments: ['echo "$SLURM_JOB_NODELIST $SLURM_JOB_PARTITION"; %s']
      inputs: []
      outputs: {out: {type: stdout}}
      stdout: where.txt
    in: []
    out: [out]
  sleeper:
    run:
      class: CommandLineTool
      baseCommand: [sleep, "%s"]
      inputs: []
      outputs: {out: {type: stdout}}
      stdout: slept.txt
    in: []
    out: [out]
"""

CONFIG = """version: v1.0
workflows:
  launch:
    type: cwl
    config: {file: launch.cwl}
    bindings:
      - step: /where
        target: {deployment: slurm, service: compute}
      - step: /sleeper
        target: {deployment: slurm, service: compute}
deployments:
  slurm:
    type: sfq-slurm
    config:
      launch: srun
      maxConcurrentJobs: 2
      services:
        compute: {partition: compute, nodes: "1"}
    workdir: %s
failureManager: {enabled: true, type: sfq-failfast, config: {}}
database: {type: default, config: {connection: %s}}
"""


def run_launch_workflow(tmp_path: Path, where_ends: str, sleep_s: int) -> tuple[int, list]:
    """Run the two-step workflow; its exit code and its jobs' records (both steps')."""
    from streamflow_quantum.cluster.records import last_job_id, read_records

    first = last_job_id()
    (tmp_path / "launch.cwl").write_text(WORKFLOW % (where_ends, sleep_s))
    jobs = tmp_path / "jobs"
    (tmp_path / "streamflow.yml").write_text(CONFIG % (jobs, tmp_path / "sqlite.db"))
    run = subprocess.run(
        [Path(sys.executable).parent / "streamflow", "run", "streamflow.yml", "--outdir", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    deadline = time.monotonic() + 30
    while True:  # Slurm writes a record once the job has ended
        mine = [r for r in read_records(after=first) if r.workdir.startswith(str(jobs))]
        if len(mine) == 2 or time.monotonic() > deadline:
            return run.returncode, mine
        time.sleep(0.5)


@pytest.mark.slurm
def test_srun_steps_are_compute_jobs_named_after_their_step(cluster: Any, tmp_path: Path) -> None:
    code, records = run_launch_workflow(tmp_path, "exit 0", 1)
    assert code == 0
    node, partition = (tmp_path / "out" / "where.txt").read_text().split()
    assert partition == "compute"
    by_name = {r.name: r for r in records}
    assert sorted(by_name) == ["/sleeper/0", "/where/0"]
    assert by_name["/where/0"].nodes == node
    assert all(r.state == "COMPLETED" and r.node_count == 1 for r in records)


@pytest.mark.slurm
def test_a_failed_srun_step_fails_the_run_and_its_running_sibling_is_cancelled(
    cluster: Any, tmp_path: Path
) -> None:
    code, records = run_launch_workflow(tmp_path, "sleep 2; exit 3", 120)
    assert code != 0
    states = {r.name: r.state for r in records}
    assert states == {"/where/0": "FAILED", "/sleeper/0": "CANCELLED"}
