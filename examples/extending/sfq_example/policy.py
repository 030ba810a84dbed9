"""Packing policy ``pairs``: HyperQ's space packing, at most two programs per backend job."""

from __future__ import annotations

from collections.abc import Sequence

from streamflow_quantum.core.model import Batch, Program
from streamflow_quantum.packing.hyperq.policy import SpacePolicy


class PairsPolicy(SpacePolicy):
    name = "pairs"

    def next_batch(self, queue: Sequence[Program]) -> Batch:
        return super().next_batch(queue[:2])
