"""The ``fit`` packer: isolation on any device, FIFO, the fidelity budget, correct counts."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.fake_provider import FakeBrisbane, FakeFez, FakeManilaV2, FakeTorino

from streamflow_quantum.backends.base import estimate_duration_s
from streamflow_quantum.core.model import Batch, Program
from streamflow_quantum.packing.fidelity import success_probability
from streamflow_quantum.packing.fit import cover
from streamflow_quantum.packing.fit.bound import Demand, lower_bound_batches
from streamflow_quantum.packing.fit.conflicts import (
    Allowed,
    Reach,
    conflict_bound,
    in_time,
    side_by_side,
)
from streamflow_quantum.packing.fit.cover import Kind, cover_bound
from streamflow_quantum.packing.fit.device import Device
from streamflow_quantum.packing.fit.policy import FitPolicy
from streamflow_quantum.packing.registry import POLICIES, policy_options
from tests.packer.conftest import drain, random_program, unsupported

DEVICES = {"brisbane": FakeBrisbane, "torino": FakeTorino, "fez": FakeFez, "manila": FakeManilaV2}


@functools.cache
def device(name: str) -> object:
    return DEVICES[name]()


def fit_policy(target: object, **options: object) -> FitPolicy:
    """The registered ``fit`` policy, options defaulted and checked as the qpu config does."""
    cls = POLICIES.get("fit")
    assert cls is FitPolicy
    return FitPolicy(target, **policy_options("fit", options))  # type: ignore[arg-type]


def ghz(width: int, name: str = "") -> QuantumCircuit:
    circuit = QuantumCircuit(width, width, name=name or f"ghz{width}")
    circuit.h(0)
    for q in range(width - 1):
        circuit.cx(q, q + 1)
    circuit.measure(range(width), range(width))
    return circuit


def prepared_queue(policy: FitPolicy, programs: list[Program]) -> list[Program]:
    for program in programs:
        policy.prepare(program)
    return programs


def assert_isolated_and_valid(batch: Batch, target: object, edges: set[tuple[int, int]]) -> None:
    """Valid gates on their qubits; programs that overlap in time share no qubit and no edge."""
    assert unsupported(batch.composite, target) == []
    spans = []
    for placement in batch.placements:
        assert unsupported(placement.circuit, target) == []
        duration = estimate_duration_s(placement.circuit, target) or 0.0
        spans.append((placement.start_s, placement.start_s + duration, set(placement.qubits)))
    for i, (start_a, end_a, a) in enumerate(spans):
        for start_b, end_b, b in spans[i + 1 :]:
            if start_a < end_b and start_b < end_a:  # the same time layer
                assert not a & b
                assert not any((min(p, q), max(p, q)) in edges for p in a for q in b)


def coupling_edges(target: object) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for a, b in target.build_coupling_map().get_edges()}


@pytest.mark.parametrize("name", sorted(DEVICES))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    widths=st.lists(st.integers(1, 6), min_size=2, max_size=9),
    seed=st.integers(0, 10_000),
    budget=st.sampled_from([0.0, 0.1, 1.0]),
    time_packing=st.booleans(),
)
def test_no_edge_joins_two_programs_of_one_time_layer(name, widths, seed, budget, time_packing):
    target = device(name).target
    policy = fit_policy(target, timePacking=time_packing)
    widths = [min(w, target.num_qubits) for w in widths]
    queue = [random_program(w, seed + i) for i, w in enumerate(widths)]
    for program in queue:
        program.fidelity_budget = budget
    batches = drain(policy, prepared_queue(policy, queue))
    edges = coupling_edges(target)
    for batch in batches:
        assert batch.composite.num_qubits == target.num_qubits
        assert_isolated_and_valid(batch, target, edges)


def test_fifo_head_in_every_batch_and_never_later_than_serial():
    target = device("brisbane").target
    policy = fit_policy(target)
    widths = [1, 2, 3, 4, 5, 6, 8, 10, 12]
    queue = [random_program(widths[i % len(widths)], 300 + i) for i in range(30)]
    for i, program in enumerate(queue):
        program.fidelity_budget = [0.0, 0.1, 1.0][i % 3]
    batches = drain(policy, prepared_queue(policy, queue))
    remaining, batch_of = list(queue), {}
    for index, batch in enumerate(batches):
        assert remaining[0] in batch.programs
        for program in batch.programs:
            batch_of[program.id] = index
        remaining = [p for p in remaining if p.id not in batch_of]
    assert all(batch_of[p.id] <= i for i, p in enumerate(queue))
    assert len(batches) < len(queue)
    assert policy.lower_bound_batches(queue) <= len(batches)


def test_planning_the_whole_queue_packs_stranded_programs_into_fewer_batches():
    """At budget 0 each program may take only its solo placement, and one batch at a
    time leaves a tail of batches with one or two programs whose best qubits clash.
    Planned again with those first, the queue needs fewer batches, FIFO still kept."""
    from streamflow_quantum.bench.packer import CHECKOUT_BENCHMARKS, load_workload, make_programs

    circuits = load_workload(CHECKOUT_BENCHMARKS, "small_only")
    counts = []
    for look_ahead in (0, 512):
        policy = fit_policy(device("brisbane").target, lookAhead=look_ahead)
        queue = make_programs(policy, circuits, 1000, fidelity_budget=0.0)
        batches = drain(policy, queue)
        batch_of = {p.id: i for i, b in enumerate(batches) for p in b.programs}
        assert sorted(batch_of) == sorted(p.id for p in queue)  # each once
        assert all(batch_of[p.id] <= i for i, p in enumerate(queue))
        counts.append(len(batches))
    assert counts[1] < counts[0]


def test_each_batch_takes_its_share_of_the_circuits_a_plan_strands():
    """At budget 0.2 basis_trotter_n4 (204 us, the longest, so never appended) meets its
    need only on its best four qubits: its five copies need five batches. Greedy and
    iterated passes strand the wide circuits with few places in a sixth; the spread pass
    gives each batch one of each first, and the queue fits in five, a trotter in each."""
    from streamflow_quantum.bench.packer import CHECKOUT_BENCHMARKS, load_workload, make_programs

    circuits = load_workload(CHECKOUT_BENCHMARKS, "small_only")
    policy = fit_policy(device("brisbane").target, timePacking=True, appendsPerSlot=1)
    queue = make_programs(policy, circuits, 1000, fidelity_budget=0.2)
    batches = drain(policy, queue)
    assert sorted(p.id for b in batches for p in b.programs) == sorted(p.id for p in queue)
    assert [sum(p.name == "basis_trotter_n4" for p in b.programs) for b in batches] == [1] * 5


def test_a_plan_takes_in_programs_that_arrive_after_it():
    """Arrivals after the queue was planned are planned with what is left: every program
    runs exactly once, each batch with the queue head."""
    policy = fit_policy(device("brisbane").target)
    widths = [2, 3, 4, 5, 6, 8]
    first = [random_program(widths[i % 6], 700 + i) for i in range(12)]
    later = [random_program(widths[i % 6], 800 + i) for i in range(6)]
    queue, ran, arrived = prepared_queue(policy, list(first)), [], False
    while queue:
        batch = policy.next_batch(queue)
        assert queue[0] in batch.programs
        ran += batch.programs
        queue = [p for p in queue if p not in batch.programs]
        if not arrived:
            queue += prepared_queue(policy, later)
            arrived = True
    assert sorted(p.id for p in ran) == sorted(p.id for p in first + later)


def test_within_the_budget_placements_leave_the_most_room():
    """Choosing, among placements within the need, the one that blocks the fewest free
    qubits fits 27 GHZ-3 copies in one FakeBrisbane batch (the best-ranked one: 23)."""
    target = device("brisbane").target
    edges = coupling_edges(target)
    policy = fit_policy(target, timePacking=False)
    queue = [Program(f"ghz{i}", ghz(3), 1000, fidelity_budget=1.0) for i in range(40)]
    batch = policy.next_batch(prepared_queue(policy, queue))
    assert len(batch.programs) >= 26
    assert_isolated_and_valid(batch, target, edges)


@pytest.mark.parametrize("budget", [0.0, 0.1])
def test_budget_bounds_each_placement_against_its_solo_estimate(budget):
    target = device("brisbane").target
    policy = fit_policy(target)
    queue = [random_program([2, 3, 4, 5][i % 4], 500 + i) for i in range(24)]
    for program in queue:
        program.fidelity_budget = budget
    batches = drain(policy, prepared_queue(policy, queue))
    shared = 0
    for batch in batches:
        shared += len(batch.placements) > 1
        for placement in batch.placements:
            solo = policy.prepared[placement.program.id].solo.success
            assert success_probability(placement.circuit, target) >= (1 - budget) * solo
    assert shared  # the budget still lets programs share batches


@pytest.mark.parametrize("name", ["fez", "torino"])
def test_a_12_qubit_program_shares_its_batch_on_heron(name):
    target = device(name).target
    policy = fit_policy(target)
    queue = [Program("ghz12", ghz(12), 1000)] + [
        Program(f"ghz{w}-{i}", ghz(w), 1000) for i, w in enumerate([3, 2, 4, 3, 5])
    ]
    batch = policy.next_batch(prepared_queue(policy, queue))
    assert queue[0] in batch.programs
    assert len(batch.placements) >= 3
    assert_isolated_and_valid(batch, target, coupling_edges(target))


def test_packed_ghz_counts_are_exact_on_an_ideal_simulator():
    backend = FakeBrisbane()
    simulator = AerSimulator.from_backend(backend, noise_model=None, method="matrix_product_state")
    policy = fit_policy(backend.target, timePacking=True, appendsPerSlot=2)
    # A long program first, so that short ones are appended in its shadow.
    long = QuantumCircuit(6, 6, name="long")
    long.h(0)
    for q in range(5):
        long.cx(q, q + 1)
    for _ in range(10):  # barriers keep the compiler from cancelling the pairs
        long.barrier()
        long.cx(0, 1)
        long.barrier()
        long.cx(0, 1)
    long.measure(range(6), range(6))
    queue = [Program("long", long, 2000)] + [
        Program(f"ghz{w}-{i}", ghz(w), 2000) for i, w in enumerate([2, 3, 4, 5, 3, 2] * 6)
    ]
    for program in queue:
        program.fidelity_budget = 1.0
    batch = policy.next_batch(prepared_queue(policy, queue))
    assert any(p.start_s > 0 for p in batch.placements)
    assert len(batch.placements) > 10
    counts = simulator.run(batch.composite, shots=2000, seed_simulator=3).result().get_counts()
    for placement, part in zip(batch.placements, batch.split_counts(counts), strict=True):
        width = placement.program.circuit.num_clbits
        expected = {"0" * width, "1" * width}
        assert set(part) <= expected, placement.program.name
        assert set(part) == expected  # both outcomes, about half each at 2000 shots


def test_the_ranking_forecasts_the_estimate_of_every_placement():
    """A qubit that idles holding a state (here through twelve readouts of the other)
    decoheres by its own T1 and T2: ranked by gate errors alone, FakeBrisbane's
    placements would be forecast up to 1.8x above their estimate. Ranked with the idle
    time, every placement that keeps its gate's direction (direction fixes are not
    ranked) is forecast within 2%."""
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.cx(0, 1)
    for _ in range(12):
        circuit.measure(1, 1)
    circuit.measure(0, 0)
    target = device("brisbane").target
    policy = fit_policy(target)
    (program,) = prepared_queue(policy, [Program("idler", circuit, 100)])
    item = policy.prepared[program.id]
    assert max(item.pattern.idle_s) >= 10e-6
    listing = policy.device.listing(item.pattern, 1000)
    assert listing is not None
    checked = 0
    for mapping, cost in zip(listing.mappings.tolist(), listing.costs, strict=True):
        if all(
            target.instruction_supported(name, tuple(mapping[i] for i in qargs))
            for name, qargs in item.pattern.two_qubit
        ):
            built = policy._fit(program, item.pattern, tuple(mapping)).success
            assert item.forecast(cost) == pytest.approx(built, rel=0.02)
            checked += 1
    assert checked >= 100


def test_a_listing_offers_the_best_ranked_embeddings_on_the_free_qubits():
    policy = fit_policy(device("brisbane").target)
    placer = policy.device
    (program,) = prepared_queue(policy, [Program("ghz3", ghz(3), 100)])
    pattern = policy.prepared[program.id].pattern
    listing = placer.listing(pattern, 10_000)
    assert listing is not None
    assert len(listing.mappings) == len(placer.embeddings(pattern, 10_000) or [])
    assert list(listing.costs) == sorted(listing.costs)
    free = set(range(40, 127))
    cap = float(np.median(listing.costs))
    offered = listing.within(free, placer.num_qubits, cap, 16)
    assert len(offered.mappings) == 16 and offered.costs == sorted(offered.costs)
    assert all(
        free.issuperset(m) and c <= cap
        for m, c in zip(offered.mappings, offered.costs, strict=True)
    )
    on_free = [
        c
        for m, c in zip(listing.mappings.tolist(), listing.costs, strict=True)
        if free.issuperset(m)
    ]
    assert offered.costs == on_free[:16]  # the best ranked there, not the first found
    assert placer.listing(pattern, 10) is None


def test_lower_bound_from_qubit_time_area():
    # 4 programs of 5 qubits (buffer share 1: e.g. 3 neighbours of degree 3), each 1 us
    # long, on 10 qubits: area 24 qubit-us, 10 per batch of 1 us: 3 batches.
    demands = [Demand(5, 1.0, 1e-6) for _ in range(4)]
    assert lower_bound_batches(demands, 10) == 3
    # One long program makes one batch long enough for all of them.
    assert lower_bound_batches([*demands, Demand(1, 0, 10e-6)], 10) == 1
    assert lower_bound_batches([Demand(1, 0, 1e-6, alone=True)] * 2, 10) == 2
    # Space: 6 qubit-units each on 10 qubits; with one append per slot, 41 qubits over 2 x 10.
    assert lower_bound_batches([*demands, Demand(1, 0, 10e-6)], 10, 0) == 3
    assert lower_bound_batches(demands, 10, 1) == 3
    assert lower_bound_batches([*demands, *demands, Demand(1, 0, 10e-6)], 10, 1) == 3
    # Programs that pairwise cannot share a batch need one each.
    assert lower_bound_batches(demands, 10, 1, conflicts=4) == 4


def _segments(k: int, n: int) -> frozenset[frozenset[int]]:
    """Every placement of a k-qubit program on the line 0-1-...-(n-1)."""
    return frozenset(frozenset(range(s, s + k)) for s in range(n - k + 1))


def _line(n: int) -> list[tuple[int, int]]:
    return [(q, q + 1) for q in range(n - 1)]


def test_cover_bound_counts_which_programs_fit_together():
    """On the line 0-1-2-3-4 one 3-qubit program per layer fits (it blocks a fourth
    qubit): four need four batches, where qubit area says three. Only programs that may
    be appended fill a batch's later layers."""
    three = _segments(3, 5)
    assert lower_bound_batches([Demand(3, _line_share(3, 5), 1e-6)] * 4, 5, 0) == 3
    assert cover_bound(5, _line(5), [Kind(4, three, appendable=False)], 0) == 4
    assert cover_bound(5, _line(5), [Kind(4, three, appendable=True)], 1) == 2
    assert cover_bound(5, _line(5), [Kind(4, three, appendable=True)], 3) == 1
    # Two that may not follow another need a first layer each; two that may follow go after them.
    mixed = [Kind(2, three, appendable=False), Kind(2, three, appendable=True)]
    assert cover_bound(5, _line(5), mixed, 1) == 2
    assert cover_bound(5, _line(5), [Kind(4, three, appendable=False)], 1) == 4
    # Never below what the caller knows already.
    assert cover_bound(5, _line(5), [Kind(4, three, appendable=False)], 0, known=6) == 6
    # Three 1-qubit programs fit in one layer (qubits 0, 2, 4); a fourth needs another.
    assert cover_bound(5, _line(5), [Kind(3, _segments(1, 5), appendable=False)], 0) == 1
    assert cover_bound(5, _line(5), [Kind(4, _segments(1, 5), appendable=False)], 0) == 2


