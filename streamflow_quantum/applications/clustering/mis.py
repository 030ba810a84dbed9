"""Solving the consensus QUBO: simulated annealing (the papers' proxy) or QAOA on the QPU."""

from __future__ import annotations

import numpy as np

from streamflow_quantum.applications.clustering.consensus import conflicts_of, weights_of

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


def solve_qaoa(qubo: np.ndarray, seed: int) -> np.ndarray:
    """The lowest-energy bitstring QAOA sampled, through ``sample`` (the vQPU broker when set).

    Candidates beyond :func:`qaoa_candidates` start unselected; :func:`solve` then
    adds those that conflict with no chosen one.
    """
    from streamflow_quantum.applications.qubo_qaoa import solve_qubo

    chosen = qaoa_candidates(qubo)
    selection = np.zeros(len(qubo), dtype=int)
    selection[chosen] = solve_qubo(qubo[np.ix_(chosen, chosen)], seed=seed).x
    return selection


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


def solve(qubo: np.ndarray, solver: str, seed: int) -> np.ndarray:
    """A maximal independent set of the QUBO's conflicts, as a 0/1 vector."""
    if solver == "sa":
        raw = solve_sa(qubo, seed)
    elif solver == "qaoa":
        raw = solve_qaoa(qubo, seed)
    else:
        raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    return maximal_independent(raw, qubo)


def energy(qubo: np.ndarray, selection: np.ndarray) -> float:
    return float(selection @ qubo @ selection)
