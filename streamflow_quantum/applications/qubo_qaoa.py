"""QAOA for a QUBO: minimise ``x^T Q x`` over bit vectors ``x``.

Shared by the applications: MaxCut (QAOA workflow), maximum independent set
(graph colouring) and weighted MIS (clustering aggregation). The quantum part is
always a list of measured circuits handed to a :class:`Sampler`, by default
:func:`streamflow_quantum.broker.client.sample`, so every evaluation goes through
the vQPU broker when ``SFQ_BROKER`` is set.

Conventions: ``Q`` is a square matrix (symmetric or upper triangular, both mean
the same ``x^T Q x``); bit ``i`` of ``x`` is qubit ``i``, i.e. character ``-1 - i``
of a Qiskit bitstring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import qaoa_ansatz
from qiskit.quantum_info import SparsePauliOp
from scipy.optimize import minimize

from streamflow_quantum.broker.client import sample


class Sampler(Protocol):
    """What samples the circuits: :func:`streamflow_quantum.broker.client.sample` or a wrapper of it."""

    def __call__(
        self,
        circuits: Sequence[QuantumCircuit],
        shots: int | None = None,
        seed: int | None = None,
        names: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]: ...


def as_qubo(matrix: np.ndarray | list[list[float]]) -> np.ndarray:
    """``matrix`` as a float array, checked to be a non-empty square QUBO."""
    q = np.asarray(matrix, dtype=float)
    if q.ndim != 2 or q.shape[0] != q.shape[1] or q.shape[0] == 0:
        raise ValueError(f"a QUBO must be a non-empty square matrix, got shape {q.shape}")
    return q


def ising(q: np.ndarray) -> tuple[SparsePauliOp, float]:
    """The cost operator ``H`` and offset with ``x^T Q x = <x|H|x> + offset``.

    Substitutes ``x_i = (1 - Z_i) / 2`` into the symmetrised QUBO.
    """
    s = (q + q.T) / 2
    n = len(s)
    terms: list[tuple[str, list[int], float]] = []
    for i in range(n):
        h = -s[i].sum() / 2
        if h:
            terms.append(("Z", [i], h))
        terms += [("ZZ", [i, j], s[i, j] / 2) for j in range(i + 1, n) if s[i, j]]
    offset = (np.trace(s) + s.sum()) / 4
    if not terms:
        terms.append(("I", [0], 0.0))
    return SparsePauliOp.from_sparse_list(terms, num_qubits=n), float(offset)


def qaoa_circuit(q: np.ndarray, reps: int) -> QuantumCircuit:
    """The measured QAOA ansatz of ``Q``; parameters ``β[0..reps), γ[0..reps)``.

    The cost operator is scaled to unit largest coefficient, so the same
    initial angles suit QUBOs of any scale (the minimiser is unchanged).
    """
    op, _ = ising(q)
    scale = np.abs(op.coeffs).max() or 1.0
    circuit = qaoa_ansatz(op / scale, reps=reps)
    circuit.measure_all()
    return circuit


def initial_point(reps: int) -> np.ndarray:
    """A linear ramp (annealing-like schedule), in the circuit's order β then γ.

    β is negative: ``qaoa_ansatz``'s mixer ``exp(-iβΣX)`` starts from the ground
    state of ``-ΣX``, so an adiabatic path towards the minimum of the cost runs
    with ``β < 0 < γ``.
    """
    ramp = (np.arange(reps) + 0.5) / reps
    return np.concatenate([-0.6 * (1 - ramp), 0.8 * ramp])


def bits_of(bitstrings: list[str]) -> np.ndarray:
    """Qiskit bitstrings as a 0/1 array with column ``i`` for bit ``i``."""
    return np.array([[c == "1" for c in reversed(b)] for b in bitstrings], dtype=int)


def energies(q: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """``x^T Q x`` for each row ``x`` of ``bits``."""
    return np.einsum("ki,ij,kj->k", bits, q, bits)


def mean_energy(q: np.ndarray, counts: dict[str, int]) -> float:
    """The energy estimated from sampled counts (the mean over shots)."""
    keys = list(counts)
    weights = np.array([counts[k] for k in keys], dtype=float)
    return float(weights @ energies(q, bits_of(keys)) / weights.sum())


def sample_points(
    q: np.ndarray,
    circuit: QuantumCircuit,
    points: list[np.ndarray],
    shots: int,
    seed: int | None = None,
    sampler: Sampler = sample,
) -> list[tuple[float, dict[str, int]]]:
    """Mean energy and counts at each parameter point, in one ``sampler`` call."""
    bound = [circuit.assign_parameters(np.asarray(p, dtype=float)) for p in points]
    results = sampler(bound, shots=shots, seed=seed)
    return [(mean_energy(q, r["counts"]), r["counts"]) for r in results]


@dataclass
class QuboResult:
    """What :func:`solve_qubo` found.

    ``samples`` are the distinct bitstrings of the final sampling as
    ``(bits, energy, count)``, lowest energy first; ``x`` is the first of them.
    ``history`` is the mean energy at each optimiser evaluation.
    """

    x: np.ndarray
    energy: float
    params: np.ndarray
    samples: list[tuple[np.ndarray, float, int]]
    history: list[float] = field(default_factory=list)

    @property
    def evaluations(self) -> int:
        return len(self.history)


def ranked_samples(q: np.ndarray, counts: dict[str, int]) -> list[tuple[np.ndarray, float, int]]:
    """Distinct sampled bit vectors with their energies and counts, lowest energy first."""
    keys = list(counts)
    bits = bits_of(keys)
    values = energies(q, bits)
    order = sorted(range(len(keys)), key=lambda k: (values[k], -counts[keys[k]]))
    return [(bits[k], float(values[k]), counts[keys[k]]) for k in order]


def solve_qubo(
    matrix: np.ndarray | list[list[float]],
    reps: int = 1,
    maxiter: int = 30,
    shots: int = 256,
    seed: int | None = None,
    *,
    final_shots: int = 1024,
    sampler: Sampler = sample,
) -> QuboResult:
    """Minimise ``x^T Q x`` with QAOA: COBYLA on the sampled mean energy.

    Each optimiser evaluation is one ``sampler`` call of one circuit; the best
    parameters are then sampled once more with ``final_shots``.
    """
    q = as_qubo(matrix)
    circuit = qaoa_circuit(q, reps)
    history: list[float] = []

    def objective(params: np.ndarray) -> float:
        value, _ = sample_points(q, circuit, [params], shots, seed, sampler)[0]
        history.append(value)
        return value

    found = minimize(
        objective, initial_point(reps), method="COBYLA", options={"maxiter": maxiter, "rhobeg": 0.3}
    )
    _, counts = sample_points(q, circuit, [found.x], final_shots, seed, sampler)[0]
    samples = ranked_samples(q, counts)
    return QuboResult(
        x=samples[0][0], energy=samples[0][1], params=found.x, samples=samples, history=history
    )
