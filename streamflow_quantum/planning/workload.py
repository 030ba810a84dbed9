"""Jobs to simulate: Poisson arrivals of a job profile, or a trace of broker result records."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from streamflow_quantum.core.model import ANONYMOUS, User
from streamflow_quantum.planning.distributions import Distribution


@dataclass(frozen=True)
class Job:
    """One job: ``pre_s``, then ``iterations`` x (``classical_s``, then ``quantum_s`` on a QPU),
    then ``post_s``. Classical times are at a worker's full speed; zero skips the task."""

    arrival: float
    quantum_s: float
    iterations: int = 1
    pre_s: float = 0.0
    classical_s: float = 0.0
    post_s: float = 0.0
    user: User = ANONYMOUS
    #: A class to group results by (qubits, say).
    label: str = ""


@dataclass(frozen=True)
class Profile:
    """How a Poisson job is drawn: each duration from its distribution, once per job."""

    quantum: Distribution
    pre: Distribution = field(default_factory=lambda: Distribution("const", (0.0,)))
    classical: Distribution = field(default_factory=lambda: Distribution("const", (0.0,)))
    post: Distribution = field(default_factory=lambda: Distribution("const", (0.0,)))
    iterations: int = 1
    #: Users a job belongs to, drawn with even odds.
    users: tuple[User, ...] = (ANONYMOUS,)

    def draw(self, arrival: float, rng: np.random.Generator) -> Job:
        return Job(
            arrival=arrival,
            quantum_s=self.quantum.sample(rng),
            iterations=self.iterations,
            pre_s=self.pre.sample(rng),
            classical_s=self.classical.sample(rng),
            post_s=self.post.sample(rng),
            user=self.users[int(rng.integers(len(self.users)))],
        )


def poisson_arrivals(rate: float, horizon: float, rng: np.random.Generator) -> list[float]:
    """Arrival times of a Poisson process of ``rate`` per second in [0, horizon)."""
    times: list[float] = []
    now = float(rng.exponential(1 / rate))
    while now < horizon:
        times.append(now)
        now += float(rng.exponential(1 / rate))
    return times


def poisson_jobs(
    rate: float,
    horizon: float,
    draw: Callable[[float, np.random.Generator], Job],
    seed: int,
) -> list[Job]:
    """Jobs arriving at ``rate`` per second until ``horizon``, each made by ``draw``."""
    rng = np.random.default_rng(seed)
    return [draw(t, rng) for t in poisson_arrivals(rate, horizon, rng)]


# -- traces ------------------------------------------------------------------------


def read_trace(path: str | Path) -> list[dict[str, Any]]:
    """Result records from a JSON list, a JSON object with ``results``, or JSON lines."""
    text = Path(path).read_text("utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, Mapping):
        data = data.get("results", data.get("records"))
    if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
        raise ValueError(f"{path}: expected a list of result records")
    return list(data)


def _user(record: Mapping[str, Any]) -> User:
    user = record.get("user")
    priority = record.get("priority")
    if isinstance(user, Mapping):
        priority = user.get("priority", priority)
        user = user.get("name")
    if user is None and priority is None:
        return ANONYMOUS
    return User(str(user or ANONYMOUS.name), float(priority if priority is not None else 1.0))


def jobs_from_trace(records: Iterable[Mapping[str, Any]], service: str = "measured") -> list[Job]:
    """One single-task job per record that ran: arriving at ``times.submitted`` (the first
    at 0), its QPU time ``finished - started`` (``service="measured"``) or its batch's
    modelled ``device_s`` (``"device"``). Records without the times (refused programs)
    are left out."""
    if service not in ("measured", "device"):
        raise ValueError(f"service must be 'measured' or 'device', not {service!r}")
    timed = [(r, t) for r in records if (t := _times(r)) is not None]
    if not timed:
        raise ValueError("no record has times.submitted, started and finished")
    t0 = min(t[0] for _, t in timed)
    jobs = []
    for record, (submitted, started, finished) in timed:
        if service == "device":
            if "device_s" not in record:
                raise ValueError(f"record {record.get('id', '?')} has no device_s")
            quantum_s = float(record["device_s"])
        else:
            quantum_s = finished - started
        jobs.append(
            Job(
                arrival=submitted - t0,
                quantum_s=quantum_s,
                user=_user(record),
                label=str(record.get("circuit", "")),
            )
        )
    return sorted(jobs, key=lambda job: job.arrival)


def _times(record: Mapping[str, Any]) -> tuple[float, float, float] | None:
    times = record.get("times")
    if not isinstance(times, Mapping):
        return None
    values: Sequence[Any] = [times.get(k) for k in ("submitted", "started", "finished")]
    if any(not isinstance(v, int | float) for v in values):
        return None
    return float(values[0]), float(values[1]), float(values[2])
