"""Drive a scipy optimiser one evaluation at a time, with its state in a file.

In the workflow each energy evaluation is a separate quantum step, so the
optimiser cannot keep running between evaluations. scipy's derivative-free
methods (COBYLA, Nelder-Mead, Powell) are deterministic: given the same start
and the same function values they request the same points. The state is
therefore just the start point and the list of evaluations so far; to learn the
next point we re-run ``scipy.optimize.minimize`` from the start, answer it from
that list, and stop it at the first point it requests beyond the list. Replaying
costs microseconds per evaluation, against seconds for a quantum step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize


class _Requested(Exception):
    def __init__(self, x: np.ndarray) -> None:
        super().__init__()
        self.x = x


@dataclass
class SteppedMinimizer:
    """``ask`` the next point, evaluate it anywhere, ``tell`` its value."""

    x0: list[float]
    method: str = "COBYLA"
    options: dict[str, Any] = field(default_factory=dict)
    #: ``[x, f(x)]`` for every evaluation so far, in the optimiser's order.
    history: list[tuple[list[float], float]] = field(default_factory=list)

    def ask(self) -> np.ndarray | None:
        """The next point to evaluate, or ``None`` once the method has stopped."""
        told = iter(self.history)

        def replay(x: np.ndarray) -> float:
            recorded = next(told, None)
            if recorded is None:
                raise _Requested(np.array(x, dtype=float))
            if not np.allclose(x, recorded[0], rtol=0, atol=1e-9):
                raise ValueError(
                    f"optimiser state does not replay: expected {recorded[0]}, got {list(x)}; was the state file edited?"
                )
            return recorded[1]

        try:
            minimize(
                replay, np.asarray(self.x0, dtype=float), method=self.method, options=self.options
            )
        except _Requested as request:
            return request.x
        return None

    def tell(self, x: np.ndarray | list[float], value: float) -> None:
        self.history.append(([float(v) for v in x], float(value)))

    def best(self) -> tuple[list[float], float]:
        """The evaluated point with the lowest value."""
        if not self.history:
            raise ValueError("no point has been evaluated yet")
        x, value = min(self.history, key=lambda item: item[1])
        return list(x), value

    def to_dict(self) -> dict[str, Any]:
        return {
            "x0": list(self.x0),
            "method": self.method,
            "options": self.options,
            "history": [list(h) for h in self.history],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SteppedMinimizer:
        history = [(list(x), float(f)) for x, f in data["history"]]
        return cls(
            x0=list(data["x0"]),
            method=data["method"],
            options=dict(data["options"]),
            history=history,
        )
