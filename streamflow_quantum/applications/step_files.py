"""What the graph applications' step CLIs share: edge lists, JSON files, running a step."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamflow_quantum.broker.client import SamplingError
from streamflow_quantum.core.errors import ProgramError

if TYPE_CHECKING:
    import networkx as nx


def load_edge_list(path: str | Path) -> nx.Graph:
    """An undirected graph from a file of ``u v`` lines (integer vertices, ``#`` comments)."""
    import networkx as nx

    try:
        graph = nx.read_edgelist(path, nodetype=int, data=False)
    except (TypeError, ValueError, IndexError) as error:
        raise ValueError(
            f"{path}: expected one edge per line as 'u v' with integer vertices ({error})"
        ) from None
    except FileNotFoundError:
        raise ValueError(f"{path}: no such graph file") from None
    graph.remove_edges_from(list(nx.selfloop_edges(graph)))
    if graph.number_of_edges() == 0:
        raise ValueError(f"{path}: the graph has no edges; give at least one 'u v' line")
    return graph


def read_json(path: str | Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(data, indent=1) + "\n")


def run_step(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    """Run the step ``argv`` chooses (its ``run`` default); errors a user can fix
    print one line and exit 2."""
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (ValueError, KeyError, ProgramError, SamplingError) as error:
        print(f"{parser.prog} {args.step}: {error}", file=sys.stderr)
        return 2
    return 0
