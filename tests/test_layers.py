"""The package's layers: no module imports a package above its own, and packages form no cycle.

Every import counts: at module level, inside functions, under ``TYPE_CHECKING``, and a
string that names a module of the package (a registry's ``"module:Class"``, the `sfq`
dispatch table, ``importlib.import_module``), since each becomes an import when used.
A module named after ``-m`` in an argument list is not one: it runs in a new process.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import networkx as nx

from tests.conftest import REPO

PACKAGE = "streamflow_quantum"
SOURCE = REPO / PACKAGE

#: Each top-level package (or module) of streamflow_quantum, bottom first. A package may
#: import its own rank and below; the root ``__init__`` (the version) imports nothing.
RANKS: dict[str, int] = {
    "": -1,
    # Data model, errors, settings, registries, circuit helpers: Qiskit and StreamFlow only.
    "core": 0,
    "backends": 1,
    "packing": 2,
    # The order queued programs are offered to the packer, by user (fifo, priority, fair share).
    "queueing": 2,
    "broker": 3,
    # Users of the broker, and the local Slurm cluster (which imports nothing of ours).
    "connector": 4,
    "cluster": 4,
    "applications": 4,
    # Benchmarks drive applications, the broker and the cluster.
    "bench": 5,
    # Capacity planning: a discrete-event model of arrivals, workers, QPUs and the policies.
    "planning": 5,
    # Entry points: `sfq` dispatches to every command (bench included); the StreamFlow plugin.
    "cli": 6,
    "plugin": 6,
}

MODULE_STRING = re.compile(rf"^{PACKAGE}(\.\w+)+(:\w+)?$")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top(module: str) -> str:
    """The top-level package of a module of ours: ``core`` for ``streamflow_quantum.core.model``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def is_ours(name: str) -> bool:
    """Whether ``name`` is a top-level package or module of ours."""
    return (SOURCE / name / "__init__.py").exists() or (SOURCE / f"{name}.py").exists()


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """Each module of ours that ``path`` imports, with the line."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    subprocess_args = {
        id(node.elts[i + 1])
        for node in ast.walk(tree)
        if isinstance(node, ast.List | ast.Tuple)
        for i, elt in enumerate(node.elts[:-1])
        if isinstance(elt, ast.Constant) and elt.value == "-m"
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # `from streamflow_quantum import cli` imports the subpackage, not the root.
            names = [
                f"{module}.{alias.name}" if module == PACKAGE and is_ours(alias.name) else module
                for alias in node.names
            ]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and MODULE_STRING.match(node.value)
            and id(node) not in subprocess_args
        ):
            names = [node.value.partition(":")[0]]
        else:
            continue
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                yield node.lineno, name


def edges() -> list[tuple[str, str, str]]:
    """(importing package, imported package, "file:line: module") for imports across packages."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        source = top(module_name(path))
        for line, name in imports(path):
            target = top(name)
            if target != source:
                found.append((source, target, f"{path.relative_to(REPO)}:{line}: {name}"))
    return found


def test_every_package_has_a_rank() -> None:
    packages = {top(module_name(path)) for path in SOURCE.rglob("*.py")}
    assert packages == set(RANKS), "place each new package in RANKS"


def test_the_walker_sees_lazy_and_type_checking_imports() -> None:
    seen = {(source, target) for source, target, _ in edges()}
    assert ("packing", "backends") in seen  # under TYPE_CHECKING in packing/base.py
    assert ("cli", "bench") in seen  # the `sfq` dispatch table
    assert ("bench", "cli") not in seen  # `python -m streamflow_quantum.cli.main` runs a process


def test_no_upward_imports() -> None:
    upward = [
        f"{where} ({source}, rank {RANKS[source]}, imports {target}, rank {RANKS[target]})"
        for source, target, where in edges()
        if RANKS[target] > RANKS[source]
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_cycles_between_packages() -> None:
    graph = nx.DiGraph((source, target) for source, target, _ in edges())
    assert not list(nx.simple_cycles(graph))
