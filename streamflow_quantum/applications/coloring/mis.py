"""Maximal independent sets of a (sub)graph, sampled by QAOA or simulated annealing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from streamflow_quantum.applications.qubo_qaoa import Evidence, Sampler, solve_qubo
from streamflow_quantum.broker.client import sample

#: BBQ-MIS's weight of an edge inside the set, against 1 per vertex in it.
PENALTY = 10.0


@dataclass
class MisSample:
    """Sampled sets, lowest energy first, and the QAOA evidence (none for annealing)."""

    sets: list[list[int]]
    evidence: Evidence | None = None

    def evidence_fields(self) -> dict[str, Any]:
        """The evidence as JSON fields; only an empty ``batches`` without QAOA."""
        return self.evidence.to_dict() if self.evidence else {"batches": []}

    def to_dict(self) -> dict[str, Any]:
        return {"sets": self.sets} | self.evidence_fields()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MisSample:
        evidence = (
            Evidence(
                data["batches"], data["mean_energy"], data["uniform_energy"], data["best_energy"]
            )
            if "mean_energy" in data
            else None
        )
        return cls(data["sets"], evidence)


MisSolver = Callable[[nx.Graph], MisSample]


def mis_qubo(graph: nx.Graph) -> tuple[np.ndarray, list[int]]:
    """``Q = PENALTY x triu(A) - I`` over the vertices in sorted order, and that order."""
    order = sorted(graph)
    a = nx.to_numpy_array(graph, nodelist=order)
    return PENALTY * np.triu(a) - np.eye(len(order)), order


def _sets(order: list[int], samples: list[tuple[np.ndarray, float, int]]) -> list[list[int]]:
    """The distinct sampled sets, lowest energy first (the search keeps the maximal ones)."""
    return [[v for v, bit in zip(order, bits, strict=True) if bit] for bits, _, _ in samples]


def qaoa_mis(
    graph: nx.Graph,
    reps: int = 1,
    maxiter: int = 20,
    shots: int = 256,
    seed: int | None = None,
    sampler: Sampler = sample,
) -> MisSample:
    """Sets sampled from QAOA optimised on the MIS QUBO (one ``sampler`` call per evaluation)."""
    q, order = mis_qubo(graph)
    result = solve_qubo(q, reps, maxiter, shots, seed, final_shots=shots, sampler=sampler)
    return MisSample(_sets(order, result.samples), result.evidence)


def annealing_mis(graph: nx.Graph, reads: int = 64, seed: int | None = None) -> MisSample:
    """Sets sampled by simulated annealing: the papers' classical proxy for the QPU."""
    import dimod
    from dwave.samplers import SimulatedAnnealingSampler

    q, order = mis_qubo(graph)
    bqm = dimod.BinaryQuadraticModel.from_qubo({(i, j): v for (i, j), v in np.ndenumerate(q) if v})
    found = SimulatedAnnealingSampler().sample(bqm, num_reads=reads, seed=seed).aggregate()
    return MisSample(
        [
            [v for i, v in enumerate(order) if record.sample[i]]
            for record in found.data(["sample"], sorted_by="energy")
        ]
    )
