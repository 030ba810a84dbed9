"""`streamflow run` on a noisy fake device with packer v2: packing costs each program no
more fidelity than its budget allows, measured against the same programs run serially."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_tool

pytestmark = pytest.mark.slow

WIDTHS = [3, 4, 5, 6] * 5  # enough programs that the device's bad regions are in reach
SHOTS = 2000


def _ghz(width: int) -> str:
    cx = "".join(f"cx q[{i}],q[{i + 1}];\n" for i in range(width - 1))
    return (
        f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{width}];\ncreg c[{width}];\n'
        f"h q[0];\n{cx}measure q -> c;\n"
    )


def _l1(counts: dict[str, int]) -> float:
    """L1 distance (0..2) between a GHZ state's measured distribution and its ideal one."""
    width = len(next(iter(counts)))
    shots = sum(counts.values())
    ideal = {"0" * width: 0.5, "1" * width: 0.5}
    return sum(abs(counts.get(k, 0) / shots - ideal.get(k, 0.0)) for k in set(counts) | set(ideal))


def _run(repo: Path, root: Path, packing: str, budget: float) -> dict[str, dict]:
    example = root / "example"
    shutil.copytree(repo / "examples" / "ghz-scatter", example)
    names = []
    for i, width in enumerate(WIDTHS):
        names.append(f"ghz{width}-{i}.qasm")
        (example / "circuits" / names[-1]).write_text(_ghz(width))
    inputs = {"circuits": [{"class": "File", "path": f"circuits/{n}"} for n in names]}
    (example / "inputs.yml").write_text(yaml.safe_dump(inputs | {"shots": SHOTS, "seed": 11}))
    config = yaml.safe_load((example / "streamflow.yml").read_text())
    config["deployments"]["qpu"]["config"].update(
        {
            "backend": "aer:fake_sherbrooke",  # clearly bad regions: placement matters
            "vqpus": len(WIDTHS),
            "packing": packing,
            "fidelityBudget": budget,
            "batchWindow": 3.0,
        }
    )
    (example / "streamflow.yml").write_text(yaml.safe_dump(config))
    done = run_tool(
        "streamflow",
        "run",
        example / "streamflow.yml",
        "--outdir",
        root / "out",
        cwd=root,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = [json.loads(f.read_text())["results"][0] for f in (root / "out").glob("*.json")]
    return {r["circuit"]: r for r in results}


@pytest.mark.parametrize("budget", [0.05])
def test_packed_programs_keep_their_fidelity_within_the_budget(
    repo: Path, tmp_path: Path, budget: float
) -> None:
    solo = _run(repo, tmp_path / "serial", "serial", budget)
    packed = _run(repo, tmp_path / "fit", "fit", budget)
    assert solo.keys() == packed.keys() and len(packed) == len(WIDTHS)
    assert len({r["batch"] for r in packed.values()}) < len(packed) / 2, "little was packed"
    # A success probability p bounds L1 by 2 (1 - p); a budget b lets p fall to (1 - b) p_solo,
    # so a program's L1 may grow by up to 2 b, plus shot noise (2000 shots: about 0.04).
    slack = 2 * budget + 0.04
    worse = {n: (_l1(solo[n]["counts"]), _l1(r["counts"])) for n, r in packed.items()}
    assert all(p <= s + slack for s, p in worse.values()), worse
    mean_solo = sum(s for s, _ in worse.values()) / len(worse)
    mean_packed = sum(p for _, p in worse.values()) / len(worse)
    assert mean_packed <= mean_solo + budget, (mean_solo, mean_packed)
