"""Each user's quotas on a shared broker: programs queued at once, and modelled device
time per period (``quotaPeriod``), charged as batches end."""

from __future__ import annotations

from collections import deque

from streamflow_quantum.core.model import User


class Quotas:
    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        #: Each user's (time, device seconds) charges within the last period, oldest first.
        self._used: dict[str, deque[tuple[float, float]]] = {}

    def refusal(self, user: User, queued: int, now: float) -> str | None:
        """Why ``user``, with ``queued`` programs queued, may queue no more now (None: they may)."""
        if user.max_queued and queued >= user.max_queued:
            return (
                f"user {user.name} has {queued} programs queued, their quota "
                f"(max_queued {user.max_queued}); submit more as these finish"
            )
        if user.device_s:
            used = self._within(user.name, now)
            total = sum(s for _, s in used)
            if total >= user.device_s:
                return (
                    f"user {user.name} used {total:.3g} of their {user.device_s:g} modelled "
                    f"device seconds per {self.period_s:g} s (quota device_seconds); the "
                    f"oldest of it frees in {used[0][0] + self.period_s - now:.0f} s"
                )
        return None

    def charge(self, user: User, device_s: float, now: float) -> None:
        self._used.setdefault(user.name, deque()).append((now, device_s))
        self._within(user.name, now)

    def _within(self, name: str, now: float) -> deque[tuple[float, float]]:
        """``name``'s charges of the last period (older ones dropped)."""
        used = self._used.get(name, deque())
        while used and used[0][0] <= now - self.period_s:
            used.popleft()
        return used
