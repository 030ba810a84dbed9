"""BBQ-MIS: branch and bound over colour classes, one maximal independent set at a time.

A search node has coloured some vertices with ``len(classes)`` colours; its
children each give the next colour to a maximal independent set of the
uncoloured subgraph, as sampled by a (quantum) MIS solver. Open nodes are taken
best first (smallest ``UB x |E|`` of the uncoloured subgraph), ``width`` at a
time: such a layer is independent work, one concurrent MIS step per node.

Sampled sets are not all maximal independent sets, so an exhausted queue does
not prove optimality; only the root's lower bound (spectral or clique) does. The
state is plain JSON so that each classical workflow step can resume it.

Every explored node records the evidence of its MIS sampling (batch ids, sampled
against uniform mean energy), and every colour class of the incumbent records the
node whose sampled set it is, or none when it came from the greedy start.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import networkx as nx

from streamflow_quantum.applications.coloring.bounds import (
    degree_upper_bound,
    greedy_coloring,
    lower_bound,
)
from streamflow_quantum.applications.coloring.mis import MisSample


@dataclass
class Node:
    id: int
    classes: list[list[int]]
    remaining: list[int]
    lower: int
    #: ``UB x |E|`` of the uncoloured subgraph: smaller is explored first.
    priority: int
    #: For each of ``classes``, the node whose MIS sample it is.
    sources: list[int] = field(default_factory=list)

    @property
    def colors(self) -> int:
        return len(self.classes)


@dataclass
class ColoringSearch:
    graph: nx.Graph
    incumbent: dict[int, int]
    lower_bound: int
    max_nodes: int = 20
    width: int = 4
    greedy: bool = True
    open: list[Node] = field(default_factory=list)
    in_flight: list[Node] = field(default_factory=list)
    #: Uncoloured vertex sets already reached, with the fewest colours used to reach them.
    seen: dict[frozenset[int], int] = field(default_factory=dict)
    explored: int = 0
    next_id: int = 0
    #: For each colour of the incumbent, the node whose MIS sample it is (None: greedy).
    incumbent_sources: list[int | None] = field(default_factory=list)
    #: Each expanded node's id, MIS evidence, and sets and children counts.
    log: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def start(
        cls, graph: nx.Graph, max_nodes: int = 20, width: int = 4, greedy: bool = True
    ) -> ColoringSearch:
        """The root of the search, with a greedy colouring as incumbent (or one colour per vertex)."""
        if graph.number_of_nodes() == 0:
            raise ValueError("the graph has no vertices")
        if max_nodes < 0 or width < 1:
            raise ValueError("max_nodes must be at least 0 and width at least 1")
        incumbent = (
            greedy_coloring(graph) if greedy else {v: i for i, v in enumerate(sorted(graph))}
        )
        search = cls(graph, incumbent, lower_bound(graph), max_nodes, width, greedy)
        search.incumbent_sources = [None] * search.num_colors
        search._consider([], [], sorted(graph))
        return search

    @property
    def num_colors(self) -> int:
        return max(self.incumbent.values()) + 1

    @property
    def done(self) -> bool:
        return not self.in_flight and (not self.open or self.explored >= self.max_nodes)

    def next_layer(self) -> list[Node]:
        """Up to ``width`` best open nodes, within the node budget, now waiting for their MIS."""
        take = min(self.width, self.max_nodes - self.explored)
        if take <= 0:
            return []
        self.open.sort(key=lambda node: (node.priority, node.id))
        layer, self.open = self.open[:take], self.open[take:]
        self.in_flight += layer
        self.explored += len(layer)
        return layer

    def subgraph(self, node: Node) -> nx.Graph:
        return self.graph.subgraph(node.remaining).copy()

    def expand(self, node_id: int, found: MisSample) -> int:
        """Branch on the sampled sets that are maximal independent sets of the node's
        uncoloured subgraph (others are ignored); returns how many children were kept."""
        node = next((n for n in self.in_flight if n.id == node_id), None)
        if node is None:
            raise ValueError(
                f"search node {node_id} is not waiting for an MIS: pass MIS results of the current layer"
            )
        self.in_flight.remove(node)
        subgraph = self.subgraph(node)
        kept = maximal = 0
        for chosen in {frozenset(s) for s in found.sets}:
            if self._is_maximal_independent(subgraph, chosen):
                maximal += 1
                kept += self._consider(
                    [*node.classes, sorted(chosen)],
                    [*node.sources, node.id],
                    sorted(set(node.remaining) - chosen),
                )
        self.open = [n for n in self.open if n.lower < self.num_colors]
        self.log.append(
            {"id": node.id, "sets": len(found.sets), "maximal_sets": maximal, "children": kept}
            | found.evidence_fields()
        )
        return kept

    @staticmethod
    def _is_maximal_independent(graph: nx.Graph, chosen: frozenset[int]) -> bool:
        """Independent and dominating, i.e. no vertex can be added."""
        return (
            bool(chosen)
            and chosen.issubset(graph)
            and graph.subgraph(chosen).number_of_edges() == 0
            and nx.is_dominating_set(graph, chosen)
        )

    def _consider(self, classes: list[list[int]], sources: list[int], remaining: list[int]) -> int:
        """Record a node: improve the incumbent from it, queue it if it may still improve."""
        key = frozenset(remaining)
        if self.seen.get(key, len(classes) + 1) <= len(classes):
            return 0
        self.seen[key] = len(classes)
        rest = self.graph.subgraph(remaining)
        if self.greedy or not remaining:
            completion = {v: len(classes) + c for v, c in greedy_coloring(rest).items()}
            self._offer(classes, sources, completion)
        lower = len(classes) + lower_bound(rest)
        if not remaining or lower >= self.num_colors:
            return 0
        priority = degree_upper_bound(rest) * rest.number_of_edges()
        self.open.append(Node(self.next_id, classes, remaining, lower, priority, sources))
        self.next_id += 1
        return 1

    def _offer(
        self, classes: list[list[int]], sources: list[int], completion: dict[int, int]
    ) -> None:
        coloring = {v: c for c, members in enumerate(classes) for v in members} | completion
        colors = max(coloring.values()) + 1
        if colors < self.num_colors:
            self.incumbent = coloring
            self.incumbent_sources = [*sources] + [None] * (colors - len(sources))

    def result(self) -> dict[str, Any]:
        """The incumbent colouring and how far it is from the proven lower bound.

        ``classes`` gives each colour's vertices and ``sampled_by``, the explored
        node whose MIS sample it is (None for the greedy start); ``explored`` is
        each expanded node's MIS evidence.
        """
        colors = {str(v): self.incumbent[v] for v in sorted(self.graph)}
        classes = [
            {
                "color": c,
                "vertices": sorted(v for v, color in self.incumbent.items() if color == c),
                "sampled_by": source,
            }
            for c, source in enumerate(self.incumbent_sources)
        ]
        return {
            "colors": colors,
            "num_colors": self.num_colors,
            "lower_bound": self.lower_bound,
            "nodes_explored": self.explored,
            "gap": self.num_colors - self.lower_bound,
            "optimal": self.num_colors == self.lower_bound,
            "stopped_early": bool(self.open) and self.explored >= self.max_nodes,
            "open_nodes": len(self.open),
            "classes": classes,
            "sampled_classes": sum(source is not None for source in self.incumbent_sources),
            "explored": self.log,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": sorted(self.graph),
            "edges": sorted(sorted(e) for e in self.graph.edges()),
            "incumbent": [[v, c] for v, c in sorted(self.incumbent.items())],
            "lower_bound": self.lower_bound,
            "max_nodes": self.max_nodes,
            "width": self.width,
            "greedy": self.greedy,
            "open": [asdict(n) for n in self.open],
            "in_flight": [asdict(n) for n in self.in_flight],
            "seen": [[sorted(key), depth] for key, depth in self.seen.items()],
            "explored": self.explored,
            "next_id": self.next_id,
            "incumbent_sources": self.incumbent_sources,
            "log": self.log,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColoringSearch:
        graph = nx.Graph()
        graph.add_nodes_from(data["nodes"])
        graph.add_edges_from(data["edges"])
        return cls(
            graph=graph,
            incumbent=dict(map(tuple, data["incumbent"])),
            lower_bound=data["lower_bound"],
            max_nodes=data["max_nodes"],
            width=data["width"],
            greedy=data["greedy"],
            open=[Node(**n) for n in data["open"]],
            in_flight=[Node(**n) for n in data["in_flight"]],
            seen={frozenset(key): depth for key, depth in data["seen"]},
            explored=data["explored"],
            next_id=data["next_id"],
            incumbent_sources=data["incumbent_sources"],
            log=data["log"],
        )
