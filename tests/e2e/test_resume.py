"""A qpu deployment with ``stateDir``: a later run of a workflow gets back the counts of
quantum steps that already ran, without using the QPU again."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import psutil
import pytest

from tests.conftest import tool_env
from tests.workflow_runs import run_ghz_example

pytestmark = pytest.mark.slow

#: How a step's command line starts: this venv's interpreter running its `sfq` script.
SFQ = str(Path(sys.executable).with_name("sfq"))


def test_a_rerun_reuses_the_quantum_steps_that_ran(repo: Path, tmp_path: Path) -> None:
    example = tmp_path / "ghz-scatter"
    shutil.copytree(repo / "examples" / "ghz-scatter", example)
    config = example / "streamflow.yml"
    config.write_text(
        config.read_text().replace(
            "      shots: 1000\n", "      shots: 1000\n      stateDir: state\n"
        )
    )
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    first = run_ghz_example(config, first_dir)
    assert (example / "state" / "broker-journal.sqlite3").exists()
    second = run_ghz_example(config, second_dir)
    # The same programs, answered from the journal: same ids, jobs, batches and counts.
    assert [(r["id"], r["job"], r["batch"], r["counts"]) for r in second] == [
        (r["id"], r["job"], r["batch"], r["counts"]) for r in first
    ]
    assert len({r["id"] for r in first}) == len(first) == 6
    # Without the state directory a run samples afresh.
    config.write_text(config.read_text().replace("      stateDir: state\n", ""))
    third_dir = tmp_path / "third"
    third_dir.mkdir()
    third = run_ghz_example(config, third_dir)
    assert not {r["id"] for r in third} & {r["id"] for r in first}


def test_a_killed_run_resumes_its_queued_programs(repo: Path, tmp_path: Path) -> None:
    """SIGKILL `streamflow run` while its programs wait in the embedded broker's queue; the
    next run takes them from the journal: each runs once, under the id it was given."""

    example = tmp_path / "ghz-scatter"
    shutil.copytree(repo / "examples" / "ghz-scatter", example)
    config = example / "streamflow.yml"
    base = config.read_text()
    # A long batch window and room for all six steps at once: they all queue, none runs.
    held = base.replace("vqpus: 2", "vqpus: 6").replace(
        "      shots: 1000\n", "      shots: 1000\n      stateDir: state\n      batchWindow: 600\n"
    )
    config.write_text(held)
    first = tmp_path / "first"
    first.mkdir()
    run = subprocess.Popen(
        ["streamflow", "run", str(config), "--outdir", str(first / "out")],
        cwd=first,
        env=tool_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # Six `sfq sample` steps waiting on their results: every program has been accepted.
    process = psutil.Process(run.pid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        steps = [p for p in process.children(recursive=True) if p.cmdline()[1:3] == [SFQ, "sample"]]
        if len(steps) == 6:
            break
        time.sleep(0.5)
    time.sleep(3)  # their submissions answered (the broker journals before it answers)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(30)
    journal = example / "state" / "broker-journal.sqlite3"
    with closing(sqlite3.connect(journal)) as db:  # closed: the next broker locks it
        accepted = [row[0] for row in db.execute("SELECT id FROM programs WHERE record IS NULL")]
    assert len(accepted) == 6, accepted
    config.write_text(held.replace("batchWindow: 600", "batchWindow: 0.1"))
    second = tmp_path / "second"
    second.mkdir()
    results = run_ghz_example(config, second)
    assert sorted(r["id"] for r in results) == sorted(accepted)
    assert all(sum(r["counts"].values()) == 1000 for r in results)