def test_cover_bound_leaves_queues_with_too_many_placements_to_the_other_bounds(monkeypatch):
    monkeypatch.setattr(cover, "PLACEMENTS_CAP", 2)
    assert cover_bound(5, _line(5), [Kind(4, _segments(3, 5), appendable=False)], 0, known=3) == 3


def test_cover_bound_on_a_device_is_what_fit_packs():
    """Four GHZ-3 on FakeManila (the line 0-1-2-3-4) at budget 1: qubit area says three
    batches in space, the cover says four, and four is what the packer needs."""
    policy = fit_policy(device("manila").target, timePacking=False)
    queue = [Program(f"ghz{i}", ghz(3), 1000, fidelity_budget=1.0) for i in range(4)]
    assert policy.lower_bound_batches(prepared_queue(policy, queue)) == 4
    assert len(drain(policy, queue)) == 4


def test_conflict_bound_counts_programs_that_cannot_share():
    # A 4-qubit line 0-1-2-3; rows are qubit sets over it.
    def allowed(count: int, *placements: tuple[int, ...]) -> Allowed:
        rows = np.zeros((len(placements), 4), dtype=bool)
        near = np.zeros_like(rows)
        for row, other, placement in zip(rows, near, placements, strict=True):
            row[list(placement)] = True
            other[[q for p in placement for q in (p - 1, p, p + 1) if 0 <= q < 4]] = True
        return Allowed(count, rows, near)

    at_0 = allowed(3, (0,))  # three programs that may only use qubit 0
    at_0_or_3 = allowed(2, (0,), (3,))  # two that may use 0 or 3: side by side
    at_1 = allowed(1, (1,))  # next to 0: never beside the first class
    assert conflict_bound([at_0]) == 3
    assert conflict_bound([at_0_or_3]) == 1
    assert conflict_bound([at_0, at_1]) == 4
    assert conflict_bound([at_0, at_0_or_3, at_1]) == 4  # at_0_or_3 fits beside each
    assert conflict_bound([Allowed(5), at_1]) == 1  # not known: conflicts with nothing


