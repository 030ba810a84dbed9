"""The ``random`` queue policy: any queued program may be next, with even odds, as in
"Hybrid classical-quantum serverless platforms" (fewer outliers than FIFO or LIFO, at the
cost of a higher median wait)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from streamflow_quantum.core.config import Schema, load_schema
from streamflow_quantum.queueing.base import UsageBlind, arrival_order

if TYPE_CHECKING:
    from streamflow_quantum.core.model import Program


class RandomPolicy(UsageBlind):
    """A fresh shuffle of the queue before each batch, drawn from one generator seeded
    once: the same seed and the same queues give the same orders."""

    name = "random"

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    @classmethod
    def options_schema(cls) -> Schema | None:
        return load_schema("streamflow_quantum.queueing", "random.json")

    @classmethod
    def from_options(cls, **options: Any) -> RandomPolicy:
        return cls(**options)

    def order(self, queue: Sequence[Program], now: float) -> list[Program]:
        shuffled = arrival_order(queue)
        self._rng.shuffle(shuffled)
        return shuffled
