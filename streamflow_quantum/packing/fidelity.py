"""Estimated success probability of a placed circuit, from the device Target.

The model multiplies, for one placed circuit (``Placement.circuit``: every device
qubit, the program's own clbits):

* ``1 - error`` of every operation, from the Target's ``InstructionProperties`` on
  the operation's physical qubits (measurements give the readout error; a
  mid-circuit measurement or reset counts each time). These calibrated errors
  already include decoherence *during* the operation (Aer builds its gate noise so),
  so decoherence is counted only while a qubit idles;
* per qubit, decoherence over its idle time between two of its operations, in an
  as-late-as-possible schedule from the Target's durations (barriers synchronise):
  the Pauli-twirled thermal-relaxation channel succeeds with probability
  ``1/4 + exp(-t/T1)/4 + exp(-t/T2)/2`` (T2 capped at 2 T1, as Aer does). A qubit idles
  for free before its first operation, after its last measurement, and before a
  reset (it holds nothing then);
* for a program appended in time, a reset of each qubit in ``after`` that the
  circuit does not already reset before using it. A reset costs the Target's reset
  error, or where the Target has none (IBM devices), the qubit's readout error: IBM
  resets are a measurement and a conditional flip, so the earlier program's
  measurement misread leaves the qubit in ``|1>``.

The idle wait before ``start_s`` costs nothing: a qubit that was never used, or was
reset after the earlier program, waits in ``|0>``, which relaxation keeps. So
``start_s`` is accepted for the packer's convenience and does not change the figure.

Limits: no crosstalk, no leakage, no spectator or measurement-induced errors, no
correlated or non-Markovian noise (as Aer's device noise models); errors multiply as
if independent; the bodies of control-flow operations and stretch delays are not
counted; a missing error or duration counts as zero, so an ideal Target
(``AerSimulator()``: no errors, durations, T1 or T2) gives 1.0. It is an estimate of
the probability that no error occurs, meant to *rank* placements, not to predict a
distance: a program whose output ignores some errors scores lower than it should.

Read the Target once per calibration (``FidelityModel.of(target)`` caches per Target
object; a new calibration comes as a new Target). A call walks the circuit once,
backwards, skipping virtual ``rz``: about 1.5 us per operation (FakeBrisbane:
40 us for lpn_n5, 37 operations; 170 us for a 7-qubit random circuit of 255; 3.7 ms
for hhl_n7, 2403).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.transpiler import Target

#: Instructions that only order others in time.
_SYNC = frozenset({"barrier"})
#: Marks a qubit whose state no later operation needs (ALAP times are <= 0).
_NOTHING = 1.0
#: Cost and duration of an operation the Target does not calibrate.
_UNKNOWN = (0.0, 0.0)
_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12}


class FidelityModel:
    """A device's errors, durations and coherence times, read once from its Target."""

    def __init__(self, target: Target) -> None:
        #: ``(name, qargs) -> (-log(1 - error), duration in s)``.
        self.ops: dict[tuple[str, tuple[int, ...]], tuple[float, float]] = {}
        for name in target.operation_names:
            for qargs, props in (target[name] or {}).items():
                if qargs is None or props is None:
                    continue
                error = props.error or 0.0
                cost = -math.log1p(-error) if error < 1.0 else math.inf
                self.ops[(name, tuple(qargs))] = (cost, props.duration or 0.0)
        #: Operations that cost nothing on every qubit (virtual ``rz``): skipped.
        self.free = frozenset(
            name
            for name in target.operation_names
            if name not in {"barrier", "delay", "reset"}
            and (qargs := target.qargs_for_operation_name(name))
            and all(self.ops.get((name, tuple(q)), _UNKNOWN) == _UNKNOWN for q in qargs)
        )
        self.dt = target.dt
        #: Per qubit: ``(1/T1, 1/T2)`` in 1/s, zero where unknown.
        self.rates: list[tuple[float, float]] = []
        for props in target.qubit_properties or [None] * target.num_qubits:
            t1 = getattr(props, "t1", None) or math.inf
            t2 = min(getattr(props, "t2", None) or math.inf, 2 * t1)
            self.rates.append((1 / t1, 1 / t2))
        #: Per qubit: ``-log(1 - error)`` of a reset, or of a readout where the Target
        #: has no reset error.
        self.reset_cost = [
            self.ops.get(("reset", (q,)), (0.0, 0.0))[0]
            or self.ops.get(("measure", (q,)), (0.0, 0.0))[0]
            for q in range(target.num_qubits)
        ]
        self.ideal = not any(c for c, _ in self.ops.values()) and not any(
            r1 or r2 for r1, r2 in self.rates
        )

    @staticmethod
    @functools.lru_cache(maxsize=16)
    def of(target: Target) -> FidelityModel:
        """The model of a Target, built once per Target object (the last 16 kept)."""
        return FidelityModel(target)

    def delay_s(self, value: object, unit: str) -> float:
        """A delay's length in seconds (0 for a stretch, or in dt on a Target without dt)."""
        if not isinstance(value, (int, float)):
            return 0.0
        seconds = float(value)
        if unit == "dt":
            return seconds * self.dt if self.dt else 0.0
        return seconds * _UNITS[unit]

    def success_probability(
        self,
        circuit: QuantumCircuit,
        *,
        start_s: float = 0.0,
        after: Iterable[int] = (),
    ) -> float:
        """Estimated probability that the placed ``circuit`` runs without error.

        ``after``: qubits that earlier programs in the same slots used (reset before
        this one). ``start_s``: see the module docstring.
        """
        del start_s  # waiting in |0> costs nothing under this model
        if self.ideal:
            return 1.0
        cost, idle = self._walk(circuit, after)
        probability = math.exp(-cost)
        for q, t in enumerate(idle):
            if t > 0.0:
                probability *= float(relaxation_success(t, *self.rates[q]))
        return probability

    def idle_times(self, circuit: QuantumCircuit) -> list[float]:
        """Per qubit of ``circuit``, the time it idles holding state (what decoheres)."""
        return self._walk(circuit, ())[1]

    def _walk(self, circuit: QuantumCircuit, after: Iterable[int]) -> tuple[float, list[float]]:
        """The operations' total ``-log(1 - error)`` (resets of ``after`` included) and
        each qubit's idle time, from one backward pass (the module's schedule)."""
        n = circuit.num_qubits
        index = {bit: i for i, bit in enumerate(circuit.qubits)}
        ops, free, reset_cost = self.ops, self.free, self.reset_cost
        cost = 0.0
        latest = [0.0] * n  # ALAP: when the qubit's next operation starts (times <= 0)
        holding = [_NOTHING] * n  # start of the next operation that needs its state
        idle = [0.0] * n
        first = [""] * n  # each qubit's first operation (seen last, going backwards)
        # One pass backwards: operations end as late as possible, at 0 at the latest.
        for instruction in reversed(list(circuit.data)):
            name = instruction.name
            if name in free:
                continue
            bits = instruction.qubits
            qargs: tuple[int, ...]
            if len(bits) == 1:
                qargs = (index[bits[0]],)
                end = latest[qargs[0]]
            else:
                qargs = tuple([index[q] for q in bits])
                end = min([latest[q] for q in qargs]) if qargs else 0.0
            if name in _SYNC:
                for q in qargs:
                    latest[q] = end
                continue
            if name == "delay":  # idle time, counted through the gap it leaves
                delay = instruction.operation
                for q in qargs:
                    latest[q] = end - self.delay_s(delay.params[0], delay.unit)
                continue
            op_cost, duration = ops.get((name, qargs), _UNKNOWN)
            start = end - duration
            if name == "reset":
                cost += reset_cost[qargs[0]]
                for q in qargs:  # the qubit waits in |0> for its next operation
                    latest[q], holding[q], first[q] = start, _NOTHING, name
                continue
            cost += op_cost
            for q in qargs:
                if holding[q] <= 0.0:
                    idle[q] += holding[q] - end
                latest[q] = holding[q] = start
                first[q] = name
        for q in after:
            if first[q] != "reset":
                cost += reset_cost[q]
        return cost, idle


def relaxation_success(t: Any, rate1: Any, rate2: Any) -> Any:
    """The Pauli-twirled thermal-relaxation channel's success after idling ``t`` seconds
    at rates ``1/T1`` and ``1/T2`` (scalars or numpy arrays, broadcast)."""
    return 0.25 + 0.25 * np.exp(-t * rate1) + 0.5 * np.exp(-t * rate2)


def success_probability(
    circuit: QuantumCircuit,
    target: Target,
    *,
    start_s: float = 0.0,
    after: Iterable[int] = (),
) -> float:
    """``FidelityModel.of(target).success_probability(circuit, ...)``."""
    return FidelityModel.of(target).success_probability(circuit, start_s=start_s, after=after)
