"""`sfq bench overhead`: what the broker adds to a quantum step, against the backend's own time.

A quantum step is one `sfq sample` process. Through an embedded broker (ideal Aer;
serial, and space-time with its default 0.1 s batch window) its wall time is split into the backend's job time (the broker's
started/finished stamps) and everything else: process start, HTTP, parsing,
transpiling and queueing. The same circuit sampled with no broker (the step loads
Qiskit and Aer itself) is the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from streamflow_quantum.bench.harness import BrokerThread
from streamflow_quantum.bench.provenance import provenance

#: Shots per quantum step, and the broker's backend (ideal Aer), both recorded in the JSON.
SHOTS = 1000
BACKEND = "aer"


def direct_steps(steps: int) -> int:
    """Steps run with no broker, the baseline: a fifth of the brokered ones, at least 2."""
    return max(2, steps // 5)


GHZ5 = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[5];\ncreg c[5];\nh q[0];\n'
    + "".join(f"cx q[{i}],q[{i + 1}];\n" for i in range(4))
    + "measure q -> c;\n"
)


def _step(circuit: str, env: dict[str, str]) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        begin = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "streamflow_quantum.cli.main",
                "sample",
                "--shots",
                str(SHOTS),
                "--output",
                out,
                circuit,
            ],
            env=env,
            check=True,
        )
        wall = time.perf_counter() - begin
        with open(out) as f:
            return wall, json.load(f)["results"][0]


def measure(steps: int, packing: str) -> dict[str, float | str]:
    env_base = {k: v for k, v in os.environ.items() if not k.startswith("SFQ_")}
    brokered, backend, direct = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        circuit = os.path.join(tmp, "ghz5.qasm")
        Path(circuit).write_text(GHZ5)
        with BrokerThread({"backend": BACKEND, "packing": packing}) as broker:
            broker_env = env_base | broker.env
            _step(circuit, broker_env)  # warm the broker's pass manager
            for _ in range(steps):
                wall, result = _step(circuit, broker_env)
                brokered.append(wall)
                backend.append(result["times"]["finished"] - result["times"]["started"])
        for _ in range(direct_steps(steps)):
            direct.append(_step(circuit, env_base)[0])
    return figures(packing, brokered, backend, direct)


def figures(
    packing: str, brokered: list[float], backend: list[float], direct: list[float]
) -> dict[str, float | str]:
    """The medians of the step walls (brokered, no broker) and of the backend's job times."""
    step, job = statistics.median(brokered), statistics.median(backend)
    return {
        "packing": packing,
        "steps": len(brokered),
        "step_wall_s": step,
        "backend_job_s": job,
        "overhead_s": step - job,
        "direct_step_wall_s": statistics.median(direct),
        "direct_over_brokered": statistics.median(direct) / step,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sfq bench overhead", description=__doc__)
    parser.add_argument("--json", required=True, help="where to write the figures")
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    args = parser.parse_args(argv)
    meta = provenance("overhead", argv)
    steps, packings = 5 if args.quick else 20, ("serial", "space-time")
    results = [measure(steps, packing) for packing in packings]
    settings = {
        "steps": steps,
        "packings": list(packings),
        "circuit": "GHZ-5",
        "shots": SHOTS,
        "backend": f"{BACKEND} (ideal)",
        "direct_steps": direct_steps(steps),
    }
    with open(args.json, "w") as f:
        json.dump(meta | {"settings": settings, "results": results}, f, indent=2)
    print(f"quantum steps through an embedded broker (median; GHZ-5, {SHOTS} shots, ideal Aer):")
    print(f"{'packing':<11} {'step wall':>10} {'backend':>8} {'round trip':>11} {'no broker':>10}")
    for r in results:
        print(
            f"{r['packing']:<11} {r['step_wall_s']:>9.3f}s {r['backend_job_s']:>7.3f}s "
            f"{r['overhead_s']:>10.3f}s {r['direct_step_wall_s']:>9.3f}s"
        )
    print("target: round trip <= 0.3 s per quantum step")
    return 0
