"""The `sfq` command.

Subcommands are imported lazily: a quantum step runs `sfq sample` once per job, and
importing every part of the suite (Qiskit, Aer, scikit-learn) would cost seconds.
Each subcommand module exposes ``main(argv: list[str]) -> int``.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "sample": ("streamflow_quantum.cli.sample", "sample circuits on a QPU (broker or direct)"),
    "estimate": (
        "streamflow_quantum.cli.estimate",
        "estimate Pauli observables, cutting wide circuits",
    ),
    "serve": ("streamflow_quantum.cli.serve", "run a standalone vQPU broker"),
    "status": ("streamflow_quantum.cli.status", "show a broker's queue and running batch"),
    "users": (
        "streamflow_quantum.cli.users",
        "add, list or remove a broker's users (tokens, priorities, quotas)",
    ),
    "plan": (
        "streamflow_quantum.cli.plan",
        "size a shared QPU platform by simulation: waits, drops, utilisation",
    ),
    "report": (
        "streamflow_quantum.cli.report",
        "draw the QPU's backend jobs (batches) of a run: PNG, HTML or JSON",
    ),
    "prov": (
        "streamflow_quantum.cli.prov",
        "write a run's RO-Crate (streamflow prov) with its quantum jobs",
    ),
    "cluster": (
        "streamflow_quantum.cluster.cli",
        "bring the local emulated Slurm cluster up or down",
    ),
    "bench": (
        "streamflow_quantum.bench.cli",
        "run a benchmark: packer, workflow, vqpu, overhead, load, fairness or multi-qpu",
    ),
    "clustering": (
        "streamflow_quantum.applications.clustering.cli",
        "steps of the clustering-aggregation workflow",
    ),
    "coloring": (
        "streamflow_quantum.applications.coloring.cli",
        "steps of the graph-colouring workflow",
    ),
    "qaoa": ("streamflow_quantum.applications.qaoa.cli", "steps of the QAOA MaxCut workflow"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: sfq COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from streamflow_quantum import __version__

        print(__version__)
        return 0
    if argv[0] not in COMMANDS:
        print(f"sfq: unknown command {argv[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
