"""Keeping each QPU's Target calibrated while the broker runs (``calibrationPeriod``).

Each period, a QPU's backend re-reads its calibration in a daemon thread (an IBM call
may hang; nothing waits on it but this QPU's next check). Where it changed, its
packing policy recalibrates in the QPU's packer thread, so that it never runs beside
batch forming. A failure is logged with its reason and tried again the next period:
the broker goes on with the calibration it has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from streamflow_quantum.broker.threads import in_daemon_thread
from streamflow_quantum.core.errors import one_line

if TYPE_CHECKING:
    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.broker.threads import WorkerPool

logger = logging.getLogger(__name__)


class Recalibrates(Protocol):
    """A packing policy, or what wraps one (``formed.Formed``)."""

    @property
    def name(self) -> str: ...

    def recalibrate(self) -> None: ...


class Calibrated:
    """One QPU's backend and policy, and the calibration its policy has taken."""

    def __init__(self, backend: Backend, policy: Recalibrates, packer: WorkerPool) -> None:
        self.backend, self.policy, self.packer = backend, policy, packer
        self.taken = backend.calibration
        #: The backend took a calibration that the policy has not yet.
        self.pending = False

    async def check(self) -> bool:
        """Refresh the backend's calibration, then the policy's where it changed; True
        when the policy took a new one."""
        name = self.backend.name
        try:
            changed = await in_daemon_thread(
                self.backend.refresh_calibration, f"sfq-calibrate-{name}"
            )
        except Exception as e:  # a provider or file failure: keep the calibration we have
            logger.warning(
                "calibration of %s not refreshed: %s; trying again next period", name, one_line(e)
            )
            changed = False
        self.pending = self.pending or changed
        if not self.pending:
            return False
        try:
            await self.packer.run(self.policy.recalibrate)
        except Exception as e:  # the policy keeps its old ranking: queued work still runs
            logger.warning(
                "the %s policy of %s did not recalibrate: %s; trying again next period",
                self.policy.name,
                name,
                one_line(e),
            )
            return False
        logger.info(
            "calibration of %s changed: %s -> %s; regions re-ranked",
            name,
            self.taken,
            self.backend.calibration,
        )
        self.taken, self.pending = self.backend.calibration, False
        return True


async def keep_calibrated(
    qpus: Sequence[tuple[Backend, Recalibrates, WorkerPool]], period_s: float
) -> None:
    """Check every QPU's calibration every ``period_s`` seconds, until cancelled.

    ``qpus`` are (backend, policy, packer pool) triples; ``period_s`` of 0 checks never
    (returns at once). Each QPU keeps its own clock, so a slow provider delays no other.
    """
    if period_s <= 0:
        return
    await asyncio.gather(*(_every(Calibrated(*qpu), period_s) for qpu in qpus))


async def _every(qpu: Calibrated, period_s: float) -> None:
    while True:
        await asyncio.sleep(period_s)
        await qpu.check()
