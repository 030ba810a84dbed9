"""The ``priority`` queue policy: by the user's priority, aged so that nothing starves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from streamflow_quantum.core.config import Schema, load_schema
from streamflow_quantum.queueing.base import UsageBlind, arrival_order

if TYPE_CHECKING:
    from streamflow_quantum.core.model import Program


class PriorityPolicy(UsageBlind):
    """Highest score first, where a program's score is its user's priority plus one for
    every ``ageing_s`` seconds it has waited: ``priority + (now - submitted) / ageing_s``.

    Every program ages at the same rate, so the order never changes while programs wait:
    a program of priority p goes before one of priority p + d submitted after it unless the
    latter was submitted less than ``d * ageing_s`` seconds later. A low-priority program
    therefore waits behind newcomers of priority p + d only for its first ``d * ageing_s``
    seconds, whatever arrives. Equal scores keep arrival order.
    """

    name = "priority"

    def __init__(self, ageing_seconds: float) -> None:
        self.ageing_s = ageing_seconds

    @classmethod
    def options_schema(cls) -> Schema | None:
        return load_schema("streamflow_quantum.queueing", "priority.json")

    @classmethod
    def from_options(cls, **options: Any) -> PriorityPolicy:
        return cls(**options)

    def order(self, queue: Sequence[Program], now: float) -> list[Program]:
        # Descending score, with ``now / ageing_s`` (common to all) taken out and the
        # rest scaled by ``ageing_s``: the key is exact, whatever ``now`` is.
        return sorted(
            arrival_order(queue),
            key=lambda program: program.submitted - program.user.priority * self.ageing_s,
        )
