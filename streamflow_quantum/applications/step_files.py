"""Files the graph applications' workflow steps read and write: edge lists and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx


def load_edge_list(path: str | Path) -> nx.Graph:
    """An undirected graph from a file of ``u v`` lines (integer vertices, ``#`` comments)."""
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