def test_at_budget_0_copies_of_one_circuit_need_a_batch_each():
    """Each copy may only take its solo placement, so no two share a batch: the bound
    says so where qubit-time area alone says one batch."""
    target = device("brisbane").target
    for time_packing in (False, True):
        policy = fit_policy(target, timePacking=time_packing)
        queue = [Program(f"ghz{i}", ghz(3), 1000, fidelity_budget=0.0) for i in range(8)]
        bound = policy.lower_bound_batches(prepared_queue(policy, queue))
        assert 8 <= bound <= len(drain(policy, queue))
        for program in queue:
            program.fidelity_budget = 1.0
        assert policy.lower_bound_batches(queue) == 1


def test_only_programs_that_fit_after_the_shortest_within_the_longest_may_be_appended():
    everywhere = np.ones((1, 4), dtype=bool)
    known = Allowed(1, everywhere, everywhere)
    short = Reach(known, 1e-6, 2e-6)
    long = Reach(known, 10e-6, 10e-6)
    may, may_not = in_time([short, long])
    assert may.qubits is None  # 1 + 1 us within 10 us: it may follow another, anywhere
    assert may_not.qubits is not None  # 1 + 10 us past the longest: never appended
    assert in_time([Reach(known, 1e-6, 2e-6, after_resets=False), long])[0].qubits is not None
    assert in_time([Reach(known), long])[1].qubits is None  # durations unknown: anything goes


