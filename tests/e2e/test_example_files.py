"""The examples are self-contained: each runs from a copy of its own directory."""

from __future__ import annotations

from pathlib import Path

import yaml


def test_the_ghz_example_ships_the_sample_tool_unchanged(repo: Path) -> None:
    """examples/ghz-scatter/sample.cwl is workflows/tools/sample.cwl, copied so the example
    needs nothing outside its directory."""
    example = repo / "examples" / "ghz-scatter"
    assert (example / "sample.cwl").read_text() == (
        repo / "workflows" / "tools" / "sample.cwl"
    ).read_text(), "copy workflows/tools/sample.cwl to examples/ghz-scatter/"


def test_the_examples_refer_to_nothing_outside_their_directory(repo: Path) -> None:
    for example in (repo / "examples" / "ghz-scatter",):
        main = yaml.safe_load((example / "main.cwl").read_text())
        for step in main["steps"].values():
            target = (example / step["run"]).resolve()
            assert target.is_relative_to(example), f"{example.name}: {step['run']}"
        inputs = yaml.safe_load((example / "inputs.yml").read_text())
        for circuit in inputs["circuits"]:
            assert (example / circuit["path"]).resolve().is_relative_to(example), circuit
