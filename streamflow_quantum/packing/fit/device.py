"""The device as the fit packer searches it: coupling graph, qubit ranking, embeddings.

Candidate placements are VF2 subgraph monomorphisms of a program's pattern into
the free part of the coupling graph. rustworkx tries the free qubits in index
order, so the free graph is built with its qubits sorted best first (readout,
single- and two-qubit errors): the first embeddings found lie on the best free
qubits, and ``limit`` of them are ranked. Ranking reads the errors of
:class:`~streamflow_quantum.packing.fidelity.FidelityModel`; the policy decides on
``success_probability`` of the placed circuit itself.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import rustworkx as rx

from streamflow_quantum.packing.fidelity import FidelityModel, relaxation_success

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from qiskit import QuantumCircuit
    from qiskit.transpiler import Target

    from streamflow_quantum.packing.fit.fitted import Mapping
    from streamflow_quantum.packing.fit.pattern import Pattern

#: VF2 states explored per search before it gives up (a failing search is the costly one).
CALL_LIMIT = 20_000


@dataclass(frozen=True)
class Search:
    """Embeddings found, best ranked first, with their ranking costs."""

    mappings: list[Mapping]
    costs: list[float]


@dataclass(frozen=True)
class Listing:
    """Every embedding of a pattern on the empty device (one row of physical qubits
    each), best ranked first, with its ranking cost."""

    mappings: np.ndarray
    costs: np.ndarray

    def within(self, free: Collection[int], num_qubits: int, max_cost: float, limit: int) -> Search:
        """The ``limit`` best ranked embeddings on ``free`` qubits costing at most ``max_cost``."""
        mask = np.zeros(num_qubits, dtype=bool)
        mask[list(free)] = True
        chosen = np.flatnonzero(mask[self.mappings].all(axis=1) & (self.costs <= max_cost))
        return Search(
            [tuple(row) for row in self.mappings[chosen[:limit]].tolist()],
            self.costs[chosen[:limit]].tolist(),
        )


class Device:
    """What placement reads of a Target, once per calibration."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.model = FidelityModel.of(target)
        self.num_qubits = int(target.num_qubits)
        coupling = target.build_coupling_map()
        #: False on a simulator without a coupling map: every pair couples, nothing to isolate.
        self.coupled = coupling is not None
        pairs = (
            {(min(a, b), max(a, b)) for a, b in coupling.get_edges() if a != b}
            if coupling is not None
            else set(itertools.combinations(range(self.num_qubits), 2))
        )
        self.edges = sorted(pairs)
        self.neighbours = neighbour_sets(self.num_qubits, self.edges)
        self.two_qubit_gates = [
            name
            for name in target.operation_names
            if target.qargs_for_operation_name(name) is not None
            and target.operation_from_name(name).num_qubits == 2
        ]
        self.max_degree = max((len(n) for n in self.neighbours), default=0)
        self._tables: dict[tuple[str, int], np.ndarray | None] = {}
        self.order = sorted(range(self.num_qubits), key=lambda q: (self._qubit_cost(q), q))

    def op_cost(self, name: str, qargs: tuple[int, ...]) -> float:
        """``-log(1 - error)`` of the operation, either direction for two-qubit gates."""
        ops = self.model.ops
        entry = ops.get((name, qargs))
        if entry is None and len(qargs) == 2:
            entry = ops.get((name, qargs[::-1]))
        return entry[0] if entry is not None else 0.0

    def _qubit_cost(self, q: int) -> float:
        own = sum(self.op_cost(name, (q,)) for name in ("measure", "sx", "x"))
        if not self.coupled:
            return own
        ops = self.model.ops
        two = [
            min(
                (
                    ops[name, qargs][0]
                    for name in self.two_qubit_gates
                    for qargs in ((q, n), (n, q))
                    if (name, qargs) in ops
                ),
                default=0.0,
            )
            for n in self.neighbours[q]
        ]
        return own + (sum(two) / len(two) if two else 0.0)

    def blocked(self, qubits: Collection[int]) -> set[int]:
        """The qubits and, where the device couples qubits, their neighbours (isolation)."""
        out = set(qubits)
        if self.coupled:
            for q in qubits:
                out |= self.neighbours[q]
        return out

    @functools.cached_property
    def graph(self) -> rx.PyGraph:
        """The coupling graph, node ``q`` for qubit ``q``."""
        graph = rx.PyGraph()
        graph.add_nodes_from(range(self.num_qubits))
        graph.add_edges_from_no_data(self.edges)
        return graph

    def embeddings(self, pattern: Pattern, cap: int) -> list[Mapping] | None:
        """Every embedding of the pattern's interaction graph (without its component
        links) on the empty device, or None if there are more than ``cap``."""
        return self.embeddings_of(pattern.graph(linked=False), cap)

    def embeddings_of(self, small: rx.PyGraph, cap: int) -> list[Mapping] | None:
        """Every embedding of ``small`` (nodes 0..k-1) on the empty device, or None
        if there are more than ``cap``."""
        mappings = _embed(self.graph, range(self.num_qubits), small, cap + 1, call_limit=None)
        return None if len(mappings) > cap else mappings

    @functools.cached_property
    def _spans(self) -> dict[str, tuple[float, float]]:
        """Per operation name, its shortest and longest duration on the device."""
        spans: dict[str, tuple[float, float]] = {}
        for (name, _), (_, duration) in self.model.ops.items():
            low, high = spans.get(name, (math.inf, 0.0))
            spans[name] = (min(low, duration), max(high, duration))
        return spans

    @functools.cached_property
    def _layer_s(self) -> float:
        """The longest single-qubit operation on the device: a direction fix adds one
        layer of them on each side of a two-qubit gate."""
        return max(
            (high for (_, qargs), (_, high) in self.model.ops.items() if len(qargs) == 1),
            default=0.0,
        )

    def duration_range(self, body: QuantumCircuit) -> tuple[float, float]:
        """Bounds on how long ``body`` (a program on its local qubits) lasts wherever it
        is placed: its critical path with every operation at its shortest on the device
        and single-qubit gates at none (fixing a gate's direction resynthesises them),
        and with every operation at its longest, each two-qubit gate widened by a
        single-qubit layer on each side (what fixing its direction adds)."""
        spans, layer = self._spans, self._layer_s
        index = {bit: i for i, bit in enumerate(body.qubits)}
        shortest = [0.0] * body.num_qubits
        longest = [0.0] * body.num_qubits
        for instruction in body.data:
            qubits = [index[q] for q in instruction.qubits]
            if not qubits:
                continue
            name = instruction.name
            if name == "delay":
                delay = instruction.operation
                low = high = self.model.delay_s(delay.params[0], delay.unit)
            elif name == "barrier":
                low = high = 0.0
            else:
                low, high = spans.get(name, (0.0, 0.0))
                if len(qubits) == 1 and name not in ("measure", "reset"):
                    low = 0.0
                if len(qubits) == 2:
                    high += 2 * layer
            start_low = max(shortest[q] for q in qubits)
            start_high = max(longest[q] for q in qubits)
            for q in qubits:
                shortest[q], longest[q] = start_low + low, start_high + high
        return max(shortest, default=0.0), max(longest, default=0.0)

    def rows(self, mappings: Sequence[Mapping], *, neighbours: bool = False) -> np.ndarray:
        """Each mapping's qubits (and, with ``neighbours``, the qubits next to them) as a 0/1 row."""
        out = np.zeros((len(mappings), self.num_qubits), dtype=bool)
        for row, mapping in zip(out, mappings, strict=True):
            row[list(self.blocked(mapping) if neighbours else mapping)] = True
        return out

    @functools.cached_property
    def _adjacency(self) -> np.ndarray:
        adjacency = np.zeros((self.num_qubits, self.num_qubits))
        for a, b in self.edges:
            adjacency[a, b] = adjacency[b, a] = 1.0
        return adjacency

    def buffer_shares(self, mappings: Sequence[Mapping]) -> np.ndarray:
        """Per mapping, over the qubits next to it: their edges into it over their degree
        (see bound.py: what a program accounts for of the buffer it shares)."""
        degree = np.maximum(self._adjacency.sum(axis=1), 1.0)
        inside = self.rows(mappings).astype(float)
        into = inside @ self._adjacency  # per qubit: its edges into the mapping
        shares: np.ndarray = ((1.0 - inside) * into / degree).sum(axis=1)
        return shares

    def rank(self, pattern: Pattern, mapping: Mapping) -> float:
        """``-log`` of the placement's success from its operations' errors and the
        decoherence of its qubits' idle times (``Pattern.idle_s``); lower is better.

        Idling counts: on basis_trotter_n4 (FakeBrisbane, 204 us) errors alone put the
        success of its 64 first embeddings 1.9x too high on average, idling included
        within 1% (both after the solo calibration of ``Prepared``)."""
        return float(self.rank_all(pattern, [mapping])[0])

    def rank_all(self, pattern: Pattern, mappings: Sequence[Mapping]) -> np.ndarray:
        """:meth:`rank` of each mapping, computed together (the search's inner loop)."""
        placed = np.asarray(mappings, dtype=np.intp).reshape(len(mappings), pattern.num_qubits)
        total = np.zeros(len(mappings))
        for (name, arity), (qargs, counts) in pattern.grouped.items():
            table = self._table(name, arity)
            if table is not None:
                total += table[tuple(placed[:, qargs[:, i]] for i in range(arity))] @ counts
        if pattern.idle_s.any():
            kept = relaxation_success(
                pattern.idle_s, self._rates[0][placed], self._rates[1][placed]
            )
            total -= np.log(kept).sum(axis=1)
        return total

    @functools.cached_property
    def _rates(self) -> tuple[np.ndarray, np.ndarray]:
        """Per qubit, ``1/T1`` and ``1/T2`` (the fidelity model's)."""
        rates = np.asarray(self.model.rates, dtype=float).reshape(-1, 2)
        return rates[:, 0], rates[:, 1]

    def _table(self, name: str, arity: int) -> np.ndarray | None:
        """``op_cost`` of ``name`` on every qubit (arity 1) or pair (arity 2)."""
        key = (name, arity)
        if key not in self._tables:
            table = None
            if arity in (1, 2):
                table = np.zeros((self.num_qubits,) * arity)
                for (op, qargs), (cost, _) in self.model.ops.items():
                    if op == name and len(qargs) == arity:
                        table[qargs] = cost
                        if arity == 2 and (name, qargs[::-1]) not in self.model.ops:
                            table[qargs[::-1]] = cost
            self._tables[key] = table
        return self._tables[key]

    def listing(self, pattern: Pattern, cap: int, *, linked: bool = True) -> Listing | None:
        """Every embedding of the pattern on the empty device, ranked (None: more than ``cap``)."""
        mappings = _embed(
            self.graph,
            range(self.num_qubits),
            pattern.graph(linked=linked),
            cap + 1,
            call_limit=None,
        )
        if len(mappings) > cap:
            return None
        costs = self.rank_all(pattern, mappings)
        order = np.argsort(costs, kind="stable")
        rows = np.asarray(mappings, dtype=np.intp).reshape(len(mappings), pattern.num_qubits)
        return Listing(rows[order], costs[order])

    def search(
        self,
        pattern: Pattern,
        free: Collection[int],
        limit: int,
        *,
        linked: bool = True,
        call_limit: int | None = CALL_LIMIT,
    ) -> Search:
        """Up to ``limit`` embeddings of ``pattern`` into the coupling graph on ``free``, ranked."""
        k = pattern.num_qubits
        if k > len(free):
            return Search([], [])
        nodes = [q for q in self.order if q in free]
        graph = rx.PyGraph()
        graph.add_nodes_from(nodes)
        index = {q: i for i, q in enumerate(nodes)}
        graph.add_edges_from_no_data(
            [(index[a], index[b]) for a, b in self.edges if a in index and b in index]
        )
        mappings = _embed(graph, nodes, pattern.graph(linked=linked), limit, call_limit=call_limit)
        costs = self.rank_all(pattern, mappings).tolist() if mappings else []
        order = sorted(range(len(mappings)), key=costs.__getitem__)
        return Search([mappings[i] for i in order], [costs[i] for i in order])


