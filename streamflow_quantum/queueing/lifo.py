"""The ``lifo`` queue policy: newest first, one of the schedulers compared in
"Hybrid classical-quantum serverless platforms" (it favours short iterations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from streamflow_quantum.queueing.base import UsageBlind, arrival_order

if TYPE_CHECKING:
    from streamflow_quantum.core.config import Schema
    from streamflow_quantum.core.model import Program


class LifoPolicy(UsageBlind):
    """The reverse of arrival order: of programs submitted at once, the last listed goes first."""

    name = "lifo"

    @classmethod
    def options_schema(cls) -> Schema | None:
        return None

    @classmethod
    def from_options(cls, **options: Any) -> LifoPolicy:
        return cls()

    def order(self, queue: Sequence[Program], now: float) -> list[Program]:
        return arrival_order(queue)[::-1]
