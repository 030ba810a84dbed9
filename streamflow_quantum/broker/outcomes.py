"""What a backend's answer means for a batch: its seed, valid counts, transient failures."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamflow_quantum.core.model import Batch, Program


class BackendFault(RuntimeError):
    """The backend answered, but not with one valid set of counts per program."""


def is_transient(error: BaseException) -> bool:
    """A failure that may not recur: a dropped connection, not a program or a bug."""
    return isinstance(error, OSError) and not isinstance(error, TimeoutError)


def batch_seed(programs: Sequence[Program]) -> int | None:
    """One seed for a batch, derived from its programs' seeds alone (None when none has one).

    A batch of one program runs with that program's seed, so serial runs reproduce.
    """
    seeds = [program.seed for program in programs]
    if all(seed is None for seed in seeds):
        return None
    if len(seeds) == 1:
        return seeds[0]
    digest = hashlib.sha256(repr(seeds).encode()).digest()
    return int.from_bytes(digest[:4], "big")


def check_counts(batch: Batch, counts: object) -> None:
    """Refuse what a backend returns unless it is one set of counts per placement, each over
    the placement's own classical bits and summing to the batch's shots."""
    if not isinstance(counts, list | tuple) or len(counts) != len(batch.placements):
        got = len(counts) if isinstance(counts, list | tuple) else type(counts).__name__
        raise BackendFault(f"got counts for {got} of {len(batch.placements)} programs")
    for placement, part in zip(batch.placements, counts, strict=True):
        width = placement.circuit.num_clbits
        if not isinstance(part, dict) or not all(
            isinstance(key, str) and len(key) == width and isinstance(n, int) and n >= 0
            for key, n in part.items()
        ):
            raise BackendFault(
                f"returned malformed counts for {placement.program.name} "
                f"(not {width}-bit strings with counts)"
            )
        if sum(part.values()) != batch.shots:
            raise BackendFault(
                f"returned {sum(part.values())} shots for {placement.program.name}, "
                f"not {batch.shots}"
            )