def neighbour_sets(num_qubits: int, edges: Sequence[tuple[int, int]]) -> list[frozenset[int]]:
    """Per qubit, the qubits a coupling edge joins it to."""
    around: list[set[int]] = [set() for _ in range(num_qubits)]
    for a, b in edges:
        around[a].add(b)
        around[b].add(a)
    return [frozenset(n) for n in around]


def _embed(
    graph: rx.PyGraph,
    nodes: Sequence[int],
    small: rx.PyGraph,
    limit: int,
    *,
    call_limit: int | None,
) -> list[Mapping]:
    """Up to ``limit`` VF2 embeddings of ``small`` (nodes 0..k-1) into ``graph``, whose
    node ``i`` is qubit ``nodes[i]``, as the qubit of each node of ``small``."""
    found = rx.vf2_mapping(
        graph, small, subgraph=True, induced=False, id_order=True, call_limit=call_limit
    )
    mappings = []
    for match in itertools.islice(found, limit):
        mapping = [0] * small.num_nodes()
        for g, p in match.items():
            mapping[p] = nodes[g]
        mappings.append(tuple(mapping))
    return mappings


def ranked_success(cost: float) -> float:
    """The success probability a ranking cost forecasts from gate errors alone: a
    forecast, not a bound, for the placed circuit's gates differ from the body's."""
    return math.exp(-cost)
