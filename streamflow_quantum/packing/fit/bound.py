"""A lower bound on the number of batches any isolating packer needs, from qubit-time area.

At any instant the running programs of a batch hold their own qubits and keep
their isolation buffers (the qubits next to them) free. A buffer qubit has at most
``max_degree`` neighbours, so it borders at most that many programs: a program
with ``b`` buffer qubits accounts for at least ``b / max_degree`` of them. So
``sum_i (k_i + b_i / max_degree) x d_i <= N x L`` over a batch of length ``L`` on
``N`` qubits, where ``L`` is the duration of the batch's longest program. Distinct
batches have distinct longest programs, so ``B`` batches offer at most
``N x (sum of the B longest durations)``: the bound is the smallest ``B`` that
covers the total area.

In space alone, ``sum_i (k_i + b_i / max_degree) <= N`` over the programs that
start a batch's slots. A program appended in time runs on a subset of its slot's
qubits, so with at most ``a`` appends per slot a batch holds
``sum_i k_i <= (1 + a) x N``: the bound is also at least the total of ``k_i + b_i
/ max_degree`` over ``N`` without time packing, and of ``k_i`` over
``(1 + a) x N`` with it (``appends_per_slot=None``: no limit, area alone).

A program that must run alone holds a batch by itself, so no other program shares
it: the bound is the number of such programs plus the bound above over the others.

``b_i`` is the smallest buffer over every embedding of the program on the empty
device when the search saw them all; otherwise 1 (a connected set of qubits
smaller than a connected device has a neighbour), or 0 for a program as wide as
the device. ``d_i`` is the program's duration placed alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Demand:
    """What one program asks of a batch."""

    qubits: int
    buffer: int
    duration_s: float
    alone: bool = False


def lower_bound_batches(
    demands: Sequence[Demand],
    num_qubits: int,
    max_degree: int,
    appends_per_slot: int | None = None,
) -> int:
    """The fewest batches that could hold ``demands`` on an isolating device (see the module)."""
    alone = sum(d.alone for d in demands)
    shared = [d for d in demands if not d.alone]
    return alone + _shared_bound(shared, num_qubits, max_degree, appends_per_slot)


def _shared_bound(
    demands: Sequence[Demand], num_qubits: int, max_degree: int, appends_per_slot: int | None
) -> int:
    """The bound for programs that may share batches: area, and space with its appends."""
    if not demands:
        return 0
    share = 1 / max_degree if max_degree else 0.0
    if appends_per_slot is None:
        space = 0
    elif appends_per_slot == 0:
        space = math.ceil(sum(d.qubits + d.buffer * share for d in demands) / num_qubits - 1e-9)
    else:
        space = math.ceil(sum(d.qubits for d in demands) / ((1 + appends_per_slot) * num_qubits))
    area = sum((d.qubits + d.buffer * share) * d.duration_s for d in demands)
    longest = sorted((d.duration_s for d in demands), reverse=True)
    covered, batches = 0.0, 0
    for duration in longest:
        if covered >= area * (1 - 1e-12):
            break
        covered += num_qubits * duration
        batches += 1
    return max(batches, space, 1)
