"""Service-time distributions, written ``KIND:PARAMS`` on the command line."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

KINDS = {
    "const": "const:SECONDS",
    "exp": "exp:MEAN",
    "uniform": "uniform:LOW,HIGH",
    "gamma": "gamma:MEAN,CV (coefficient of variation)",
    "lognorm": "lognorm:MEAN,CV",
}


@dataclass(frozen=True)
class Distribution:
    """Non-negative durations in seconds: ``kind`` with ``params``, or drawn from ``values``."""

    kind: str
    params: tuple[float, ...] = ()
    values: tuple[float, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> Distribution:
        kind, _, rest = spec.partition(":")
        if kind not in KINDS:
            raise ValueError(
                f"unknown distribution {spec!r}; use one of: {', '.join(KINDS.values())}"
            )
        try:
            params = tuple(float(p) for p in rest.split(",")) if rest else ()
        except ValueError:
            raise ValueError(f"{spec!r}: parameters must be numbers ({KINDS[kind]})") from None
        arity = {"const": 1, "exp": 1, "uniform": 2, "gamma": 2, "lognorm": 2}[kind]
        if len(params) != arity or any(p < 0 or not math.isfinite(p) for p in params):
            raise ValueError(f"{spec!r}: expected {KINDS[kind]}, non-negative")
        return cls(kind, params)

    @classmethod
    def empirical(cls, values: Sequence[float]) -> Distribution:
        """Resampling ``values`` with replacement."""
        if not values:
            raise ValueError("an empirical distribution needs values")
        return cls("empirical", values=tuple(float(v) for v in values))

    @property
    def mean(self) -> float:
        if self.kind == "empirical":
            return float(np.mean(self.values))
        if self.kind == "uniform":
            return (self.params[0] + self.params[1]) / 2
        return self.params[0]

    def sample(self, rng: np.random.Generator) -> float:
        kind, p = self.kind, self.params
        if kind == "const":
            return p[0]
        if kind == "exp":
            return float(rng.exponential(p[0]))
        if kind == "uniform":
            return float(rng.uniform(p[0], p[1]))
        if kind == "empirical":
            return self.values[int(rng.integers(len(self.values)))]
        mean, cv = p
        if cv == 0 or mean == 0:
            return mean
        if kind == "gamma":
            shape = 1 / cv**2
            return float(rng.gamma(shape, mean / shape))
        sigma2 = math.log1p(cv**2)  # lognorm with this mean and coefficient of variation
        return float(rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2)))

    def __str__(self) -> str:
        if self.kind == "empirical":
            return f"empirical({len(self.values)} values, mean {self.mean:.4g})"
        return f"{self.kind}:{','.join(f'{p:g}' for p in self.params)}"
