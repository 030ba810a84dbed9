"""What a run measured: waits, drops, utilisation and throughput."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from streamflow_quantum.planning.engine import Outcome, Run

#: Figures of :func:`summarise`, with their table headings.
COLUMNS = {
    "wait_mean_s": "wait mean s",
    "wait_p95_s": "wait p95 s",
    "response_mean_s": "job time mean s",
    "drop_probability": "drop prob",
    "qpu_utilisation": "QPU util",
    "worker_utilisation": "worker util",
    "throughput_per_h": "jobs/h",
}


def _stats(values: Sequence[float], prefix: str) -> dict[str, float | None]:
    if not values:
        return {f"{prefix}_mean_s": None, f"{prefix}_p50_s": None, f"{prefix}_p95_s": None}
    array = np.asarray(values)
    return {
        f"{prefix}_mean_s": float(array.mean()),
        f"{prefix}_p50_s": float(np.percentile(array, 50)),
        f"{prefix}_p95_s": float(np.percentile(array, 95)),
    }


def counted(run: Run) -> list[Outcome]:
    """The outcomes a run's figures count: jobs that arrived after the warm-up."""
    return [o for o in run.outcomes if o.job.arrival >= run.warmup]


def job_figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Waits and job times of the jobs that finished among ``outcomes``.

    ``wait``: seconds queued for a QPU, all of a job's quantum tasks together;
    ``delay``: arrival to the first quantum task's start (a broker record's
    ``started - submitted``); ``response``: arrival to the end (the paper's job
    execution time).
    """
    done = [o for o in outcomes if o.finished is not None]
    return {
        "finished": len(done),
        **_stats([o.queued_s for o in done], "wait"),
        **_stats(
            [o.first_start - o.job.arrival for o in done if o.first_start is not None], "delay"
        ),
        **_stats([o.finished - o.job.arrival for o in done if o.finished is not None], "response"),
    }


def summarise(run: Run) -> dict[str, Any]:
    """The run's figures (see :func:`job_figures` for the waits)."""
    outcomes = counted(run)
    dropped = sum(not o.admitted for o in outcomes)
    span = run.end - run.warmup
    figures = job_figures(outcomes)
    return {
        "jobs": len(outcomes),
        "dropped": dropped,
        "drop_probability": dropped / len(outcomes) if outcomes else 0.0,
        "unfinished": sum(o.admitted and o.finished is None for o in outcomes),
        **figures,
        "throughput_per_h": figures["finished"] / span * 3600 if span > 0 else 0.0,
        "qpu_utilisation": run.averages["qpus_busy"] / run.platform.qpus,
        "worker_utilisation": run.averages["workers_busy"] / run.platform.workers,
        "mean_queued_tasks": run.averages["queued"],
        "mean_classical_tasks": run.averages["classical"],
    }


def by_group(run: Run, key: Callable[[Outcome], str]) -> dict[str, dict[str, Any]]:
    """:func:`job_figures` for each group of counted, admitted jobs."""
    groups: dict[str, list[Outcome]] = {}
    for outcome in counted(run):
        if outcome.admitted:
            groups.setdefault(key(outcome), []).append(outcome)
    return {name: job_figures(groups[name]) for name in sorted(groups, key=_natural)}


def _natural(name: str) -> tuple[float, str]:
    try:
        return float(name), name
    except ValueError:
        return float("inf"), name


def table(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> str:
    """A plain-text table of ``rows``: the parameter ``keys`` then the :data:`COLUMNS`."""
    heads = [*keys, *COLUMNS.values()]
    body = [[str(row[k]) for k in keys] + [_cell(row.get(k)) for k in COLUMNS] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(heads)
    ]
    lines = ["  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)
