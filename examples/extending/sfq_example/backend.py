"""Backend ``example``: exact ideal sampling with Qiskit's reference StatevectorSampler."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from qiskit.primitives import StatevectorSampler
from qiskit.transpiler import Target

from streamflow_quantum.backends.base import Backend
from streamflow_quantum.core.config import Schema
from streamflow_quantum.core.model import Batch


class ExampleBackend(Backend):
    """A small all-to-all device; each placement runs as its own ideal experiment
    (measurements at the end of a circuit only, as StatevectorSampler allows)."""

    @classmethod
    def options_schema(cls) -> Schema:
        return {
            "type": "object",
            "title": "Example backend options",
            "description": "Used with the 'example' backend",
            "properties": {
                "qubits": {
                    "type": "integer",
                    "description": "Device qubits",
                    "default": 12,
                    "minimum": 1,
                }
            },
            "additionalProperties": False,
        }

    @classmethod
    def open(cls, device: str, noise: bool, **options: Any) -> ExampleBackend:
        return cls(options.get("qubits", 12))

    def __init__(self, qubits: int) -> None:
        basis = ["rz", "sx", "x", "cx", "measure", "reset"]
        super().__init__("example", Target.from_configuration(basis, num_qubits=qubits))

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        circuits = [placement.circuit for placement in batch.placements]
        results = StatevectorSampler(seed=seed).run(circuits, shots=batch.shots).result()
        return f"example-{uuid.uuid4().hex[:12]}", [
            Counter(result.join_data().get_counts()) for result in results
        ]
