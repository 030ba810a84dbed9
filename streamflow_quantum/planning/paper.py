"""The serverless paper's scenarios (its Table 2), run through this simulator.

Inputs are the paper's published dataset, summarised in ``paper_inputs.json`` (what is
kept, and how, is said there). A job of q qubits draws its iteration count from the
runs recorded at q qubits, and its QPU time per iteration from a gamma distribution
around IBM's estimate for q qubits (coefficient of variation 0.25, roughly the spread
of the locally simulated iterations); its classical work is the recorded means at
full speed (S = 1e9 operations/s), slower in proportion at a smaller S. Admission
control counts queued quantum tasks and active classical tasks against 40, as the
paper's simulator does. Its weighted-random policy (W) has no twin among the broker's
queue policies: W here is ``priority`` (highest priority first, aged), which the
broker runs, so its results differ from the paper's W by design.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

import numpy as np

from streamflow_quantum.core.model import User
from streamflow_quantum.planning.distributions import Distribution
from streamflow_quantum.planning.engine import Outcome, Platform, Run, simulate
from streamflow_quantum.planning.metrics import counted, summarise
from streamflow_quantum.planning.workload import Job, poisson_jobs

SMALL_QUBITS = (4, 6, 8, 10)
BIG_QUBITS = (4, 8, 12, 16, 20, 24)
PRIORITIES = (1, 2, 4)
#: The paper's policies F, L, R, W and the broker's queue policies that stand for them.
POLICIES = {"F": "fifo", "L": "lifo", "R": "random", "W": "priority"}
MAX_TASKS = 40
QPU_CV = 0.25
#: The paper's worker capacities, in operations per second; the dataset's is 1e9.
S_FAST, S_SLOW = 1e9, 1e7
#: Mean seconds between jobs swept in the big scenario (24 down to 4 jobs/h).
INTERARRIVALS = (150, 300, 450, 600, 750, 900)
#: What the paper reports in words (its figures give no other numbers).
REPORTED = {
    "small_drop_probability": "about 0.15, alike for every policy",
    "small_policies": "F and L: lower median job time than R and W, more outliers; "
    "W: job time falls as priority rises",
    "big_q": "drop probability falls steadily as Q grows, at every load",
    "big_c": "drop probability not monotonic in C: highest at C = 1, lowest at C = 2, "
    "rising again beyond; job time (8 jobs/h) worst at C = 1, much lower at C = 2",
}


@functools.cache
def inputs() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("paper_inputs.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def job_maker(
    qubits: Sequence[int], priorities: Sequence[int]
) -> Callable[[float, np.random.Generator], Job]:
    data = inputs()
    users = [User(f"p{p}", float(p)) for p in priorities]

    def draw(arrival: float, rng: np.random.Generator) -> Job:
        q = int(qubits[int(rng.integers(len(qubits)))])
        size = data["sizes"][str(q)]
        quantum = Distribution("gamma", (size["qpu_iteration_s"], QPU_CV))
        return Job(
            arrival=arrival,
            quantum_s=quantum.sample(rng),
            iterations=int(size["iterations"][int(rng.integers(len(size["iterations"])))]),
            pre_s=data["pre_s"],
            classical_s=size["classical_iteration_s"],
            post_s=size["post_s"],
            user=users[int(rng.integers(len(users)))],
            label=str(q),
        )

    return draw


def platform(workers: int, qpus: int, policy: str, speed: float, seed: int) -> Platform:
    return Platform(
        workers=workers,
        qpus=qpus,
        queue=policy,
        queue_options={"seed": seed} if policy == "random" else {},
        capacity=MAX_TASKS,
        classical_capacity=MAX_TASKS,
        sharing="shared",
        speed=speed / S_FAST,
    )


def quantiles(values: Sequence[float]) -> dict[str, float] | None:
    """What a box plot draws: p5, p25, median, p75, p95 and the largest."""
    if not values:
        return None
    p = np.percentile(np.asarray(values), [5, 25, 50, 75, 95, 100])
    return dict(zip(("p5", "p25", "p50", "p75", "p95", "max"), map(float, p), strict=True))


def _job_times(runs: Sequence[Run], key: Callable[[Outcome], str]) -> dict[str, Any]:
    groups: dict[str, list[float]] = {}
    for run in runs:
        for o in counted(run):
            if o.finished is not None:
                groups.setdefault(key(o), []).append(o.finished - o.job.arrival)
    return {k: quantiles(v) for k, v in sorted(groups.items(), key=lambda kv: float(kv[0]))}


def _mean(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in summaries[0].items() if isinstance(v, int | float)]
    return {
        k: float(np.mean([s[k] for s in summaries if s[k] is not None]))
        if any(s[k] is not None for s in summaries)
        else None
        for k in keys
    }


def point(
    qubits: Sequence[int],
    priorities: Sequence[int],
    interarrival: float,
    make: Callable[[int], Platform],
    duration: float,
    warmup: float,
    repetitions: int,
) -> tuple[dict[str, Any], list[Run]]:
    """Mean figures over ``repetitions`` seeded runs of one configuration, and the runs."""
    runs = []
    for seed in range(repetitions):
        jobs = poisson_jobs(1 / interarrival, duration, job_maker(qubits, priorities), seed)
        runs.append(simulate(make(seed), jobs, horizon=duration, warmup=warmup))
    return _mean([summarise(run) for run in runs]), runs


def small(duration: float, warmup: float, repetitions: int) -> dict[str, Any]:
    """Figure 10: job time per policy, by qubits and by priority (C = 1, Q = 4, 6 jobs/h)."""
    results = {}
    for letter, policy in POLICIES.items():
        figures, runs = point(
            SMALL_QUBITS,
            PRIORITIES,
            600,
            functools.partial(platform, 1, 4, policy, S_FAST),
            duration,
            warmup,
            repetitions,
        )
        results[letter] = {
            "policy": policy,
            **figures,
            "job_time_by_qubits": _job_times(runs, lambda o: o.job.label),
            "job_time_by_priority": _job_times(runs, lambda o: f"{o.job.user.priority:g}"),
        }
    return results


def big(
    vary: str, values: Sequence[int], duration: float, warmup: float, repetitions: int
) -> list[dict[str, Any]]:
    """Figures 11-14: drops and tasks as Q (``vary="qpus"``: C = 1, S = 1e9) or C
    (``"workers"``: Q = 4, S = 1e7) and the load vary; random policy, one priority."""
    rows = []
    for value in values:
        for interarrival in INTERARRIVALS:

            def make(seed: int, value: int = value) -> Platform:
                if vary == "qpus":
                    return platform(1, value, "random", S_FAST, seed)
                return platform(value, 4, "random", S_SLOW, seed)

            figures, runs = point(
                BIG_QUBITS, (1,), interarrival, make, duration, warmup, repetitions
            )
            rows.append(
                {
                    vary: value,
                    "jobs_per_h": 3600 / interarrival,
                    **figures,
                    "job_time": _job_times(runs, lambda o: "1")["1"]
                    if any(o.finished for r in runs for o in counted(r))
                    else None,
                }
            )
    return rows
