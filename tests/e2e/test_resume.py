"""A qpu deployment with ``stateDir``: a later run of a workflow gets back the counts of
quantum steps that already ran, without using the QPU again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.workflow_runs import run_ghz_example

pytestmark = pytest.mark.slow


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
