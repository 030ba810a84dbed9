"""Broken samplers for the quantum-evidence tests: what a failed quantum step looks like.

Each has the signature of :func:`streamflow_quantum.broker.client.sample`; the
evidence tests pass with the real sampler and must fail with these.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

#: Shots when the caller leaves them to the sampler (the broker's default).
DEFAULT_SHOTS = 1024

_batches = itertools.count()


def _result(counts: dict[str, int]) -> dict[str, Any]:
    n = next(_batches)
    return {"counts": counts, "batch": f"b-fake-{n}", "job": f"fake-{n}"}


def uniform_noise(
    circuits: Sequence[QuantumCircuit],
    shots: int | None = None,
    seed: int | None = None,
    names: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Uniformly random bitstrings of each circuit's width, ``shots`` of them."""
    rng = np.random.default_rng(seed)
    results = []
    for circuit in circuits:
        bits = rng.integers(0, 2, size=(shots or DEFAULT_SHOTS, circuit.num_clbits))
        counts = Counter("".join(map(str, row)) for row in bits)
        results.append(_result(dict(counts)))
    return results


def no_samples(
    circuits: Sequence[QuantumCircuit],
    shots: int | None = None,
    seed: int | None = None,
    names: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """A result per circuit, with no shots in it."""
    return [_result({}) for _ in circuits]


BROKEN = {"uniform-noise": uniform_noise, "no-samples": no_samples}
