"""The ``fifo`` queue policy: first come, first served (the broker's default)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from streamflow_quantum.queueing.base import UsageBlind, arrival_order

if TYPE_CHECKING:
    from streamflow_quantum.core.config import Schema
    from streamflow_quantum.core.model import Program


class FifoPolicy(UsageBlind):
    name = "fifo"

    @classmethod
    def options_schema(cls) -> Schema | None:
        return None

    @classmethod
    def from_options(cls, **options: Any) -> FifoPolicy:
        return cls()

    def order(self, queue: Sequence[Program], now: float) -> list[Program]:
        return arrival_order(queue)
