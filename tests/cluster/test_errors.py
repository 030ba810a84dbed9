"""The one-line errors of `sfq cluster up`, checked without touching the running cluster."""

from __future__ import annotations

import os
import socket

import pytest

from streamflow_quantum.cluster import lifecycle
from streamflow_quantum.cluster.cli import main
from streamflow_quantum.cluster.config import ClusterSpec
from streamflow_quantum.cluster.lifecycle import ClusterError


def test_taken_port_names_the_port_and_the_option() -> None:
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        spec = ClusterSpec(compute_nodes=1, base_port=port - 2)  # q1 gets the taken port
        with pytest.raises(
            ClusterError, match=rf"port {port} \(for q1\) is in use: free it or pass --base-port"
        ):
            lifecycle._check_ports(spec)


def test_foreign_slurm_conf_is_never_overwritten(monkeypatch, tmp_path) -> None:
    foreign = tmp_path / "slurm.conf"
    foreign.write_text("ClusterName=theirs\n")
    monkeypatch.setenv("SLURM_CONF", str(foreign))
    monkeypatch.setenv("SFQ_CLUSTER_DIR", str(tmp_path))
    with pytest.raises(ClusterError, match="was not written by `sfq cluster up`: move it away"):
        lifecycle._write_conf(ClusterSpec())
    assert foreign.read_text() == "ClusterName=theirs\n"


def test_without_root_the_cli_says_to_use_sudo(monkeypatch, capsys) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main(["up"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sfq cluster up: sfq cluster needs root") and "sudo" in err
    assert err.count("\n") == 1
