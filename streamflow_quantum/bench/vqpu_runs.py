"""Repeated runs for `sfq bench vqpu` and `sfq bench workflow`.

A point of a benchmark is measured ``runs`` times; its row holds each figure's mean
under the figure's own name and the sample standard deviation (n - 1 in the
denominator, 0 for a single run) as ``<figure>_sd``, plus ``runs``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def mean_sd(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation; the deviation of one value is 0."""
    data = [float(v) for v in values]
    if not data:
        raise ValueError("no values to average")
    mean = statistics.fmean(data)
    return mean, (statistics.stdev(data, mean) if len(data) > 1 else 0.0)


def aggregate(runs: Sequence[Mapping[str, Any]], figures: Sequence[str]) -> dict[str, Any]:
    """One row from the runs of a point: for each figure its mean and ``<figure>_sd``,
    ``runs``; every other field is taken from the first run (they are the point's keys)."""
    if not runs:
        raise ValueError("a point needs at least one run")
    row: dict[str, Any] = {key: value for key, value in runs[0].items() if key not in figures}
    for figure in figures:
        mean, sd = mean_sd(run[figure] for run in runs)
        row[figure] = mean
        row[f"{figure}_sd"] = sd
    row["runs"] = len(runs)
    return row


def ratio_sd(
    numerator: float, numerator_sd: float, denominator: float, denominator_sd: float
) -> float:
    """Spread of ``numerator / denominator`` from independent spreads (first order)."""
    if numerator == 0 or denominator == 0:
        return 0.0
    ratio = numerator / denominator
    return abs(ratio) * math.hypot(numerator_sd / numerator, denominator_sd / denominator)