@pytest.mark.parametrize("name", ["brisbane", "torino"])
@pytest.mark.parametrize("width,seed", [(3, 1), (4, 2), (5, 3)])
def test_every_placement_lasts_within_the_devices_duration_range(name, width, seed):
    """The bound's cheap duration bounds must hold wherever the program is placed,
    direction fixes included (ECR on Eagle, CZ on Heron)."""
    from qiskit.circuit.random import random_circuit

    circuit = ghz(width).remove_final_measurements(inplace=False)  # connected
    circuit.compose(random_circuit(width, 6, max_operands=2, seed=seed), inplace=True)
    circuit.measure_all()
    policy = fit_policy(device(name).target)
    (program,) = prepared_queue(policy, [Program(f"r{width}", circuit, 1000)])
    pattern = policy.prepared[program.id].pattern
    low, high = policy.device.duration_range(pattern.body)
    durations = [
        policy._fit(program, pattern, m).duration_s
        for m in policy.device.embeddings(pattern, 20_000)[:300]
    ]
    assert 0 < low <= min(durations) and max(durations) <= high


def test_copies_of_the_longest_circuit_are_never_appended():
    """A program appended in time must end by the batch's longest program, so copies of the
    queue's longest circuit never follow another. Where their budget keeps them to the same
    qubits they need a batch each, though each would still meet its need after resets (the
    bound let them go anywhere before, and said 1)."""
    from streamflow_quantum.bench.packer import CHECKOUT_BENCHMARKS, load_workload

    circuit = dict(load_workload(CHECKOUT_BENCHMARKS, "small_only"))["basis_trotter_n4"]
    policy = fit_policy(device("brisbane").target)  # time packing, one append per slot
    queue = prepared_queue(
        policy, [Program(f"trotter{i}", circuit, 1000, fidelity_budget=0.2) for i in range(3)]
    )
    item = policy.prepared[queue[0].id]
    reach = policy._reach(item, 3, True, policy.device.embeddings(item.pattern, 1000), timed=True)
    assert reach.after_resets and not side_by_side(reach.allowed, reach.allowed)
    assert 3 <= policy.lower_bound_batches(queue) <= len(drain(policy, queue))


