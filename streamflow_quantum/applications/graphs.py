"""Graph inputs shared by the graph applications (QAOA MaxCut, colouring)."""

from __future__ import annotations

from pathlib import Path

import networkx as nx


def load_edge_list(path: str | Path) -> nx.Graph:
    """An undirected graph from a file of ``u v`` lines (integer vertices, ``#`` comments)."""
    try:
        graph = nx.read_edgelist(path, nodetype=int, data=False)
    except (TypeError, ValueError, IndexError) as error:
        raise ValueError(
            f"{path}: expected one edge per line as 'u v' with integer vertices ({error})"
        ) from error
    except FileNotFoundError as error:
        raise ValueError(f"{path}: no such graph file") from error
    if graph.number_of_edges() == 0:
        raise ValueError(f"{path}: the graph has no edges; give at least one 'u v' line")
    graph.remove_edges_from(nx.selfloop_edges(graph))
    return graph


def write_edge_list(graph: nx.Graph, path: str | Path) -> None:
    nx.write_edgelist(graph, path, data=False)
