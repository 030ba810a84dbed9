"""Programs that no batch can hold together under their fidelity budgets: a lower bound.

A program may go only where its estimated success meets its need, ``(1 - budget)`` x
its solo success. Two programs can run side by side only if some allowed placement of
one avoids the other's allowed placement and its neighbours. Programs that pairwise
cannot need a batch each, so the largest such set bounds the number of batches.

Programs with the same circuit and need form a class, checked once. A class that
cannot hold two of its own programs side by side counts each of them; otherwise it
counts one. A class whose placements are not all listed (too many), or whose programs
may be appended in time after another program, can share any batch, so it is left out.

A program appended in time starts when its slot's first program ends and must end by
the batch's longest program (the packer's rule: the batch lasts as long as that one),
so only a class whose shortest placement fits after the queue's shortest program
within its longest may be appended at all (``in_time``). The queue's longest program
itself never can.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np


@dataclass(frozen=True)
class Allowed:
    """Where the ``count`` programs of one class may go, as 0/1 rows over the device's
    qubits: each allowed placement's qubits, and those with their neighbours.
    ``None``: not known, so the class conflicts with nothing."""

    count: int
    qubits: np.ndarray | None = None
    blocked: np.ndarray | None = None


@dataclass(frozen=True)
class Reach:
    """Where the programs of one class may go within their budget, and for how long:
    ``shortest_s`` and ``longest_s`` bound the duration of any of those placements (0 and
    infinity where not known); ``after_resets``: whether one of them still meets the need
    after resets of its qubits, as a program appended in time must."""

    allowed: Allowed
    shortest_s: float = 0.0
    longest_s: float = math.inf
    after_resets: bool = True


def may_follow(reaches: Sequence[Reach]) -> list[bool]:
    """Whether each class's programs may be appended in time: after the shortest program
    of the queue, ending by the longest."""
    start = min((r.shortest_s for r in reaches), default=0.0)
    end = max((r.longest_s for r in reaches), default=math.inf)
    return [r.after_resets and start + r.shortest_s <= end for r in reaches]


def in_time(reaches: Sequence[Reach]) -> list[Allowed]:
    """Each class's placements, or none known (it may share any batch) where its programs
    may be appended in time (``may_follow``)."""
    return [
        Allowed(r.allowed.count) if follows else r.allowed
        for r, follows in zip(reaches, may_follow(reaches), strict=True)
    ]


def side_by_side(a: Allowed, b: Allowed) -> bool:
    """Whether some allowed placement of ``b`` avoids some of ``a`` and its neighbours."""
    assert a.blocked is not None and b.qubits is not None
    if not len(a.blocked) or not len(b.qubits):
        return False
    overlap = a.blocked.astype(np.int32) @ b.qubits.T.astype(np.int32)
    return bool((overlap == 0).any())


def conflict_bound(classes: Sequence[Allowed]) -> int:
    """The most programs that pairwise cannot share a batch (0 when nothing is known)."""
    graph = nx.Graph()
    known = [i for i, c in enumerate(classes) if c.qubits is not None]
    for i in known:
        c = classes[i]
        graph.add_node(i, weight=1 if side_by_side(c, c) else c.count)
    graph.add_edges_from(
        (i, j)
        for i, j in itertools.combinations(known, 2)
        if not side_by_side(classes[i], classes[j])
    )
    if not graph:
        return 0
    _, weight = nx.max_weight_clique(graph, weight="weight")
    return int(weight)
