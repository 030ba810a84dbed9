"""Qiskit Aer: ideal, or with a fake device's noise model and coupling map."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

from streamflow_quantum.backends.base import Backend, normalise_counts
from streamflow_quantum.backends.faithful import faithful_counts
from streamflow_quantum.backends.registry import fake_device

if TYPE_CHECKING:
    from qiskit.providers import BackendV2

    from streamflow_quantum.core.model import Batch


class AerBackend(Backend):
    """Simulates a batch in one ``run()`` call, by one of two faces.

    With noise, the composite-faithful face (:func:`faithful_counts`): the composite is
    scheduled so idle qubits carry delays, split into independent qubit groups, and
    each group is one experiment. A time-packed program so pays for the reset and the
    waits before it, and any program for its own idle time. This applies to
    single-program batches too, so packed and serial runs are measured alike.

    Ideal, each placement alone as its own experiment: without noise, fresh qubits
    are exactly what a reset gives and timing changes nothing, so this is exact and
    skips the scheduling.
    """

    @classmethod
    def check_device(cls, device: str, spec: str) -> None:
        if device:
            fake_device(device, spec)

    @classmethod
    def open(cls, device: str, noise: bool, **options: Any) -> AerBackend:
        return cls(fake_device(device, f"aer:{device}") if device else None, noise=noise)

    def __init__(self, device: BackendV2 | None = None, noise: bool = True) -> None:
        from qiskit_aer import AerSimulator

        if device is None:
            self.simulator = AerSimulator()
            name = "aer"
        else:
            self.simulator = (
                AerSimulator.from_backend(device)
                if noise
                else AerSimulator.from_backend(device, noise_model=None)
            )
            name = f"aer:{device.name}"
        super().__init__(name, self.simulator.target)

    @property
    def noisy(self) -> bool:
        noise_model = self.simulator.options.noise_model
        return noise_model is not None and not noise_model.is_ideal()

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        job = f"aer-{uuid.uuid4().hex[:12]}"
        if self.noisy:
            return job, faithful_counts(self.simulator, batch, batch.shots, seed)
        circuits = [placement.circuit for placement in batch.placements]
        result = self.simulator.run(circuits, shots=batch.shots, seed_simulator=seed).result()
        counts = [normalise_counts(result.get_counts(i)) for i in range(len(circuits))]
        return job, counts
