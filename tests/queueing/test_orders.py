"""What order each queue policy gives, and how usage and waiting change it."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from streamflow_quantum.core.model import User
from streamflow_quantum.queueing.registry import QUEUES, make_queue_policy
from tests.queueing.conftest import names, program

ALICE, BOB, CAROL = User("alice"), User("bob"), User("carol")


def test_fifo_is_arrival_order_with_ties_in_place() -> None:
    queue = [program("c", 3.0), program("a", 1.0), program("b1", 2.0), program("b2", 2.0)]
    assert names(make_queue_policy("fifo").order(queue, now=10.0)) == ["a", "b1", "b2", "c"]


def test_lifo_is_newest_first() -> None:
    queue = [program("c", 3.0), program("a", 1.0), program("b1", 2.0), program("b2", 2.0)]
    assert names(make_queue_policy("lifo").order(queue, now=10.0)) == ["c", "b2", "b1", "a"]


def test_random_reshuffles_with_even_odds_and_repeats_with_its_seed() -> None:
    queue = [program(str(i), float(i)) for i in range(4)]
    policy, twin = (
        make_queue_policy("random", {"seed": 7}),
        make_queue_policy("random", {"seed": 7}),
    )
    orders = [names(policy.order(queue, now=0.0)) for _ in range(4000)]
    assert orders == [names(twin.order(queue, now=0.0)) for _ in range(4000)]
    assert all(sorted(order) == ["0", "1", "2", "3"] for order in orders)
    heads = Counter(order[0] for order in orders)
    assert set(heads) == {"0", "1", "2", "3"}
    assert all(800 < n < 1200 for n in heads.values()), heads
    other = make_queue_policy("random", {"seed": 8})
    assert orders[:20] != [names(other.order(queue, now=0.0)) for _ in range(20)]


def test_priority_puts_the_higher_priority_user_first() -> None:
    vip = User("vip", priority=3.0)
    queue = [program("low", 0.0, ALICE), program("high", 1.0, vip), program("low2", 2.0, BOB)]
    assert names(make_queue_policy("priority").order(queue, now=5.0)) == ["high", "low", "low2"]


@pytest.mark.parametrize(("arrival", "head"), [(119.0, "high"), (120.0, "low"), (121.0, "low")])
def test_priority_ageing_lets_a_low_priority_program_reach_the_head(
    arrival: float, head: str
) -> None:
    """Priority 1 against 3 with 60 s ageing: the low program, submitted at 0, is overtaken
    by a newcomer only if the newcomer arrives within 2 x 60 = 120 s; at 120 s the scores
    tie and the older program goes first."""
    queue = [program("low", 0.0, ALICE), program("high", arrival, User("vip", priority=3.0))]
    policy = make_queue_policy("priority", {"ageingSeconds": 60})
    for now in (arrival, arrival + 1000.0):
        assert names(policy.order(queue, now))[0] == head


def test_priority_ties_keep_arrival_order() -> None:
    queue = [program(n, t, User(n, priority=2.0)) for n, t in (("b", 2.0), ("a", 1.0), ("c", 3.0))]
    assert names(make_queue_policy("priority").order(queue, now=3.0)) == ["a", "b", "c"]


def test_fair_share_interleaves_a_flooding_user_with_the_others() -> None:
    queue = [program(f"a{i}", float(i), ALICE) for i in range(6)]
    queue += [program("b0", 10.0, BOB), program("b1", 11.0, BOB), program("c0", 12.0, CAROL)]
    order = names(make_queue_policy("fair-share").order(queue, now=20.0))
    assert order == ["a0", "b0", "c0", "a1", "b1", "a2", "a3", "a4", "a5"]


def test_fair_share_puts_a_heavy_user_behind_until_their_use_decays() -> None:
    policy = make_queue_policy("fair-share", {"halfLifeSeconds": 300})
    queue = [program("a0", 0.0, ALICE), program("a1", 1.0, ALICE), program("b0", 2.0, BOB)]
    assert names(policy.order(queue, now=10.0)) == ["a0", "b0", "a1"]
    policy.charge(program("old", 0.0, ALICE), device_s=100.0, now=10.0)
    assert names(policy.order(queue, now=10.0)) == ["b0", "a0", "a1"]
    # One half-life later alice counts 50 s: behind bob's fresh 60 s no longer, ahead of 40 s.
    heavier, lighter = policy, make_queue_policy("fair-share", {"halfLifeSeconds": 300})
    lighter.charge(program("old", 0.0, ALICE), device_s=100.0, now=10.0)
    heavier.charge(program("old", 0.0, BOB), device_s=60.0, now=310.0)
    lighter.charge(program("old", 0.0, BOB), device_s=40.0, now=310.0)
    assert names(heavier.order(queue, now=310.0)) == ["a0", "b0", "a1"]
    assert names(lighter.order(queue, now=310.0)) == ["b0", "a0", "a1"]


def test_fair_share_usage_halves_every_half_life_and_adds_up() -> None:
    policy = make_queue_policy("fair-share", {"halfLifeSeconds": 100})
    policy.charge(program("p", 0.0, ALICE), device_s=8.0, now=0.0)
    assert policy.usage("alice", 200.0) == pytest.approx(2.0)  # type: ignore[attr-defined]
    policy.charge(program("q", 0.0, ALICE), device_s=1.0, now=200.0)
    assert policy.usage("alice", 300.0) == pytest.approx(1.5)  # type: ignore[attr-defined]
    assert policy.usage("bob", 300.0) == 0.0  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", QUEUES.names())
def test_every_policy_orders_a_large_queue_quickly_as_a_permutation(name: str) -> None:
    users = [User(f"u{i}", priority=float(i % 4)) for i in range(100)]
    queue = [program(str(i), float(i * 7 % 1000), users[i % 100]) for i in range(10_000)]
    policy = make_queue_policy(name)
    policy.charge(queue[0], device_s=5.0, now=500.0)
    started = time.perf_counter()
    order = policy.order(queue, now=1000.0)
    assert time.perf_counter() - started < 5.0
    assert sorted(map(id, order)) == sorted(map(id, queue))
