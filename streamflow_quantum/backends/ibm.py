"""IBM Quantum through qiskit-ibm-runtime's client-side Sampler, in job, batch or session mode.

The Sampler (``qiskit_ibm_runtime.executor_sampler``) turns its inputs into a
``QuantumProgram`` and submits it through the ``Executor``; it replaces the deprecated
``SamplerV2``. One job holds one shot count, and a broker batch has one: each batch is
one job.

The token comes from ``QISKIT_IBM_TOKEN`` or the saved account and is handed to the
runtime only: it is never logged or stored. A fake device name (``fake_brisbane``)
runs the same code path in the runtime's local mode, offline, on Aer with the device's
noise model.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from typing import TYPE_CHECKING, Any

from streamflow_quantum.backends.base import (
    Backend,
    active_qubits,
    calibration_id,
    normalise_counts,
)
from streamflow_quantum.backends.registry import fake_device
from streamflow_quantum.core.config import Schema, load_schema
from streamflow_quantum.core.errors import ConfigError, one_line

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.providers import BackendV2

    from streamflow_quantum.core.model import Batch

logger = logging.getLogger(__name__)

#: In local mode, a composite circuit acting on more qubits than this is simulated as its
#: placements instead (one pub each, still one job): Aer's noise models have no crosstalk,
#: so the counts are the same in distribution; the GHZ example's 28-qubit composite on
#: fake_brisbane ran for more than ten minutes.
LOCAL_COMPOSITE_QUBITS = 16


def _runtime_backend(name: str, channel: str | None, instance: str | None) -> BackendV2:
    from qiskit_ibm_runtime import QiskitRuntimeService

    options: dict[str, Any] = {"instance": instance} if instance else {}
    if channel:
        options["channel"] = channel
    if token := os.environ.get("QISKIT_IBM_TOKEN"):
        options["token"] = token
    service = QiskitRuntimeService(**options)
    return service.backend(name)


class IBMBackend(Backend):
    """Submits each batch's composite circuit as one Sampler job."""

    @classmethod
    def options_schema(cls) -> Schema:
        return load_schema(__package__ or "", "ibm.json")

    @classmethod
    def check_device(cls, device: str, spec: str) -> None:
        if not device:
            raise ConfigError(
                f"backend {spec!r}: name the device, e.g. ibm:ibm_brisbane, "
                "or ibm:fake_brisbane for the runtime's local mode"
            )
        if device.startswith("fake_"):
            fake_device(device, spec)

    @classmethod
    def open(cls, device: str, noise: bool, **options: Any) -> IBMBackend:
        """``options`` are the ``ibm`` block: ``channel``, ``instance`` and ``mode``."""
        local = fake_device(device, f"ibm:{device}") if device.startswith("fake_") else None
        return cls(device=local, name=device, **options)

    def __init__(
        self,
        device: BackendV2 | None = None,
        name: str | None = None,
        channel: str | None = None,
        instance: str | None = None,
        mode: str = "job",
    ) -> None:
        from qiskit_ibm_runtime import Batch as RuntimeBatch
        from qiskit_ibm_runtime import Session

        #: A fake device: the runtime's local mode (Aer), offline.
        self.local = device is not None
        self.device = (
            device if device is not None else _runtime_backend(name or "", channel, instance)
        )
        context = {"session": Session, "batch": RuntimeBatch}.get(mode)
        self._context = context(backend=self.device) if context is not None else None
        super().__init__(f"ibm:{self.device.name}", self.device.target)
        self.calibration = self._calibrated_at(refresh=False)
        #: What IBM charged for each job run, until the broker asks (``used_s``).
        self._used: dict[str, float | None] = {}

    def _calibrated_at(self, refresh: bool) -> str | None:
        """The id of the device's calibration: its properties' ``last_update_date``."""
        properties = self.device.properties(refresh=refresh)
        return calibration_id(getattr(properties, "last_update_date", None))

    def refresh_calibration(self) -> bool:
        """Ask the provider for the device's properties; where their date changed, refresh
        the device's configuration and Target and take them. A fake device's snapshot
        never changes (calibration files are for ``aer:<fake device>``)."""
        if self.local or self._calibrated_at(refresh=True) == self.calibration:
            return False
        self.device.refresh()
        self._recalibrated(self.device.target, self._calibrated_at(refresh=False))
        return True

    def _circuits(self, batch: Batch) -> list[QuantumCircuit]:
        """What the job samples: the composite, or in local mode a wide one's placements."""
        if self.local and len(active_qubits(batch.composite)) > LOCAL_COMPOSITE_QUBITS:
            return [placement.circuit for placement in batch.placements]
        return [batch.composite]

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        from qiskit_ibm_runtime.executor_sampler import Sampler

        options: dict[str, Any] = {}
        if self.local and seed is not None:
            options["simulator"] = {"seed_simulator": seed}
        mode = self._context if self._context is not None else self.device
        sampler = Sampler(mode=mode, options=options)
        circuits = self._circuits(batch)
        job = sampler.run(circuits, shots=batch.shots)
        batch.report_job(str(job.job_id()))
        results = job.result()
        counts = [normalise_counts(result.join_data().get_counts()) for result in results]
        job_id = str(job.job_id())
        if not self.local:
            self._used[job_id] = self._usage(job)
        if len(circuits) == 1 and circuits[0] is batch.composite:
            return job_id, batch.split_counts(counts[0])
        return job_id, counts

    def _usage(self, job: Any) -> float | None:
        """The seconds IBM charged for a finished job (its running total if the final
        figure is still pending); None, with the reason logged, where it cannot be read."""
        try:
            used = job.usage(partial=True)
        except Exception as e:  # the counts stand; quotas fall back to the modelled time
            logger.warning("usage of IBM job %s not read: %s", job.job_id(), one_line(e))
            return None
        return None if used is None else float(used)

    def used_s(self, job_id: str) -> float | None:
        return self._used.pop(job_id, None)

    @property
    def can_attach(self) -> bool:  # type: ignore[override]  # the runtime's local mode keeps no jobs
        return not self.local

    def job_counts(self, job_id: str) -> Counter[str]:
        """The composite's counts of a job this backend submitted before a broker restart."""
        job = self.device.service.job(job_id)
        return normalise_counts(job.result()[0].join_data().get_counts())

    def close(self) -> None:
        if self._context is not None:
            self._context.close()
