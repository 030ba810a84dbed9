"""A third-party backend and packing policy, registered as an installed package would be.

``examples/extending`` ships both; its entry points are declared in a ``.dist-info``
written here, and the package and that folder are put on ``PYTHONPATH``, which is what
``pip install`` leaves behind.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_tool
from tests.workflow_runs import run_ghz_example

EXAMPLE = REPO / "examples" / "extending"
GHZ = REPO / "examples" / "ghz-scatter"
WIDTHS = (2, 3, 4, 5)
SHOTS = 1000


@pytest.fixture
def pythonpath(tmp_path: Path) -> str:
    """A ``PYTHONPATH`` on which the example package is installed, entry points included."""
    site = tmp_path / "site"
    dist = site / "sfq_example-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sfq-example\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(
        "[streamflow_quantum.backends]\n"
        "example = sfq_example.backend:ExampleBackend\n\n"
        "[streamflow_quantum.packing]\n"
        "pairs = sfq_example.policy:PairsPolicy\n"
    )
    return os.pathsep.join([str(site), str(EXAMPLE)])


def test_the_qpu_schema_shows_the_extensions(pythonpath: str) -> None:
    shown = run_tool("streamflow", "ext", "show", "connector", "qpu", PYTHONPATH=pythonpath)
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert "example: Example backend options" in shown.stdout
    assert "qubits: integer (default: 12)" in shown.stdout
    schema = run_tool(
        "python",
        "-c",
        "from streamflow_quantum.connector.qpu import QPUConnector; print(QPUConnector.get_schema())",
        PYTHONPATH=pythonpath,
    )
    assert schema.returncode == 0, schema.stderr[-3000:]
    assert "pairs" in json.loads(schema.stdout)["properties"]["packing"]["enum"]


@pytest.mark.slow
def test_streamflow_runs_on_the_example_backend_and_policy(
    pythonpath: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = {
        "circuits": [
            {"class": "File", "path": str(GHZ / "circuits" / f"ghz_{n}.qasm")} for n in WIDTHS
        ],
        "shots": SHOTS,
        "seed": 7,
    }
    (tmp_path / "inputs.yml").write_text(yaml.safe_dump(inputs))
    config = {
        "version": "v1.0",
        "workflows": {
            "ghz": {
                "type": "cwl",
                "config": {"file": str(GHZ / "main.cwl"), "settings": str(tmp_path / "inputs.yml")},
                "bindings": [{"step": "/sample", "target": {"deployment": "qpu"}}],
            }
        },
        "deployments": {
            "qpu": {
                "type": "qpu",
                "config": {
                    "backend": "example",
                    "example": {"qubits": 16},
                    "packing": "pairs",
                    "vqpus": len(WIDTHS),
                    # Long enough for all steps to queue: the policy, not the window, splits them.
                    "batchWindow": 3,
                },
            }
        },
        "database": {"type": "default", "config": {"connection": str(tmp_path / "sqlite.db")}},
    }
    (tmp_path / "streamflow.yml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("PYTHONPATH", pythonpath)
    results = run_ghz_example(tmp_path / "streamflow.yml", tmp_path)

    assert [r["circuit"] for r in results] == [f"ghz_{n}.qasm" for n in WIDTHS]
    for n, r in zip(WIDTHS, results, strict=True):
        assert r["backend"] == "example"
        assert set(r["counts"]) <= {"0" * n, "1" * n}, r["counts"]
        assert sum(r["counts"].values()) == SHOTS
        assert abs(r["counts"].get("0" * n, 0) - SHOTS / 2) < 4 * SHOTS**0.5 / 2
        assert max(r["placement"]) < 16, "placed on the example device"
    batches: dict[str, list[list[int]]] = defaultdict(list)
    for r in results:
        batches[r["batch"]].append(r["placement"])
    assert sorted(map(len, batches.values())) == [2, 2], "pairs: two programs per batch"
    for placements in batches.values():
        assert not set(placements[0]) & set(placements[1]), "side by side on disjoint qubits"
