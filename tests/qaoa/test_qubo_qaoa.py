from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from streamflow_quantum.applications.qubo_qaoa import (
    Evidence,
    energies,
    ising,
    mean_energy,
    solve_qubo,
    uniform_mean_energy,
)
from tests.qaoa.samplers import no_samples, uniform_noise


def all_bits(n: int) -> np.ndarray:
    """Row k is basis state k in Qiskit's order (bit i of k is qubit i)."""
    return np.array([[(k >> i) & 1 for i in range(n)] for k in range(2**n)])


def test_cost_operator_equals_the_qubo_on_every_basis_state() -> None:
    q = np.random.default_rng(3).normal(size=(4, 4))  # neither symmetric nor triangular
    op, offset = ising(q)
    diagonal = np.real(np.diag(op.to_matrix())) + offset
    np.testing.assert_allclose(diagonal, energies(q, all_bits(4)), atol=1e-12)


def test_mean_energy_weights_bitstrings_by_counts() -> None:
    q = np.diag([-1.0, -2.0])
    # "01": bit 0 set (energy -1); "10": bit 1 set (energy -2)
    assert mean_energy(q, {"01": 3, "10": 1}) == (3 * -1 + 1 * -2) / 4


def test_solve_qubo_finds_the_maximum_independent_set_of_a_path() -> None:
    a = nx.to_numpy_array(nx.path_graph(5))
    result = solve_qubo(10 * np.triu(a) - np.eye(5), reps=1, maxiter=15, shots=256, seed=11)
    assert result.x.tolist() == [1, 0, 1, 0, 1]
    assert result.energy == -3
    assert result.evaluations == len(result.history) <= 15
    # every sample is reported once, sorted by energy
    assert [e for _, e, _ in result.samples] == sorted(e for _, e, _ in result.samples)
    assert len({tuple(b) for b, _, _ in result.samples}) == len(result.samples)
    assert sum(c for _, _, c in result.samples) == 1024
    # one batch per sampler call, the final sampling last
    assert len(set(result.evidence.batches)) == result.evaluations + 1
    assert result.evidence.best_energy == -3
    assert result.evidence.gain > 0.5


def test_uniform_mean_energy_is_the_mean_over_every_bit_vector() -> None:
    q = np.random.default_rng(4).normal(size=(5, 5))
    assert uniform_mean_energy(q) == pytest.approx(energies(q, all_bits(5)).mean())


def test_gain_measures_the_way_from_uniform_to_the_best_sampled() -> None:
    assert Evidence([], mean_energy=2.0, uniform_energy=2.0, best_energy=-2.0).gain == 0
    assert Evidence([], mean_energy=-1.0, uniform_energy=2.0, best_energy=-4.0).gain == 0.5
    assert Evidence([], mean_energy=1.0, uniform_energy=1.0, best_energy=1.0).gain == 0


def test_noise_gains_nothing_and_no_samples_is_an_error() -> None:
    q = 10 * np.triu(nx.to_numpy_array(nx.path_graph(5))) - np.eye(5)
    noise = solve_qubo(q, maxiter=5, shots=256, seed=1, sampler=uniform_noise).evidence
    assert abs(noise.gain) < 0.1
    with pytest.raises(ValueError, match="no shots were sampled"):
        solve_qubo(q, maxiter=5, sampler=no_samples)


def test_qubo_energies_match_a_direct_sum() -> None:
    q = np.arange(9.0).reshape(3, 3)
    for bits in itertools.product((0, 1), repeat=3):
        x = np.array(bits)
        assert energies(q, x[None, :])[0] == sum(
            q[i, j] * x[i] * x[j] for i in range(3) for j in range(3)
        )
