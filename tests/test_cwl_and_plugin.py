"""Every CWL file validates with cwltool (extensions on, for cwltool:Loop), and StreamFlow sees the plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO, run_tool

CWL_FILES = sorted(
    p.relative_to(REPO) for p in REPO.glob("[!.]*/**/*.cwl") if ".venv" not in p.parts
)


def test_there_are_cwl_files() -> None:
    assert Path("workflows/tools/sample.cwl") in CWL_FILES
    assert Path("examples/ghz-scatter/main.cwl") in CWL_FILES


@pytest.mark.parametrize("path", CWL_FILES, ids=str)
def test_cwl_validates(path: Path) -> None:
    done = run_tool("cwltool", "--enable-ext", "--validate", REPO / path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "is valid CWL" in done.stdout + done.stderr


def test_streamflow_lists_the_plugin_and_the_connector() -> None:
    plugins = run_tool("streamflow", "plugin", "list")
    assert "streamflow_quantum.plugin.QuantumPlugin" in plugins.stdout
    connector = run_tool("streamflow", "ext", "show", "connector", "qpu")
    assert "streamflow_quantum.connector.qpu.QPUConnector" in connector.stdout
