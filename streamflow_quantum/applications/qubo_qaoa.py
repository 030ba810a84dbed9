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
from typing import Any, NamedTuple, Protocol

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
    if not weights.sum():
        raise ValueError("no shots were sampled: the sampler returned empty counts")
    return float(weights @ energies(q, bits_of(keys)) / weights.sum())


def uniform_mean_energy(q: np.ndarray) -> float:
    """The mean energy of uniformly random bit vectors: ``(tr Q + ΣQ) / 4``.

    ``E[x_i] = 1/2`` and ``E[x_i x_j] = 1/4`` for ``i != j``: what a sampler
    returning noise scores, the baseline quantum evidence is measured against.
    """
    return float((np.trace(q) + q.sum()) / 4)


class Sampled(NamedTuple):
    """One circuit's sampling: mean energy, counts, and the broker batch that ran it."""

    energy: float
    counts: dict[str, int]
    batch: str


def sample_points(
    q: np.ndarray,
    circuit: QuantumCircuit,
    points: list[np.ndarray],
    shots: int,
    seed: int | None = None,
    sampler: Sampler = sample,
) -> list[Sampled]:
    """Mean energy, counts and batch id at each parameter point, in one ``sampler`` call."""
    bound = [circuit.assign_parameters(np.asarray(p, dtype=float)) for p in points]
    results = sampler(bound, shots=shots, seed=seed)
    if len(results) != len(bound):
        raise ValueError(f"the sampler returned {len(results)} results for {len(bound)} circuits")
    return [Sampled(mean_energy(q, r["counts"]), r["counts"], str(r["batch"])) for r in results]


@dataclass(frozen=True)
class Evidence:
    """What shows that the final sampling came from an optimised circuit, not noise.

    ``gain`` is how far the sampled mean energy moved from uniform sampling's
    towards the best sampled energy: about 0 for noise, 1 if every shot is the best.
    """

    batches: list[str]
    mean_energy: float
    uniform_energy: float
    best_energy: float

    @property
    def gain(self) -> float:
        spread = self.uniform_energy - self.best_energy
        return (self.uniform_energy - self.mean_energy) / spread if spread > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The evidence as JSON fields (``gain`` rounded to 4 places)."""
        return {
            "batches": self.batches,
            "mean_energy": self.mean_energy,
            "uniform_energy": self.uniform_energy,
            "best_energy": self.best_energy,
            "gain": round(self.gain, 4),
        }


@dataclass
class QuboResult:
    """What :func:`solve_qubo` found.

    ``samples`` are the distinct bitstrings of the final sampling as
    ``(bits, energy, count)``, lowest energy first; ``x`` is the first of them.
    ``history`` is the mean energy at each optimiser evaluation; ``evidence``
    holds the batch ids of every sampler call and the final sampling's energies.
    """

    x: np.ndarray
    energy: float
    params: np.ndarray
    samples: list[tuple[np.ndarray, float, int]]
    evidence: Evidence
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
    batches: list[str] = []

    def objective(params: np.ndarray) -> float:
        evaluation = sample_points(q, circuit, [params], shots, seed, sampler)[0]
        history.append(evaluation.energy)
        batches.append(evaluation.batch)
        return evaluation.energy

    found = minimize(
        objective, initial_point(reps), method="COBYLA", options={"maxiter": maxiter, "rhobeg": 0.3}
    )
    final = sample_points(q, circuit, [found.x], final_shots, seed, sampler)[0]
    samples = ranked_samples(q, final.counts)
    evidence = Evidence(
        [*batches, final.batch], final.energy, uniform_mean_energy(q), samples[0][1]
    )
    return QuboResult(
        x=samples[0][0],
        energy=samples[0][1],
        params=found.x,
        samples=samples,
        evidence=evidence,
        history=history,
    )
