"""Lower bounds on the number of batches any isolating packer needs.

**Qubit-time area.** At any instant the running programs of a batch hold their own
qubits and keep their isolation buffers (the qubits next to them) free. A buffer qubit
``q`` of degree ``deg(q)`` spends at least one of its edges on each program it borders,
so a program on qubits ``P`` accounts for ``e(q, P) / deg(q)`` of it, ``e(q, P)`` being
its edges into ``P``: over the programs it borders that sums to at most 1. A program's
*buffer share* ``s_i`` is the least ``sum_q e(q, P) / deg(q)`` over its embeddings on
the empty device. So ``sum_i (k_i + s_i) x d_i <= N x L`` over a batch of length ``L``
on ``N`` qubits, where ``L`` is the duration of the batch's longest program. Distinct
batches have distinct longest programs, so ``B`` batches offer at most
``N x (sum of the B longest durations)``: the bound is the smallest ``B`` that covers
the total area.

In space alone, ``sum_i (k_i + s_i) <= N`` over the programs that start a batch's
slots. A program appended in time runs on a subset of its slot's qubits, so with at
most ``a`` appends per slot a batch holds ``sum_i k_i <= (1 + a) x N``: the bound is
also at least the total of ``k_i + s_i`` over ``N`` without time packing, and of
``k_i`` over ``(1 + a) x N`` with it (``appends_per_slot=None``: no limit, area alone).

**Conflicts** (``conflicts``, from :mod:`~streamflow_quantum.packing.fit.conflicts`):
programs that pairwise cannot share a batch under their fidelity budgets need a batch
each, whatever the area says.

A program that must run alone holds a batch by itself, so no other program shares
it: the bound is the number of such programs plus the larger bound above over the
others. ``d_i`` is the program's duration placed alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Demand:
    """What one program asks of a batch: its qubits, its buffer share, its duration."""

    qubits: int
    buffer_share: float
    duration_s: float
    alone: bool = False


def lower_bound_batches(
    demands: Sequence[Demand],
    num_qubits: int,
    appends_per_slot: int | None = None,
    conflicts: int = 0,
) -> int:
    """The fewest batches that could hold ``demands`` on an isolating device (see the module)."""
    alone = sum(d.alone for d in demands)
    shared = [d for d in demands if not d.alone]
    return alone + max(_shared_bound(shared, num_qubits, appends_per_slot), conflicts)


def _shared_bound(demands: Sequence[Demand], num_qubits: int, appends_per_slot: int | None) -> int:
    """The bound for programs that may share batches: area, and space with its appends."""
    if not demands:
        return 0
    if appends_per_slot is None:
        space = 0
    elif appends_per_slot == 0:
        space = math.ceil(sum(d.qubits + d.buffer_share for d in demands) / num_qubits - 1e-9)
    else:
        space = math.ceil(sum(d.qubits for d in demands) / ((1 + appends_per_slot) * num_qubits))
    area = sum((d.qubits + d.buffer_share) * d.duration_s for d in demands)
    longest = sorted((d.duration_s for d in demands), reverse=True)
    covered, batches = 0.0, 0
    for duration in longest:
        if covered >= area * (1 - 1e-12):
            break
        covered += num_qubits * duration
        batches += 1
    return max(batches, space, 1)