@pytest.mark.parametrize("name", ["grover_n2", "iswap_n2", "toffoli_n3"])
def test_the_bound_allows_every_placement_whose_estimate_meets_the_need(name):
    """The conflict bound may only leave out placements no packer could take: a ranking
    cost is no bound on the estimate (grover_n2 and iswap_n2 estimate above theirs at
    their solo placement, which a filter on it left out, so they "conflicted" with all)."""
    from streamflow_quantum.bench.packer import CHECKOUT_BENCHMARKS, load_workload

    circuit = dict(load_workload(CHECKOUT_BENCHMARKS, "small_only"))[name]
    policy = fit_policy(device("brisbane").target, timePacking=False)
    (program,) = prepared_queue(policy, [Program(name, circuit, 1000, fidelity_budget=0.0)])
    item = policy.prepared[program.id]
    mappings = policy.device.embeddings(item.pattern, 1000)
    assert mappings
    allowed = policy._reach(item, 1, False, mappings).allowed
    meets = [
        m
        for m in mappings
        if policy._fit(program, item.pattern, m).success >= item.need(policy.default_budget)
    ]
    assert item.solo.mapping in meets
    assert allowed.qubits is not None
    assert {tuple(np.flatnonzero(row)) for row in allowed.qubits} == {
        tuple(sorted(m)) for m in meets
    }


