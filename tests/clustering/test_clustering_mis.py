from __future__ import annotations

from itertools import product

import numpy as np
import pytest

from streamflow_quantum.applications.clustering import mis
from streamflow_quantum.applications.clustering.consensus import Candidates, conflicts_of, mis_qubo
from streamflow_quantum.applications.clustering.dataset import make_dataset
from streamflow_quantum.applications.clustering.methods import METHODS, cluster
from streamflow_quantum.applications.qubo_qaoa import Sampler
from tests.qaoa.samplers import BROKEN

#: Least share of the chosen candidates that QAOA's own best sample chose (the rest
#: come from the repair), and least ``gain`` of its final sampling: how far its mean
#: energy moved from uniform sampling's (0) towards the best sampled (1). QAOA scores
#: 0.8-0.9 on these QUBOs, noise about 0; on small QUBOs noise's best of 1024 shots
#: is often a good set too, so the share alone does not tell them apart.
MIN_SAMPLED_SHARE = 0.8
MIN_GAIN = 0.5


def random_qubo(n: int, seed: int, density: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.random((n, n)) < density, 1)
    return mis_qubo(upper | upper.T, rng.integers(1, 100, size=n))


def round_qubo(n_points: int, round_number: int) -> np.ndarray:
    points = make_dataset(n_points, centers=5)
    candidates = Candidates.from_labels({m: cluster(points, m, round_number) for m in METHODS})
    return mis_qubo(candidates.conflicts(), candidates.sizes())


def assert_quantum_evidence(solution: dict) -> None:
    """``solution`` as in mis.json: QAOA ran, chose most of the answer, and beat noise."""
    assert solution["batches"]
    assert solution["from_sampler"] >= MIN_SAMPLED_SHARE * len(solution["selected"])
    assert solution["gain"] >= MIN_GAIN


def as_json(solution: mis.Solution) -> dict:
    return {"selected": np.flatnonzero(solution.selection).tolist()} | solution.evidence_fields()


def is_maximal_independent(selection: np.ndarray, qubo: np.ndarray) -> bool:
    conflicts = conflicts_of(qubo)
    chosen = selection.astype(bool)
    independent = not (conflicts[chosen][:, chosen]).any()
    maximal = all(conflicts[i, chosen].any() for i in np.flatnonzero(~chosen))
    return independent and maximal


def brute_force_minimum(qubo: np.ndarray) -> float:
    return min(float(np.array(x) @ qubo @ np.array(x)) for x in product((0, 1), repeat=len(qubo)))


@pytest.mark.parametrize("seed", range(4))
def test_annealing_finds_the_minimum_of_small_qubos(seed: int) -> None:
    qubo = random_qubo(11, seed)
    raw = mis.solve_sa(qubo, seed=seed)
    assert mis.energy(qubo, raw) == pytest.approx(brute_force_minimum(qubo))
    assert is_maximal_independent(raw, qubo)
    solution = mis.solve(qubo, "sa", seed)
    assert (solution.selection == solution.raw).all() and (raw == solution.raw).all()
    assert solution.from_sampler == raw.sum()
    assert solution.evidence_fields()["batches"] == []


@pytest.mark.parametrize("round_number", [1, 4])
def test_a_rounds_solution_has_no_conflicts(round_number: int) -> None:
    qubo = round_qubo(3000, round_number)
    selection = mis.solve(qubo, "sa", seed=round_number).selection
    assert selection.sum() >= 1
    assert is_maximal_independent(selection, qubo)


def test_repair_drops_the_lighter_of_conflicting_candidates_and_fills_up() -> None:
    # Candidates 0-1 and 1-2 conflict; weights 0.5, 1, 0.25; 3 conflicts with nothing.
    upper = np.zeros((4, 4), dtype=bool)
    upper[0, 1] = upper[1, 2] = True
    qubo = mis_qubo(upper | upper.T, np.array([2, 4, 1, 3]))
    assert mis.maximal_independent(np.array([1, 1, 1, 0]), qubo).tolist() == [0, 1, 0, 1]
    assert mis.maximal_independent(np.array([1, 0, 0, 0]), qubo).tolist() == [1, 0, 1, 1]
    assert mis.maximal_independent(np.array([1, 0, 1, 1]), qubo).tolist() == [1, 0, 1, 1]


def test_qaoa_solves_a_small_round_exactly() -> None:
    qubo = random_qubo(6, seed=7, density=0.5)
    raw, _ = mis.solve_qaoa(qubo, seed=1)
    assert mis.energy(qubo, raw) == pytest.approx(brute_force_minimum(qubo))
    assert is_maximal_independent(raw, qubo)


def test_qaoa_chooses_the_answer_itself_and_beats_noise() -> None:
    qubo = random_qubo(10, seed=7)
    solution = mis.solve(qubo, "qaoa", seed=1)
    assert is_maximal_independent(solution.selection, qubo)
    assert len(solution.evidence_fields()["batches"]) >= 2  # evaluations and the final one
    assert_quantum_evidence(as_json(solution))


@pytest.mark.parametrize("broken", BROKEN.values(), ids=BROKEN.keys())
def test_the_evidence_fails_when_the_sampler_is_broken(broken: Sampler) -> None:
    qubo = random_qubo(10, seed=7)
    with pytest.raises((AssertionError, ValueError)):
        assert_quantum_evidence(as_json(mis.solve(qubo, "qaoa", seed=1, sampler=broken)))


def test_qaoa_takes_the_heaviest_candidates_of_a_large_round() -> None:
    qubo = random_qubo(mis.QAOA_MAX_CANDIDATES + 5, seed=3)
    chosen = mis.qaoa_candidates(qubo)
    weights = -np.diag(qubo)
    assert len(chosen) == mis.QAOA_MAX_CANDIDATES
    assert weights[chosen].min() >= np.delete(weights, chosen).max()


def test_unknown_solver_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="choose one of sa, qaoa"):
        mis.solve(random_qubo(3, 0), "exact", 0)
