"""Where qVMs may run on a device: a grid of isolated basic regions (cells).

Three ways to find the grid, chosen from the Target's coupling map alone:

* ``hyperq-grid`` (the 127-qubit Eagle heavy-hex family): HyperQ's 3x3 grid of
  7-qubit I-shaped regions (local edges 0-1-2, 1-3-5, 4-5-6), with two connecting
  qubits per horizontal link and three per vertical link. It is found by embedding
  that 85-qubit graph into the coupling graph (VF2), so nothing is device-specific.
* ``isolated-lines`` (any other device with a coupling map): a greedy scan that
  grows paths of ``k`` qubits from the lowest free qubit, never next to a qubit of
  an earlier path, so no coupling edge joins two regions. ``k`` is 7, or smaller on
  small devices (the one that covers most qubits with at least two regions).
* ``all-to-all`` (a simulator without a coupling map, e.g. ideal ``AerSimulator()``):
  consecutive blocks of qubits; any pair couples and there is no crosstalk to avoid.

Cells have two halves (local qubits 0-2 and 4-6 of a 7-qubit region, split by the
unused qubit 3) for programs of up to 3 qubits.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import networkx as nx
from networkx.algorithms import isomorphism

if TYPE_CHECKING:
    from qiskit.transpiler import Target

#: HyperQ's basic qVM for the Eagle family: an I shape (the 7-qubit Falcon).
I_SHAPE_EDGES = ((0, 1), (1, 2), (1, 3), (3, 5), (4, 5), (5, 6))
HALVES = ((0, 1, 2), (4, 5, 6))
HYPERQ_GRID = (3, 3)
EAGLE_QUBITS = 127
LINE_LENGTH = 7
BLOCK_SIZE = 4

Cell = tuple[int, int]


@dataclass(frozen=True)
class Layout:
    """A grid of basic regions on a device, with the qubits that link neighbours."""

    kind: str
    num_qubits: int
    #: Device coupling graph (undirected); no edges for all-to-all devices.
    graph: nx.Graph = field(repr=False)
    #: Physical qubits of each cell, by local index.
    cells: dict[Cell, tuple[int, ...]]
    #: Qubits linking cell (r, c) to (r, c + 1), and (r, c) to (r + 1, c).
    hlinks: dict[Cell, tuple[int, ...]] = field(default_factory=dict)
    vlinks: dict[Cell, tuple[int, ...]] = field(default_factory=dict)
    #: Local indices of each half of a cell; empty when cells cannot be split.
    halves: tuple[tuple[int, ...], ...] = ()

    @property
    def all_to_all(self) -> bool:
        return self.kind == "all-to-all"

    @cached_property
    def rows(self) -> int:
        return 1 + max(r for r, _ in self.cells)

    @cached_property
    def cols(self) -> int:
        return 1 + max(c for _, c in self.cells)

    def neighbours(self, qubits: set[int] | frozenset[int]) -> set[int]:
        """The qubits plus every qubit one coupling edge away."""
        around = set(qubits)
        for q in qubits:
            around.update(self.graph.neighbors(q))
        return around


def coupling_graph(target: Target) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(range(target.num_qubits))
    cmap = target.build_coupling_map()
    if cmap is not None:
        graph.add_edges_from(cmap.get_edges())
    return graph


def hyperq_motif(rows: int, cols: int) -> nx.Graph:
    """HyperQ's rows x cols qVM graph: I cells, 2-qubit horizontal and 3-qubit vertical links.

    A vertical link leaves the left end of the upper cell's bottom line; beyond the
    first column that qubit is the horizontal link's bottom qubit (and likewise
    below), which gives HyperQ's sizes 7, 16, 17, 25, 27, 36, 55, 56, 85.
    """
    motif = nx.Graph()
    for r in range(rows):
        for c in range(cols):
            motif.add_edges_from((("cell", r, c, a), ("cell", r, c, b)) for a, b in I_SHAPE_EDGES)
            if c + 1 < cols:
                top, bottom = ("htop", r, c), ("hbot", r, c)
                motif.add_edges_from(
                    [
                        (("cell", r, c, 2), top),
                        (top, ("cell", r, c + 1, 0)),
                        (("cell", r, c, 6), bottom),
                        (bottom, ("cell", r, c + 1, 4)),
                    ]
                )
            if r + 1 < rows:
                upper = ("hbot", r, c - 1) if c else ("vup", r, c)
                lower = ("htop", r + 1, c - 1) if c else ("vlow", r, c)
                bridge = ("vmid", r, c)
                motif.add_edges_from(
                    [
                        (("cell", r, c, 4), upper),
                        (upper, bridge),
                        (bridge, lower),
                        (lower, ("cell", r + 1, c, 0)),
                    ]
                )
    return motif


def _hyperq_grid(graph: nx.Graph, num_qubits: int) -> Layout | None:
    rows, cols = HYPERQ_GRID
    motif = hyperq_motif(rows, cols)
    matcher = isomorphism.GraphMatcher(graph, motif)
    mapping = next(matcher.subgraph_monomorphisms_iter(), None)
    if mapping is None:
        return None
    phys = {node: q for q, node in mapping.items()}
    cells = {
        (r, c): tuple(phys["cell", r, c, i] for i in range(7))
        for r in range(rows)
        for c in range(cols)
    }
    hlinks: dict[Cell, tuple[int, ...]] = {
        (r, c): (phys["htop", r, c], phys["hbot", r, c])
        for r in range(rows)
        for c in range(cols - 1)
    }
    vlinks = {
        (r, c): tuple(
            phys[node]
            for node in (
                ("hbot", r, c - 1) if c else ("vup", r, c),
                ("vmid", r, c),
                ("htop", r + 1, c - 1) if c else ("vlow", r, c),
            )
        )
        for r in range(rows - 1)
        for c in range(cols)
    }
    return Layout("hyperq-grid", num_qubits, graph, cells, hlinks, vlinks, HALVES)


def _grow_path(graph: nx.Graph, start: int, length: int, banned: set[int]) -> list[int] | None:
    """A simple path of ``length`` qubits from ``start`` avoiding ``banned`` (DFS, lowest first)."""
    path = [start]
    choices = [sorted(n for n in graph.neighbors(start) if n not in banned)]
    while path:
        if len(path) == length:
            return path
        if not choices[-1]:
            path.pop()
            choices.pop()
            continue
        nxt = choices[-1].pop(0)
        if nxt in path:
            continue
        path.append(nxt)
        choices.append(sorted(n for n in graph.neighbors(nxt) if n not in banned and n not in path))
    return None


def _isolated_lines(graph: nx.Graph, length: int) -> list[tuple[int, ...]]:
    lines: list[tuple[int, ...]] = []
    banned: set[int] = set()
    for start in sorted(graph.nodes):
        if start in banned:
            continue
        path = _grow_path(graph, start, length, banned)
        if path is None:
            continue
        lines.append(tuple(path))
        banned.update(path)
        for q in path:
            banned.update(graph.neighbors(q))
    return lines


def _lines_layout(graph: nx.Graph, num_qubits: int) -> Layout:
    best: list[tuple[int, ...]] = []
    for length in range(min(LINE_LENGTH, num_qubits), 0, -1):
        lines = _isolated_lines(graph, length)
        if len(lines) >= 2 and len(lines) * length > len(best) * len(best[0] if best else ()):
            best = lines
    if not best:
        best = [tuple(range(num_qubits))] if nx.is_connected(graph) else [(0,)]
    halves = HALVES if len(best[0]) == LINE_LENGTH else ()
    cells = {(0, c): line for c, line in enumerate(best)}
    return Layout("isolated-lines", num_qubits, graph, cells, halves=halves)


def _blocks_layout(graph: nx.Graph, num_qubits: int) -> Layout:
    size = min(BLOCK_SIZE, num_qubits)
    cells = {(0, c): tuple(range(c * size, (c + 1) * size)) for c in range(num_qubits // size)}
    hlinks: dict[Cell, tuple[int, ...]] = {(0, c): () for c in range(len(cells) - 1)}
    return Layout("all-to-all", num_qubits, graph, cells, hlinks)


def find_layout(target: Target) -> Layout:
    graph = coupling_graph(target)
    if graph.number_of_edges() == 0:
        return _blocks_layout(graph, target.num_qubits)
    if target.num_qubits == EAGLE_QUBITS and (grid := _hyperq_grid(graph, target.num_qubits)):
        return grid
    return _lines_layout(graph, target.num_qubits)


_cache: dict[int, tuple[Target, Layout]] = {}
_lock = threading.Lock()


def layout_for(target: Target) -> Layout:
    """The device's layout, computed once per Target object."""
    with _lock:
        cached = _cache.get(id(target))
        if cached is None or cached[0] is not target:
            cached = _cache[id(target)] = (target, find_layout(target))
        return cached[1]
