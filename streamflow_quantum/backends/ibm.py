"""IBM Quantum through qiskit-ibm-runtime's SamplerV2, in job, batch or session mode.

The token comes from ``QISKIT_IBM_TOKEN`` or the saved account and is handed to the
runtime only: it is never logged or stored. A fake device name (``fake_brisbane``)
runs the same code path in the runtime's local mode, offline.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING, Any

from streamflow_quantum.backends.base import Backend, normalise_counts
from streamflow_quantum.backends.registry import fake_device
from streamflow_quantum.core.config import Schema, load_schema
from streamflow_quantum.core.errors import ConfigError

if TYPE_CHECKING:
    from qiskit.providers import BackendV2

    from streamflow_quantum.core.model import Batch


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
        from qiskit_ibm_runtime import SamplerV2, Session

        self.device = (
            device if device is not None else _runtime_backend(name or "", channel, instance)
        )
        self._context = {"session": Session, "batch": RuntimeBatch}.get(mode)
        self._mode = self._context(backend=self.device) if self._context else self.device
        self.sampler = SamplerV2(mode=self._mode)
        super().__init__(f"ibm:{self.device.name}", self.device.target)

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        if seed is not None and hasattr(self.sampler.options, "simulator"):
            self.sampler.options.simulator.seed_simulator = seed
        job = self.sampler.run([batch.composite], shots=batch.shots)
        counts = normalise_counts(job.result()[0].join_data().get_counts())
        return job.job_id(), batch.split_counts(counts)

    def close(self) -> None:
        if self._context is not None:
            self._mode.close()