def random_bits(width: int) -> QuantumCircuit:
    """``width`` qubits, each in superposition and measured: a circuit in ``width`` parts."""
    circuit = QuantumCircuit(width, width, name=f"bits{width}")
    circuit.h(range(width))
    circuit.measure(range(width), range(width))
    return circuit


def test_copies_of_a_circuit_in_parts_need_a_batch_each_at_budget_0():
    """A circuit whose qubits share no gate has too many embeddings to list; the bound
    finds its placements part by part instead. At budget 0 its copies all need its best
    qubits, so they need a batch each (the bound said 1 before: it let them go anywhere)."""
    target = device("brisbane").target
    for time_packing in (False, True):
        policy = fit_policy(target, timePacking=time_packing)
        queue = [Program(f"bits{i}", random_bits(4), 1000, fidelity_budget=0.0) for i in range(5)]
        prepared_queue(policy, queue)
        pattern = policy.prepared[queue[0].id].pattern
        assert policy.device.embeddings(pattern, 20_000) is None
        bound = policy.lower_bound_batches(queue)
        assert 5 <= bound <= len(drain(policy, queue))


def test_the_bound_in_parts_allows_the_solo_placement():
    """Part by part, every placement that meets the need is kept, the solo one first of all."""
    policy = fit_policy(device("brisbane").target, timePacking=False)
    (program,) = prepared_queue(
        policy, [Program("bits", random_bits(4), 1000, fidelity_budget=0.0)]
    )
    item = policy.prepared[program.id]
    allowed = policy._reach_in_parts(item, 1, False, item.need(policy.default_budget)).allowed
    assert allowed.qubits is not None
    assert tuple(sorted(item.solo.mapping)) in {tuple(np.flatnonzero(r)) for r in allowed.qubits}
    loose = policy._reach_in_parts(item, 1, False, 0.5 * item.solo.success).allowed
    assert loose.qubits is None  # within half its solo estimate, too many to list


