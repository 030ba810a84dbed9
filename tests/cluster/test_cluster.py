from __future__ import annotations

import subprocess

import pytest

from streamflow_quantum.cluster.config import MARKER, ClusterSpec, completion_log, slurm_conf
from streamflow_quantum.cluster.lifecycle import up
from streamflow_quantum.cluster.records import sbatch, wait_for_records

pytestmark = pytest.mark.slurm


def test_cluster_is_up_with_idle_nodes_and_licenses(cluster: ClusterSpec) -> None:
    sinfo = subprocess.run(
        ["sinfo", "-h", "-N", "-o", "%N %P %t"], capture_output=True, text=True, check=True
    )
    nodes = {line.split()[0]: line.split()[1:] for line in sinfo.stdout.splitlines()}
    assert {name: part.rstrip("*") for name, (part, _) in nodes.items()} == {
        "c1": "compute",
        "c2": "compute",
        "c3": "compute",
        "q1": "quantum",
    }
    licenses = subprocess.run(
        ["scontrol", "show", "licenses"], capture_output=True, text=True, check=True
    )
    assert f"Total={cluster.qpu_licenses}" in licenses.stdout
    assert slurm_conf().read_text().startswith(MARKER)


def test_up_twice_keeps_the_running_daemons(cluster: ClusterSpec) -> None:
    assert up(cluster).startswith("cluster already up")


def test_license_job_runs_on_the_quantum_partition(cluster: ClusterSpec, tmp_path) -> None:
    out = tmp_path / "job.out"
    job = sbatch(
        [
            "--partition=quantum",
            "--licenses=qpu:1",
            f"--output={out}",
            "--job-name=sfq-test-license",
        ],
        "scontrol show job $SLURM_JOB_ID",
    )
    (record,) = wait_for_records([job], timeout=600)  # behind whatever else is queued
    assert (record.partition, record.nodes, record.node_count, record.state) == (
        "quantum",
        "q1",
        1,
        "COMPLETED",
    )
    assert "Licenses=qpu:1" in out.read_text()
    assert completion_log().exists()
