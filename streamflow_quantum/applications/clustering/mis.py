"""Solving the consensus QUBO: simulated annealing (the papers' proxy) or QAOA on the QPU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from streamflow_quantum.applications.clustering.consensus import conflicts_of, weights_of
from streamflow_quantum.broker.client import sample

if TYPE_CHECKING:
    from streamflow_quantum.applications.qubo_qaoa import Evidence, Sampler

SOLVERS = ("sa", "qaoa")
#: QAOA simulates one qubit per candidate: on Aer 19 candidates take ~20 s, each
#: further one doubles that. Larger rounds give QAOA their heaviest candidates.
QAOA_MAX_CANDIDATES = 20
SA_READS = 100


def solve_sa(qubo: np.ndarray, seed: int, reads: int = SA_READS) -> np.ndarray:
    """The lowest-energy of ``reads`` dwave-samplers annealing runs, as a 0/1 vector."""
    import dimod
    from dwave.samplers import SimulatedAnnealingSampler

    bqm = dimod.BinaryQuadraticModel(qubo, "BINARY")
    best = SimulatedAnnealingSampler().sample(bqm, num_reads=reads, seed=seed).first.sample
    return np.array([best[i] for i in range(len(qubo))], dtype=int)


def qaoa_candidates(qubo: np.ndarray) -> np.ndarray:
    """The candidates QAOA decides on: all, or the ``QAOA_MAX_CANDIDATES`` heaviest."""
    return np.sort(np.argsort(-weights_of(qubo), kind="stable")[:QAOA_MAX_CANDIDATES])


def solve_qaoa(
    qubo: np.ndarray, seed: int, sampler: Sampler = sample
) -> tuple[np.ndarray, Evidence]:
    """The lowest-energy bitstring QAOA sampled, through ``sampler`` (the vQPU broker when set).

    Candidates beyond :func:`qaoa_candidates` start unselected; :func:`solve` then
    adds those that conflict with no chosen one.
    """
    from streamflow_quantum.applications.qubo_qaoa import solve_qubo

    chosen = qaoa_candidates(qubo)
    selection = np.zeros(len(qubo), dtype=int)
    result = solve_qubo(qubo[np.ix_(chosen, chosen)], seed=seed, sampler=sampler)
    selection[chosen] = result.x
    return selection, result.evidence


def maximal_independent(selection: np.ndarray, qubo: np.ndarray) -> np.ndarray:
    """The selection made a maximal independent set, greedily by weight.

    Selected candidates are kept heaviest first unless they conflict with one kept
    already; then unselected ones are added while they conflict with none. A
    single-flip minimum of the QUBO (what annealing returns) comes back unchanged;
    a QAOA sample may not be one.
    """
    conflicts = conflicts_of(qubo)
    order = np.lexsort((-weights_of(qubo), ~selection.astype(bool)))
    chosen = np.zeros(len(qubo), dtype=bool)
    for i in order:
        chosen[i] = not (conflicts[i] & chosen).any()
    return chosen.astype(int)


@dataclass
class Solution:
    """The repaired selection, the solver's own before repair, and QAOA's evidence."""

    selection: np.ndarray
    raw: np.ndarray
    evidence: Evidence | None = None

    @property
    def from_sampler(self) -> int:
        """How many chosen candidates the solver itself chose (before the repair)."""
        return int((self.selection & self.raw).sum())

    def evidence_fields(self) -> dict[str, Any]:
        """``from_sampler``, and the QAOA evidence (only an empty ``batches`` for annealing)."""
        fields = self.evidence.to_dict() if self.evidence else {"batches": []}
        return {"from_sampler": self.from_sampler} | fields


def solve(qubo: np.ndarray, solver: str, seed: int, sampler: Sampler = sample) -> Solution:
    """A maximal independent set of the QUBO's conflicts, with what the solver chose itself."""
    evidence = None
    if solver == "sa":
        raw = solve_sa(qubo, seed)
    elif solver == "qaoa":
        raw, evidence = solve_qaoa(qubo, seed, sampler)
    else:
        raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    return Solution(maximal_independent(raw, qubo), raw, evidence)


def energy(qubo: np.ndarray, selection: np.ndarray) -> float:
    return float(selection @ qubo @ selection)
