"""Qiskit Aer: ideal, or with a fake device's noise model and coupling map."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

from streamflow_quantum.backends.base import Backend, normalise_counts
from streamflow_quantum.backends.registry import fake_device

if TYPE_CHECKING:
    from qiskit.providers import BackendV2

    from streamflow_quantum.core.model import Batch


class AerBackend(Backend):
    """Runs a batch's placements as separate experiments of one ``run()`` call.

    That is exact under Aer's noise models (no crosstalk between placements) and far
    faster than simulating the device-wide composite circuit.
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

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        circuits = [placement.circuit for placement in batch.placements]
        result = self.simulator.run(circuits, shots=batch.shots, seed_simulator=seed).result()
        counts = [normalise_counts(result.get_counts(i)) for i in range(len(circuits))]
        return f"aer-{uuid.uuid4().hex[:12]}", counts
