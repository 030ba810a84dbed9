"""`sfq bench vqpu` for real, tiny: two colouring jobs on one modelled QPU."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest

from streamflow_quantum.applications.coloring.mis import mis_qubo
from streamflow_quantum.applications.qubo_qaoa import initial_point, qaoa_circuit
from streamflow_quantum.broker.factory import build_broker
from streamflow_quantum.core.model import Program
from tests.conftest import run_tool

KEYS = {"policy", "n", "k", "total_s", "exclusive_total_s", "qpu_occupancy", "mean_queue_s"}


async def test_concurrent_submissions_all_compile() -> None:
    """The broker prepares each submitted program in its own thread: all must compile."""
    broker = build_broker({"backend": "aer:fake_brisbane", "noise": False, "packing": "serial"})
    circuits = []
    for n in (9, 5, 6, 4) * 8:
        q, _ = mis_qubo(nx.gnp_random_graph(n, 0.5, seed=n))
        circuits.append(qaoa_circuit(q, 1).assign_parameters(initial_point(1)))
    programs = [Program(f"p{i}", c, 256) for i, c in enumerate(circuits)]
    receipts = await broker.submit("me", programs)
    assert all("id" in r for r in receipts), [r["error"] for r in receipts if "error" in r]
    assert all(c.num_qubits == 127 for c in broker.policy.compiled.values())


@pytest.mark.slow
def test_two_jobs_share_the_qpu_faster_than_exclusive(tmp_path: Path) -> None:
    out = tmp_path / "vqpu.json"
    done = run_tool(
        "sfq", "bench", "vqpu", "--json", out, "--n", "2", "--k", "2", "--max-nodes", "1",
        "--maxiter", "2", "--overhead", "0.1", "--exclusive-via", "lock", "--runs", "1",
        timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())["results"]
    assert [(r["policy"], r["n"]) for r in results] == [
        ("exclusive", 2),
        ("vqpu", 2),
        ("vqpu+packing", 2),
    ]
    for row in results:
        assert set(row) >= KEYS
        assert (row["runs"], row["exclusive_via"], row["total_s_sd"]) == (1, "lock", 0.0)
        assert 0 < row["qpu_occupancy"] <= 1
        assert len(row["runtimes_s"]) == 2
        assert row["executions"] >= 2 * 3  # one search node: two evaluations and the final sampling
    rows = {r["policy"]: r for r in results}
    exclusive = rows["exclusive"]
    # One license: the second job waited for the first, so queueing is about t1 / 2.
    assert exclusive["mean_queue_s"] > 0.3 * exclusive["t1_s"]
    assert rows["vqpu"]["total_s"] < exclusive["total_s"]
    assert rows["vqpu+packing"]["total_s"] < exclusive["total_s"]
    assert rows["vqpu"]["qpu_occupancy"] > exclusive["qpu_occupancy"]
