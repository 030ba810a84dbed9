"""The simulator against queueing theory, and the policies' effect on what it measures."""

from __future__ import annotations

import math

import pytest

from streamflow_quantum.core.model import ANONYMOUS, User
from streamflow_quantum.planning.distributions import Distribution
from streamflow_quantum.planning.engine import Platform, simulate
from streamflow_quantum.planning.metrics import by_group, summarise
from streamflow_quantum.planning.workload import Job, Profile, jobs_from_trace, poisson_jobs

HORIZON, WARMUP = 40_000.0, 2_000.0


def poisson(
    rate: float, service: str, pre: str = "const:0", users: tuple[User, ...] = (ANONYMOUS,)
) -> list[Job]:
    profile = Profile(Distribution.parse(service), Distribution.parse(pre), users=users)
    return poisson_jobs(rate, HORIZON, profile.draw, seed=1)


def erlang_c_wait(arrival: float, service: float, servers: int) -> float:
    """Mean wait in queue of M/M/c."""
    a = arrival / service
    rho = a / servers
    top = a**servers / math.factorial(servers) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(servers)) + top)
    return p_wait / (servers * service - arrival)


def test_mm1_mean_wait() -> None:
    run = simulate(Platform(), poisson(0.7, "exp:1"), horizon=HORIZON, warmup=WARMUP)
    figures = summarise(run)
    assert figures["wait_mean_s"] == pytest.approx(0.7 / 0.3, rel=0.1)
    assert figures["qpu_utilisation"] == pytest.approx(0.7, rel=0.05)
    assert figures["throughput_per_h"] == pytest.approx(0.7 * 3600, rel=0.05)


def test_mmc_mean_wait_matches_erlang_c() -> None:
    run = simulate(Platform(qpus=3), poisson(2.4, "exp:1"), horizon=HORIZON, warmup=WARMUP)
    assert summarise(run)["wait_mean_s"] == pytest.approx(erlang_c_wait(2.4, 1.0, 3), rel=0.1)


def test_mm1k_drop_probability() -> None:
    # Capacity counts queued tasks: with one QPU the system holds K = capacity + 1.
    rho, k = 1.2, 5
    run = simulate(Platform(capacity=k - 1), poisson(1.2, "exp:1"), horizon=HORIZON, warmup=WARMUP)
    expected = (1 - rho) * rho**k / (1 - rho ** (k + 1))
    assert summarise(run)["drop_probability"] == pytest.approx(expected, rel=0.06)


def test_shared_cpus_are_processor_sharing() -> None:
    # M/D/1 with processor sharing: mean response E[S] / (1 - rho) = 2, where a FIFO
    # worker would give E[S] + rho E[S] / (2 (1 - rho)) = 1.5.
    jobs = poisson(0.5, "const:0", pre="const:1")
    shared = summarise(simulate(Platform(sharing="shared"), jobs, horizon=HORIZON, warmup=WARMUP))
    pool = summarise(simulate(Platform(sharing="pool"), jobs, horizon=HORIZON, warmup=WARMUP))
    assert shared["response_mean_s"] == pytest.approx(2.0, rel=0.07)
    assert pool["response_mean_s"] == pytest.approx(1.5, rel=0.07)


def test_lifo_keeps_the_mean_wait_and_spreads_it() -> None:
    jobs = poisson(0.8, "exp:1")
    fifo = summarise(simulate(Platform(queue="fifo"), jobs, horizon=HORIZON, warmup=WARMUP))
    lifo = summarise(simulate(Platform(queue="lifo"), jobs, horizon=HORIZON, warmup=WARMUP))
    assert lifo["wait_mean_s"] == pytest.approx(fifo["wait_mean_s"], rel=0.1)
    assert lifo["wait_p95_s"] > 1.3 * fifo["wait_p95_s"]


def test_priority_policy_favours_the_higher_priority_user() -> None:
    users = (User("low", 1.0), User("high", 4.0))
    jobs = poisson(0.85, "exp:1", users=users)
    run = simulate(
        Platform(queue="priority", queue_options={"ageingSeconds": 1000}),
        jobs,
        horizon=HORIZON,
        warmup=WARMUP,
    )
    groups = by_group(run, lambda o: o.job.user.name)
    assert groups["high"]["wait_mean_s"] < 0.5 * groups["low"]["wait_mean_s"]
    fifo = by_group(simulate(Platform(), jobs, horizon=HORIZON), lambda o: o.job.user.name)
    assert fifo["high"]["wait_mean_s"] == pytest.approx(fifo["low"]["wait_mean_s"], rel=0.15)


def test_space_packing_shortens_waits() -> None:
    jobs = poisson(0.9, "exp:1")
    serial = summarise(simulate(Platform(), jobs, horizon=HORIZON, warmup=WARMUP))
    space = summarise(
        simulate(Platform(packing="space", batch_size=4), jobs, horizon=HORIZON, warmup=WARMUP)
    )
    assert space["wait_mean_s"] < 0.5 * serial["wait_mean_s"]
    assert space["qpu_utilisation"] < serial["qpu_utilisation"]


def record(submitted: float, started: float, finished: float, **extra: object) -> dict[str, object]:
    return {"times": {"submitted": submitted, "started": started, "finished": finished}, **extra}


TRACE = [
    record(100.0, 100.0, 102.0, circuit="a", user="ann"),
    record(101.0, 102.0, 104.0, circuit="b", user={"name": "bob", "priority": 2}),
    record(101.5, 104.0, 106.0, circuit="c", device_s=0.5),
    {"circuit": "refused", "error": "too wide"},
]


@pytest.mark.parametrize(("queue", "waits"), [("fifo", [0.0, 1.0, 2.5]), ("lifo", [0.0, 3.0, 0.5])])
def test_trace_replay_gives_exact_waits(queue: str, waits: list[float]) -> None:
    jobs = jobs_from_trace(TRACE)
    assert [j.arrival for j in jobs] == [0.0, 1.0, 1.5]
    assert [j.user.name for j in jobs] == ["ann", "bob", "anonymous"]
    assert jobs[1].user.priority == 2
    run = simulate(Platform(queue=queue), jobs)
    assert [o.queued_s for o in run.outcomes] == waits
    assert [o.finished for o in run.outcomes] == (
        [2.0, 4.0, 6.0] if queue == "fifo" else [2.0, 6.0, 4.0]
    )


def test_trace_device_times_need_device_s() -> None:
    with pytest.raises(ValueError, match="device_s"):
        jobs_from_trace(TRACE, service="device")


@pytest.mark.parametrize("spec", ["exp", "gamma:1", "normal:1", "uniform:1,x", "const:-1"])
def test_bad_distributions_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        Distribution.parse(spec)
