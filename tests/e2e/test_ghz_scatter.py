"""`streamflow run` of the GHZ scatter example: real StreamFlow, the qpu plugin, real Aer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.workflow_runs import run_ghz_example

pytestmark = pytest.mark.slow


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def test_ghz_scatter_on_aer(repo: Path, tmp_path: Path) -> None:
    """The example copied on its own to another directory, run from a third one; its
    counts files are named after their circuits."""
    example = tmp_path / "elsewhere" / "ghz-scatter"
    shutil.copytree(repo / "examples" / "ghz-scatter", example)
    results = run_ghz_example(example / "streamflow.yml", tmp_path)
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        f"ghz_{n}.json" for n in (2, 3, 4, 5, 6, 8)
    ]
    assert [r["circuit"] for r in results] == [f"ghz_{n}.qasm" for n in (2, 3, 4, 5, 6, 8)]
    for r in results:
        width = int(r["circuit"][4:-5])
        counts = r["counts"]
        assert set(counts) <= {"0" * width, "1" * width}, counts
        assert sum(counts.values()) == 1000
        # Half and half within 4 standard deviations of binomial shot noise (sd = sqrt(1000)/2).
        assert abs(counts.get("0" * width, 0) - 500) < 4 * 1000**0.5 / 2
    steps = [(r["times"]["step_started"], r["times"]["step_finished"]) for r in results]
    assert max_overlap(steps) == 2, "vqpus: 2 admits exactly two quantum steps at a time"
