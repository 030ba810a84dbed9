"""What produced a benchmark's JSON: the commit, the command line, when, the interpreter and
the versions of the packages that decide its figures."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
#: Packages whose versions change figures: fake devices' calibrations, simulation, solvers.
PACKAGES = (
    "streamflow",
    "cwltool",
    "qiskit",
    "qiskit-aer",
    "qiskit-ibm-runtime",
    "numpy",
    "scipy",
    "rustworkx",
    "networkx",
)


def commit() -> str:
    """``git rev-parse HEAD`` of the checkout, with ``+dirty`` when files differ from it."""
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def provenance(
    benchmark: str, argv: Sequence[str], command: Sequence[str] = ("sfq", "bench")
) -> dict[str, Any]:
    """What produced a JSON: the commit, the command line (``command benchmark argv``),
    when, the interpreter and ``PACKAGES``' versions."""
    return {
        "commit": commit(),
        "command": shlex.join([*command, benchmark, *argv]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "packages": {name: metadata.version(name) for name in PACKAGES},
    }
