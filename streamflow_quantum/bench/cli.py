"""`sfq bench NAME --json FILE [--quick]`: each benchmark is a module with ``main(argv)``."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "packer": "streamflow_quantum.bench.packer",
    "workflow": "streamflow_quantum.bench.workflow",
    "vqpu": "streamflow_quantum.bench.vqpu",
    "overhead": "streamflow_quantum.bench.overhead",
    "load": "streamflow_quantum.bench.load",
    "fairness": "streamflow_quantum.bench.fairness",
    "multi-qpu": "streamflow_quantum.bench.multi_qpu",
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHMARKS:
        print(f"usage: sfq bench {{{','.join(BENCHMARKS)}}} --json FILE [--quick]", file=sys.stderr)
        return 2
    return importlib.import_module(BENCHMARKS[argv[0]]).main(argv[1:])
