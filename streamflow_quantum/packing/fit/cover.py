"""A lower bound on batches from covering the queue with whole batches (column generation).

A batch's space layer is a set of programs on disjoint qubits, no coupling edge joining
two of them. A program appended in time runs within one slot's qubits, at most
``appends`` of them per slot, so the programs appended k-th in their slots form an
isolated layer too: a batch is at most one layer of any programs plus ``appends`` layers
of those that may be appended (``Kind.appendable``).

Covering every program with such batches is an integer program; its LP relaxation over
every possible batch (Gilmore and Gomory's configuration LP) bounds it from below, and
it sees what the area bound cannot: which programs fit together, placement by
placement. Column generation solves it. The LP over the batches found so far prices
each kind; a MILP (scipy's HiGHS) finds the layer of highest price. Whatever the LP has
reached, Farley's bound ``sum(count x price) / (the highest price of any batch)`` is a
lower bound on it, taken with the MILP's proven upper bound, so a time limit only makes
the bound weaker, never wrong. A queue with more placements than ``PLACEMENTS_CAP`` is
left to the other bounds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from streamflow_quantum.packing.fit.device import neighbour_sets

#: Seconds per pricing MILP, and for the whole bound (both only weaken it).
PRICE_LIMIT_S = 10.0
TOTAL_LIMIT_S = 120.0
#: Master iterations at most.
ROUNDS = 60
#: Placements a layer may list: beyond, HiGHS spends minutes before its time limit
#: applies (small&med on FakeBrisbane lists 27881), so the cover leaves the bound as known.
PLACEMENTS_CAP = 10_000
EPS = 1e-6
#: Relative gap at which a pricing MILP stops: its proven bound is what Farley divides by.
GAP = 0.01


@dataclass(frozen=True)
class Kind:
    """``count`` programs that may go on any of ``placements`` (qubit sets), and whether
    they may be appended in time."""

    count: int
    placements: frozenset[frozenset[int]]
    appendable: bool


@dataclass
class _Layer:
    """One isolated layer of some kinds: its candidate placements (columns of the
    pricing MILP), each with its kind, its qubits and those with their neighbours."""

    kinds: list[int]
    kind_of: np.ndarray
    qubits: list[frozenset[int]]
    blocked: list[frozenset[int]]
    isolation: sp.csr_matrix
    per_kind: sp.csr_matrix


def cover_bound(
    num_qubits: int,
    edges: Sequence[tuple[int, int]],
    kinds: Sequence[Kind],
    appends: int,
    known: int = 0,
) -> int:
    """The fewest batches covering ``kinds`` by the configuration LP (see the module), or
    ``known`` if it cannot do better; ``appends`` per slot (0: space only)."""
    merged: dict[tuple[frozenset[frozenset[int]], bool], int] = {}
    for kind in kinds:
        if kind.count > 0 and kind.placements:
            key = (kind.placements, kind.appendable)
            merged[key] = merged.get(key, 0) + kind.count
    if not merged:
        return known
    keys = list(merged)
    if sum(len(placements) for placements, _ in keys) > PLACEMENTS_CAP:
        return known
    counts = np.array([merged[k] for k in keys], dtype=float)
    around = neighbour_sets(num_qubits, edges)
    layers = [_layer(around, edges, keys, range(len(keys)))]
    later = [i for i, (_, appendable) in enumerate(keys) if appendable]
    #: Where every kind may be appended, a batch is ``1 + appends`` layers of any kind:
    #: the LP is the space-only one over ``1 + appends``.
    layered = 1
    if appends and len(later) == len(keys):
        layered, appends = 1 + appends, 0
    elif appends and later:
        layers.append(_layer(around, edges, keys, later))
    # Columns are layers: batches' first layers (any kind), then appended layers, at most
    # ``appends`` of those per first layer. It starts from one program per batch.
    columns: list[list[np.ndarray]] = [[np.eye(len(keys))[i] for i in range(len(keys))], []]
    best, start = 0.0, time.monotonic()
    for _ in range(ROUNDS):
        master = linprog(
            np.array([1.0] * len(columns[0]) + [0.0] * len(columns[1])),
            A_ub=np.vstack(
                [
                    -np.array(columns[0] + columns[1]).T,
                    [-appends] * len(columns[0]) + [1] * len(columns[1]),
                ]
            ),
            b_ub=np.append(-counts, 0.0),
            bounds=(0, None),
            method="highs",
        )
        if master.status != 0 or time.monotonic() - start > TOTAL_LIMIT_S:
            break
        if math.ceil(master.fun / layered - EPS) <= max(known, math.ceil(best / layered - EPS)):
            break  # no integer bound above what is known is left to prove
        duals = np.maximum(-master.ineqlin.marginals, 0.0)
        prices = duals[:-1]
        # A layer's cost in the LP: a first layer 1 plus its appended layers' link price;
        # an appended layer its link price.
        costs = (1 + appends * duals[-1], duals[-1])[: len(layers)]
        # Greedy layers first; the MILP only once they find nothing worth adding.
        found = [_greedy(layer, prices, counts) for layer in layers]
        if not any(value > cost + EPS for (_, value), cost in zip(found, costs, strict=True)):
            exact = [_price(layer, prices, counts) for layer in layers]
            found = [(column, value) for column, value, _ in exact]
            most = [m for _, _, m in exact] + [0.0]
            # Farley: over the most a batch (a first layer and its appended layers)
            # could be priced, the prices are feasible for the LP's dual.
            best = max(best, float(counts @ prices) / max(most[0] + appends * most[1], EPS))
            if all(m <= value + EPS for (_, value, m) in exact) and not any(
                value > cost + EPS for (_, value), cost in zip(found, costs, strict=True)
            ):
                best = max(best, master.fun)  # nothing prices above its cost: the optimum
                break
        grew = False
        for index, ((column, value), cost) in enumerate(zip(found, costs, strict=True)):
            if value > cost + EPS:
                columns[index].append(column)
                grew = True
        if not grew:
            break
    return max(known, math.ceil(best / layered - EPS))


def _greedy(layer: _Layer, prices: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, float]:
    """A good layer, fast: placements by price per qubit they block, taken while they fit."""
    column = np.zeros(len(counts))
    value, taken = 0.0, set[int]()
    order = sorted(
        range(len(layer.qubits)),
        key=lambda j: -prices[layer.kind_of[j]] / len(layer.blocked[j]),
    )
    for j in order:
        kind = layer.kind_of[j]
        if prices[kind] <= EPS:
            break
        if column[kind] < counts[kind] and taken.isdisjoint(layer.qubits[j]):
            column[kind] += 1
            value += prices[kind]
            taken |= layer.blocked[j]
    return column, value


def _layer(
    around: Sequence[frozenset[int]],
    edges: Sequence[tuple[int, int]],
    keys: Sequence[tuple[frozenset[frozenset[int]], bool]],
    kinds: Sequence[int],
) -> _Layer:
    """One isolated layer of ``kinds`` on the device whose qubits have neighbours
    ``around``: per qubit at most one placement holds it, per coupling edge at most one
    placement touches its ends."""
    num_qubits = len(around)
    placements = [(i, sorted(s)) for i in kinds for s in sorted(keys[i][0], key=sorted)]
    holding: list[list[int]] = [[] for _ in range(num_qubits)]
    for j, (_, qubits) in enumerate(placements):
        for q in qubits:
            holding[q].append(j)
    rows = [holding[q] for q in range(num_qubits)]
    rows += [sorted(set(holding[a]) | set(holding[b])) for a, b in edges]
    isolation = _incidence(rows, len(placements))
    kind_of = np.array([i for i, _ in placements], dtype=int)
    per_kind = _incidence([list(np.flatnonzero(kind_of == i)) for i in kinds], len(placements))
    sets = [frozenset(members) for _, members in placements]
    blocked = [s.union(*(around[q] for q in s)) for s in sets]
    return _Layer(list(kinds), kind_of, sets, blocked, isolation, per_kind)


def _incidence(rows: Sequence[Sequence[int]], width: int) -> sp.csr_matrix:
    indices = [j for row in rows for j in row]
    pointers = np.cumsum([0, *(len(row) for row in rows)])
    return sp.csr_matrix((np.ones(len(indices)), indices, pointers), shape=(len(rows), width))


def _price(
    layer: _Layer, prices: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """The layer of highest price: its programs per kind, its price, and the most any
    layer could be priced (the MILP's proven bound)."""
    # Placements of unpriced kinds add nothing: left out of the MILP.
    used = np.flatnonzero(prices[layer.kind_of] > EPS)
    if not len(used):
        return np.zeros(len(counts)), 0.0, 0.0
    weights = prices[layer.kind_of[used]]
    result = milp(
        -weights,
        constraints=[
            LinearConstraint(layer.isolation[:, used], -np.inf, 1.0),
            LinearConstraint(layer.per_kind[:, used], -np.inf, counts[layer.kinds]),
        ],
        integrality=np.ones(len(weights)),
        bounds=Bounds(0, 1),
        options={"time_limit": PRICE_LIMIT_S, "mip_rel_gap": GAP},
    )
    dual = getattr(result, "mip_dual_bound", None)
    # Without a proven bound, a layer holds each kind at most ``count`` times.
    most = -dual if dual is not None and math.isfinite(dual) else float(prices @ counts)
    if result.x is None:  # nothing found within the limit: only the bound holds
        return np.zeros(len(counts)), 0.0, most
    column = np.bincount(layer.kind_of[used], weights=np.round(result.x), minlength=len(counts))
    return column, float(-result.fun), max(most, float(-result.fun))
