"""The ``fair-share`` queue policy: users take turns, the least recent user of the device first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from streamflow_quantum.core.config import Schema, load_schema
from streamflow_quantum.queueing.base import arrival_order

if TYPE_CHECKING:
    from streamflow_quantum.core.model import Program


class FairSharePolicy:
    """Round robin across the users with programs queued: each round takes every such
    user's oldest program not yet taken, the users in order of their recent device time
    (least first; equal use: whose oldest program is older). So a user who floods the
    queue shares every batch with the others instead of filling it, and one who has just
    used the device much waits behind one who has not.

    A user's recent device time is the modelled device seconds charged to their programs,
    each halved every ``half_life_s`` seconds after its batch ended.
    """

    name = "fair-share"

    def __init__(self, half_life_seconds: float) -> None:
        self.half_life_s = half_life_seconds
        #: Per user name: decayed device seconds as of a time, and that time.
        self._usage: dict[str, tuple[float, float]] = {}

    @classmethod
    def options_schema(cls) -> Schema | None:
        return load_schema("streamflow_quantum.queueing", "fair-share.json")

    @classmethod
    def from_options(cls, **options: Any) -> FairSharePolicy:
        return cls(**options)

    def usage(self, user: str, now: float) -> float:
        """``user``'s device seconds as decayed by ``now``."""
        used, when = self._usage.get(user, (0.0, now))
        return float(used * 0.5 ** (max(now - when, 0.0) / self.half_life_s))

    def charge(self, program: Program, device_s: float, now: float) -> None:
        user = program.user.name
        self._usage[user] = (self.usage(user, now) + device_s, now)

    def order(self, queue: Sequence[Program], now: float) -> list[Program]:
        # Each program's round: how many of its user's programs arrived before it.
        rounds: dict[int, int] = {}
        taken: dict[str, int] = {}
        for program in arrival_order(queue):
            user = program.user.name
            rounds[id(program)] = taken.get(user, 0)
            taken[user] = taken.get(user, 0) + 1
        # ``taken`` lists users by their oldest queued program, which breaks ties in use.
        users = sorted(taken, key=lambda user: self.usage(user, now))
        turn = {user: i for i, user in enumerate(users)}
        return sorted(queue, key=lambda p: (rounds[id(p)], turn[p.user.name]))
