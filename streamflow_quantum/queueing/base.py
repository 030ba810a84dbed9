"""The face every queue policy shows the broker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from streamflow_quantum.core.config import Schema
    from streamflow_quantum.core.model import Program


class QueuePolicy(Protocol):
    """Which queued programs the packer sees first.

    The broker calls ``order`` before each batch and hands the result to the packing
    policy, which always takes its head; so the order decides who runs next and who
    shares a batch. ``order`` must be deterministic and O(n log n) (queues reach
    thousands of programs), keeping submission order between programs it ranks alike.
    ``charge`` tells the policy what each program of a finished batch cost, for
    policies that weigh users by their use.
    """

    name: str

    @classmethod
    def options_schema(cls) -> Schema | None: ...

    @classmethod
    def from_options(cls, **options: Any) -> QueuePolicy: ...

    def order(self, queue: Sequence[Program], now: float) -> list[Program]:
        """The queue in the order the packer should take it, head first (a permutation of it)."""
        ...

    def charge(self, program: Program, device_s: float, now: float) -> None:
        """``program`` used ``device_s`` modelled device seconds in a batch that ended at ``now``."""
        ...


def arrival_order(queue: Sequence[Program]) -> list[Program]:
    """``queue`` by submission time; programs submitted at the same time keep their places."""
    return sorted(queue, key=lambda program: program.submitted)


class UsageBlind:
    """For policies whose order does not depend on what programs used."""

    def charge(self, program: Program, device_s: float, now: float) -> None:
        """Nothing to count."""
