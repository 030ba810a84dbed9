"""A compiled program reduced to what placement needs: its k-qubit body and interaction graph."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import rustworkx as rx
from qiskit import QuantumCircuit

from streamflow_quantum.backends.base import active_qubits
from streamflow_quantum.packing.hyperq.compose import empty_like

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from streamflow_quantum.packing.fit.fitted import Fitted


@dataclass(eq=False)
class Pattern:
    """A program compiled for the device, relabelled onto local qubits 0..k-1.

    Local qubit 0 carries the most operations and the rest follow in breadth-first
    order, so that a VF2 search over qubits sorted best first puts the busiest
    qubit on the best ones. ``edges`` are the undirected pairs its two-qubit gates
    couple, plus one edge joining each further connected component to the
    previous one (``links``): a program spread over the device would block far
    more qubits with its isolation buffer than a compact one.
    """

    body: QuantumCircuit
    edges: tuple[tuple[int, int], ...]
    links: tuple[tuple[int, int], ...]
    #: The physical qubit of each local qubit where the compiler put it.
    home: tuple[int, ...]
    #: ``(operation name, local qargs, count)``: what a placement is ranked by.
    operations: tuple[tuple[str, tuple[int, ...], int], ...] = field(repr=False)
    #: Per local qubit, how long it idles holding state where the compiler put it (in
    #: s): placements are ranked by the decoherence that idling costs on their qubits.
    idle_s: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    #: The body with its two-qubit gates turned, by which of them a placement reverses
    #: (see :meth:`FitPolicy._lay_out`): fixing directions is the costly part of placing.
    turned: dict[tuple[bool, ...], QuantumCircuit] = field(default_factory=dict, repr=False)
    #: Placements built at a batch's start, by mapping (the policy keeps the last few).
    laid: dict[tuple[int, ...], Fitted] = field(default_factory=dict, repr=False)

    @cached_property
    def grouped(self) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
        """``operations`` by name and arity: local qargs (one row each) and counts, for ranking."""
        rows: dict[tuple[str, int], tuple[list[tuple[int, ...]], list[int]]] = {}
        for name, qargs, n in self.operations:
            if qargs:
                entry = rows.setdefault((name, len(qargs)), ([], []))
                entry[0].append(qargs)
                entry[1].append(n)
        return {
            key: (np.asarray(qargs, dtype=np.intp), np.asarray(counts, dtype=float))
            for key, (qargs, counts) in rows.items()
        }

    @cached_property
    def two_qubit(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """The distinct two-qubit operations, with their local qubits in order."""
        return tuple((name, qargs) for name, qargs, _ in self.operations if len(qargs) == 2)

    @property
    def num_qubits(self) -> int:
        return int(self.body.num_qubits)

    def graph(self, *, linked: bool = True) -> rx.PyGraph:
        """The pattern VF2 embeds; ``linked=False`` leaves the component links out."""
        return self._linked if linked else self._unlinked

    @cached_property
    def parts(self) -> tuple[tuple[int, ...], ...]:
        """The local qubits of each connected part of the interaction graph, largest first."""
        components = (tuple(sorted(c)) for c in rx.connected_components(self._unlinked))
        return tuple(sorted(components, key=len, reverse=True))

    def part(self, qubits: Sequence[int]) -> tuple[QuantumCircuit, rx.PyGraph]:
        """One part (``qubits``, from :attr:`parts`) alone: its operations, barriers cut
        to its qubits, on local qubits 0..k-1, and its interaction graph."""
        local = {q: i for i, q in enumerate(qubits)}
        edges = [(local[a], local[b]) for a, b in self.edges if a in local]
        return restrict(self.body, qubits), _graph(len(qubits), edges)

    @cached_property
    def _linked(self) -> rx.PyGraph:
        return _graph(self.num_qubits, (*self.edges, *self.links))

    @cached_property
    def _unlinked(self) -> rx.PyGraph:
        return _graph(self.num_qubits, self.edges)


def _graph(num_nodes: int, edges: Iterable[tuple[int, int]]) -> rx.PyGraph:
    graph = rx.PyGraph()
    graph.add_nodes_from(range(num_nodes))
    graph.add_edges_from_no_data(list(edges))
    return graph


def _local_order(
    qubits: tuple[int, ...], pairs: set[tuple[int, int]], weight: Counter[int]
) -> list[int]:
    """Qubits component by component (largest first), each breadth-first from its busiest qubit."""
    adjacent: dict[int, list[int]] = {q: [] for q in qubits}
    for a, b in sorted(pairs):
        adjacent[a].append(b)
        adjacent[b].append(a)
    components: list[list[int]] = []
    seen: set[int] = set()
    for root in sorted(qubits, key=lambda q: (-weight[q], q)):
        if root in seen:
            continue
        seen.add(root)
        component, frontier = [root], [root]
        while frontier:
            nxt = []
            for q in frontier:
                for n in sorted(adjacent[q], key=lambda q: (-weight[q], q)):
                    if n not in seen:
                        seen.add(n)
                        component.append(n)
                        nxt.append(n)
            frontier = nxt
        components.append(component)
    components.sort(key=len, reverse=True)  # stable: ties keep the busiest first
    return [q for component in components for q in component]


def restrict(circuit: QuantumCircuit, qubits: Sequence[int]) -> QuantumCircuit:
    """``circuit``'s operations on ``qubits``, as local qubits 0..k-1. Operations on
    other qubits only are left out, and barriers cut to ``qubits``; any other operation
    must lie wholly on them.

    Instructions are appended unchecked (``QuantumCircuit._append``): they come from a
    valid circuit and only their qubits change, and the checked ``append`` made this
    the costliest step of placing a program (64 ms against 11 for basis_trotter_n4)."""
    index = {bit: i for i, bit in enumerate(circuit.qubits)}
    local = {q: i for i, q in enumerate(qubits)}
    body = empty_like(circuit, len(qubits))
    body.global_phase = circuit.global_phase
    for instruction in circuit.data:
        indices = [index[q] for q in instruction.qubits]
        qargs = [body.qubits[local[i]] for i in indices if i in local]
        if len(qargs) == len(indices):
            body._append(instruction.replace(qubits=qargs))
        elif instruction.operation.name == "barrier":
            if qargs:
                body.barrier(qargs)
        elif qargs:
            raise ValueError(f"{instruction.operation.name} acts on qubits outside {qubits}")
    return body


def extract_pattern(compiled: QuantumCircuit, idle_s: Sequence[float] = ()) -> Pattern:
    """The pattern of a circuit compiled for the whole device (physical qubit indices),
    with ``idle_s``, each physical qubit's idle time in it (none: no decoherence ranked)."""
    active = active_qubits(compiled)
    weight: Counter[int] = Counter()
    pairs: set[tuple[int, int]] = set()
    for instruction in compiled.data:
        indices = [compiled.find_bit(q).index for q in instruction.qubits]
        if instruction.operation.name == "barrier":
            continue
        weight.update(indices)
        if len(indices) == 2:
            a, b = indices
            pairs.add((min(a, b), max(a, b)))
    order = _local_order(active, pairs, weight)
    local = {q: i for i, q in enumerate(order)}
    body = restrict(compiled, order)
    counts: Counter[tuple[str, tuple[int, ...]]] = Counter()
    for instruction in body.data:
        if instruction.operation.name not in ("barrier", "delay"):
            qargs = tuple(body.find_bit(q).index for q in instruction.qubits)
            counts[instruction.operation.name, qargs] += 1
    edges = tuple(sorted((min(local[a], local[b]), max(local[a], local[b])) for a, b in pairs))
    return Pattern(
        body=body,
        edges=edges,
        links=_component_links(len(order), edges),
        home=tuple(order),
        operations=tuple((name, qargs, n) for (name, qargs), n in counts.items()),
        idle_s=np.asarray([idle_s[q] for q in order] if idle_s else [0.0] * len(order)),
    )


def _component_links(
    num_nodes: int, edges: tuple[tuple[int, int], ...]
) -> tuple[tuple[int, int], ...]:
    """One edge from each component's lowest-degree qubit to the previous component's.

    Lowest degree, so the link rarely asks more of the device than the program
    does; where it still asks too much, the policy embeds the unlinked pattern.
    """
    graph = _graph(num_nodes, edges)
    components = sorted((sorted(c) for c in rx.connected_components(graph)), key=lambda c: c[0])
    ends = [min(c, key=lambda q: (graph.degree(q), q)) for c in components]
    return tuple((min(a, b), max(a, b)) for a, b in itertools.pairwise(ends))
