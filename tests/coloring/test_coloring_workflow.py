"""The BBQ-MIS colouring workflow end to end on its default 9-vertex graph."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from streamflow_quantum.applications.step_files import load_edge_list
from tests.coloring.test_coloring_search import assert_quantum_evidence
from tests.conftest import REPO
from tests.workflow_runs import run_cwltool, run_streamflow

pytestmark = pytest.mark.slow

GRAPH = REPO / "workflows" / "coloring" / "graph.txt"


@pytest.mark.parametrize("runner", [run_cwltool, run_streamflow], ids=["cwltool", "streamflow"])
def test_coloring_workflow_colours_the_default_graph(
    runner: Callable[..., Path], tmp_path: Path
) -> None:
    inputs = {"graph": {"class": "File", "path": str(GRAPH)}, "maxiter": 4, "shots": 128}
    result = json.loads((runner("coloring", tmp_path, inputs) / "coloring.json").read_text())
    graph = load_edge_list(GRAPH)
    colors = {int(v): c for v, c in result["colors"].items()}
    assert colors.keys() == set(graph)
    assert all(colors[u] != colors[v] for u, v in graph.edges())
    assert result["num_colors"] == len(set(colors.values())) == 5  # its chromatic number
    assert result["lower_bound"] == 5 and result["gap"] == 0 and result["optimal"]  # a 5-clique
    assert 1 <= result["nodes_explored"] == len(result["explored"]) <= 20
    # No greedy start by default: each colour class is a QAOA-sampled set, and
    # each explored node's sampling beats uniform noise.
    assert_quantum_evidence(result)


def test_a_graph_solved_by_its_bounds_skips_the_search(tmp_path: Path) -> None:
    petersen = tmp_path / "petersen.txt"
    petersen.write_text(
        "".join(f"{i} {(i + 1) % 5}\n{i} {i + 5}\n{i + 5} {(i + 2) % 5 + 5}\n" for i in range(5))
    )
    result = json.loads(
        (
            run_cwltool(
                "coloring",
                tmp_path,
                {"graph": {"class": "File", "path": str(petersen)}, "greedy": True},
            )
            / "coloring.json"
        ).read_text()
    )
    assert result["num_colors"] == result["lower_bound"] == 3
    assert result["nodes_explored"] == 0
    assert result["sampled_classes"] == 0  # the greedy colouring's classes


@pytest.mark.slurm
def test_on_slurm_each_classical_step_is_its_own_compute_job(tmp_path: Path) -> None:
    from streamflow_quantum.cluster.records import last_job_id, read_records

    first = last_job_id()
    inputs = {"graph": {"class": "File", "path": str(GRAPH)}, "maxiter": 3, "shots": 128}
    out = run_streamflow("coloring", tmp_path, inputs, "streamflow-slurm.yml")
    result = json.loads((out / "coloring.json").read_text())
    jobs = [r for r in read_records(after=first) if r.workdir.startswith(str(tmp_path / "jobs"))]
    # init, then one branch per layer of at most `width` (4) MIS steps; the MIS steps
    # themselves run on the qpu, not as Slurm jobs.
    layers = -(-result["nodes_explored"] // 4)
    assert len(jobs) >= 1 + layers >= 2
    assert all(
        job.partition == "compute" and job.node_count == 1 and job.state == "COMPLETED"
        for job in jobs
    )
