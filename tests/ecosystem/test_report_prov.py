"""`streamflow report`, `sfq report`, `streamflow prov`/`sfq prov` and the batch log lines on
one real `streamflow run` of the GHZ example, with canary secrets in its environment."""

from __future__ import annotations

import json
import re
import secrets
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamflow_quantum.cli.report import batch_bars, default_database, find_results
from tests.conftest import REPO, run_tool

pytestmark = pytest.mark.slow

NAME = "ghz-ecosystem"
TOKEN = f"canary-ibm-{secrets.token_hex(8)}"
SECRET = f"canary-secret-{secrets.token_hex(8)}"


class Run:
    def __init__(self, root: Path, config: Path, log: str) -> None:
        self.root, self.config, self.log = root, config, log
        self.out = root / "out"
        self.records = [json.loads(f.read_text())["results"][0] for f in self.out.glob("*.json")]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("ghz")
    example = REPO / "examples" / "ghz-scatter"
    config = yaml.safe_load((example / "streamflow.yml").read_text())
    config["workflows"]["ghz"]["config"] = {
        "file": str(example / "main.cwl"),
        "settings": str(example / "inputs.yml"),
    }
    config["database"] = {"type": "default", "config": {"connection": str(root / "sqlite.db")}}
    (root / "streamflow.yml").write_text(yaml.safe_dump(config))
    done = run_tool(
        "streamflow", "run", root / "streamflow.yml", "--outdir", root / "out", "--name", NAME,
        cwd=root, timeout=300, QISKIT_IBM_TOKEN=TOKEN, SFQ_BROKER_SECRET=SECRET,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return Run(root, root / "streamflow.yml", done.stdout + done.stderr)


def test_batches_are_logged_in_streamflows_output(run: Run) -> None:
    started = re.findall(
        r"INFO +QPU batch (b-\w+) on aer: (\d+) programs? \(([^)]*)\), (\d+) of 30 qubits, "
        r"1000 shots, modelled device time [\d.e+-]+ s; (\d+) programs? queued behind it",
        run.log,
    )
    done = re.findall(r"INFO +QPU batch (b-\w+) done in [\d.]+ s as backend job (aer-\w+)", run.log)
    assert sum(int(n) for _, n, *_ in started) == 6
    assert {b for b, *_ in started} == {b for b, _ in done} == {r["batch"] for r in run.records}
    assert {j for _, j in done} == {r["job"] for r in run.records}


def test_streamflow_report_works(run: Run) -> None:
    (run.root / "report").mkdir()
    done = run_tool(
        "streamflow", "report", NAME, "-f", run.config, "--outdir", run.root / "report",
        "--format", "html", "json", cwd=run.root, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (run.root / "report" / "report.html").stat().st_size > 1000
    figure = json.loads((run.root / "report" / "report.json").read_text())
    (steps,) = figure["data"]  # one trace: the quantum steps, one bar per job
    assert steps["name"] == "/sample" and len(steps["y"]) == 6


def test_sfq_report_draws_each_backend_job(run: Run) -> None:
    bars = batch_bars(find_results([NAME], default_database(str(run.config))))
    batches = {r["batch"] for r in run.records}
    assert [b["batch"] for b in bars] == sorted(batches, key=lambda b: _start(run.records, b))
    assert sum(b["programs"] for b in bars) == 6
    assert sorted(c for b in bars for c in b["circuits"]) == sorted(
        r["circuit"] for r in run.records
    )
    assert all(b["device_s"] == 0 for b in bars)  # ideal Aer: its Target has no durations
    assert all(b["start"] <= b["end"] for b in bars)
    # Read from the steps' own directories, found through StreamFlow's database.
    assert all(not step.startswith(str(run.out)) for b in bars for step in b["steps"])
    for output in ("qpu.png", "qpu.html"):
        done = run_tool(
            "sfq", "report", NAME, "-f", run.config, "-o", run.root / output, cwd=run.root
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"{len(batches)} backend jobs, 6 programs")
        assert (run.root / output).stat().st_size > 1000
    assert (run.root / "qpu.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    done = run_tool("sfq", "report", run.out, "-o", run.root / "out.json", cwd=run.root)
    assert done.returncode == 0, done.stderr
    assert json.loads((run.root / "out.json").read_text())["batches"] == json.loads(
        json.dumps(batch_bars(find_results([str(run.out)])))
    )


def _start(records: list[dict[str, Any]], batch: str) -> float:
    return min(r["times"]["started"] for r in records if r["batch"] == batch)


def test_sfq_prov_links_outputs_to_quantum_jobs(run: Run) -> None:
    from rocrate.rocrate import ROCrate

    done = run_tool(
        "sfq", "prov", NAME, "-f", run.config, "--outdir", run.root / "prov", cwd=run.root,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    path = run.root / "prov" / f"{NAME}.crate.zip"
    crate = ROCrate(str(path))
    actions = {
        e["name"].removeprefix("QPU run of "): e
        for e in crate.get_entities()
        if e.type == "CreateAction" and e.id.startswith("#sfq-")
    }
    assert len(actions) == 6
    for record in run.records:
        action = actions[record["circuit"]]
        values = {v["propertyID"]: v for v in action["additionalProperty"]}
        assert values["backendJob"]["value"] == [record["job"]]
        assert values["batch"]["value"] == [record["batch"]]
        assert values["physicalQubits"]["value"] == record["placement"]
        assert values["shots"]["value"] == 1000
        assert values["backend"]["value"] == "aer" == action["instrument"]["name"]
        assert values["calibration"]["value"] is None
        assert "ideal simulator" in values["calibration"]["description"]
        output = action["result"]  # the step's output file, as StreamFlow put it in the crate
        assert output.type == "File" and output["alternateName"].endswith(".json")
        assert {v["propertyID"] for v in output["additionalProperty"]} >= set(values)
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            data = archive.read(member)
            assert TOKEN.encode() not in data, member
            assert SECRET.encode() not in data, member