def _fewest_batches_on_a_line(demands: list[Demand], num_qubits: int, appends: int) -> int:
    """The fewest batches that hold ``demands`` on a line of ``num_qubits`` qubits, by brute force.

    Programs are segments of the line. In one time layer two programs are at least one
    qubit apart (isolation); a program that must run alone has a batch to itself. A slot
    holds one program placed in space, then up to ``appends`` programs on a subset of its
    qubits, one after another, all ending by the batch's longest program (resets free).
    """
    n = len(demands)

    def fits(members: tuple[int, ...]) -> bool:
        chosen = [demands[i] for i in members]
        if any(d.alone for d in chosen):
            return len(chosen) == 1
        horizon = max(d.duration_s for d in chosen)
        for size in range(1, len(chosen) + 1):
            for slots in itertools.combinations(range(len(chosen)), size):
                if sum(chosen[i].qubits for i in slots) + size - 1 > num_qubits:
                    continue
                rest = [i for i in range(len(chosen)) if i not in slots]
                for assignment in itertools.product(slots, repeat=len(rest)):
                    chains = {s: [s] for s in slots}
                    for i, s in zip(rest, assignment, strict=True):
                        chains[s].append(i)
                    if all(
                        len(chain) - 1 <= appends
                        and all(chosen[i].qubits <= chosen[s].qubits for i in chain)
                        and sum(chosen[i].duration_s for i in chain) <= horizon
                        for s, chain in chains.items()
                    ):
                        return True
        return False

    @functools.cache
    def fewest(left: frozenset[int]) -> int:
        if not left:
            return 0
        first = min(left)
        others = sorted(left - {first})
        return min(
            1 + fewest(left - {first, *extra})
            for size in range(len(others) + 1)
            for extra in itertools.combinations(others, size)
            if fits((first, *extra))
        )

    return fewest(frozenset(range(n)))


@settings(max_examples=150, deadline=None)
@given(
    num_qubits=st.integers(3, 8),
    programs=st.lists(
        st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(0, 3)), min_size=1, max_size=6
    ),
    appends=st.sampled_from([0, 1, 2]),
)
def test_lower_bounds_never_exceed_brute_force_on_a_line(num_qubits, programs, appends):
    """The area bound, and the cover with every program free to be appended (it ignores
    durations, so it stays below too)."""
    # (qubits, whole microseconds, 0: must run alone).
    demands = [
        Demand(min(k, num_qubits), _line_share(min(k, num_qubits), num_qubits), d * 1e-6, flag == 0)
        for k, d, flag in programs
    ]
    best = _fewest_batches_on_a_line(demands, num_qubits, appends)
    assert lower_bound_batches(demands, num_qubits, appends) <= best
    kinds = [
        Kind(1, _segments(d.qubits, num_qubits), appendable=True) for d in demands if not d.alone
    ]
    alone = sum(d.alone for d in demands)
    assert alone + cover_bound(num_qubits, _line(num_qubits), kinds, appends) <= best


def _line_share(k: int, n: int) -> float:
    """The least buffer share of a k-qubit segment on a line of n qubits, as bound.py
    defines it: each neighbour counts 1 over its degree (1 at the line's ends)."""

    def weight(q: int) -> float:
        return 0.0 if not 0 <= q < n else 1.0 if q in (0, n - 1) else 0.5

    return min(weight(s - 1) + weight(s + k) for s in range(n - k + 1))


def test_buffer_share_counts_each_neighbour_over_its_degree():
    # FakeManila is the line 0-1-2-3-4: qubits 0 and 4 have one neighbour, the rest two.
    line = Device(FakeManilaV2().target)
    shares = line.buffer_shares([(0, 1), (1, 2), (2,), (0, 1, 2, 3), (4, 3, 2, 1, 0)])
    assert shares.tolist() == [0.5, 1.5, 1.0, 1.0, 0.0]
    # On FakeBrisbane a qubit next to a degree-3 qubit owes it a third.
    brisbane = Device(FakeBrisbane().target)
    hub = next(q for q in range(brisbane.num_qubits) if len(brisbane.neighbours[q]) == 3)
    leaf = min(brisbane.neighbours[hub])
    others = [n for n in brisbane.neighbours[leaf] if n != hub]
    expected = 1 / 3 + sum(1 / len(brisbane.neighbours[n]) for n in others)
    assert brisbane.buffer_shares([(leaf,)])[0] == pytest.approx(expected)


def test_ideal_simulator_without_coupling_map_packs_without_buffers():
    simulator = AerSimulator()
    policy = fit_policy(simulator.target)
    queue = [random_program(w, seed, shots=2000) for seed, w in enumerate([3, 5, 2, 4, 1, 6])]
    batch = policy.next_batch(prepared_queue(policy, queue))
    assert len(batch.placements) == len(queue)
    used = [q for p in batch.placements for q in p.qubits]
    assert len(used) == len(set(used))
    assert unsupported(batch.composite, simulator.target) == []
