"""The face every QPU backend shows the broker."""

from __future__ import annotations

import datetime
import logging
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from streamflow_quantum.backends.transpiling import transpile
from streamflow_quantum.core.config import Schema
from streamflow_quantum.core.errors import ConfigError, ProgramError

logger = logging.getLogger(__name__)

#: The serial service's optimization level (HyperQ's qVMs compile at the same).
SERIAL_OPTIMIZATION_LEVEL = 1

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.transpiler import Target

    from streamflow_quantum.core.model import Batch


def normalise_counts(counts: dict[str, int]) -> Counter[str]:
    """Counts keyed by bitstrings in Qiskit order with registers joined."""
    return Counter({key.replace(" ", ""): n for key, n in counts.items()})


def estimate_duration_s(circuit: QuantumCircuit, target: Target) -> float | None:
    """Critical-path device time of one shot, measurement and reset included; None where
    the Target has no gate durations (ideal simulators)."""
    from qiskit.exceptions import QiskitError

    try:
        return float(circuit.estimate_duration(target, unit="s"))
    except QiskitError as e:
        logger.debug("no duration for %s: %s", circuit.name, e)
        return None


def calibration_id(date: object, digest: str | None = None) -> str | None:
    """The id results record for a calibration: its date (ISO 8601), then ``#`` and a short
    digest of its properties where they come from a file, whose edits may keep the date."""
    when = date.isoformat() if isinstance(date, datetime.datetime) else date
    if digest is None:
        return None if when is None else str(when)
    return f"{when or ''}#{digest[:8]}"


class CalibrationError(RuntimeError):
    """A new calibration the backend cannot take while the broker runs."""


def _instructions(target: Target) -> dict[str, frozenset[tuple[int, ...]]]:
    return {
        name: frozenset(target.qargs_for_operation_name(name) or ())
        for name in target.operation_names
    }


def check_same_device(old: Target, new: Target, name: str) -> None:
    """Refuse a calibration that changes which gates act on which qubits: programs compiled
    for the old Target must stay valid on the new one."""
    if old.num_qubits != new.num_qubits or _instructions(old) != _instructions(new):
        raise CalibrationError(
            f"the new calibration of {name} changes its qubits, gates or coupling map; "
            "kept the old one (restart the broker to take it)"
        )


def active_qubits(circuit: QuantumCircuit) -> tuple[int, ...]:
    used = {circuit.find_bit(q).index for instruction in circuit.data for q in instruction.qubits}
    return tuple(sorted(used))


class Backend(ABC):
    """A device (real or simulated) that runs one batch at a time.

    A subclass is registered under its kind (``aer`` in ``aer:fake_brisbane``); the
    class methods let the registry check a name and open the backend it names.
    """

    @classmethod
    def options_schema(cls) -> Schema | None:
        """The JSON schema of this kind's own options block (``ibm:`` in the qpu config)."""
        return None

    @classmethod
    def check_device(cls, device: str, spec: str) -> None:
        """Refuse a device name this kind cannot open, without opening it."""
        if device:
            raise ConfigError(f"backend {spec!r}: this backend takes no device name")

    @classmethod
    @abstractmethod
    def open(cls, device: str, noise: bool, **options: Any) -> Backend:
        """The backend for ``device`` (the part of the name after ``:``)."""

    #: The calibration :attr:`target` reflects (see :func:`calibration_id`); None where it
    #: has none (an ideal simulator). Results record it.
    calibration: str | None = None

    def __init__(self, name: str, target: Target) -> None:
        self.name = name
        self.target = target

    @property
    def num_qubits(self) -> int:
        return int(self.target.num_qubits)

    def refresh_calibration(self) -> bool:
        """Re-read the device's calibration; where it changed, take the new Target (and what
        derives from it) and return True. Blocking: the broker calls it in a worker thread.

        Raises :class:`CalibrationError` for a calibration of a different device layout.
        """
        return False

    def _recalibrated(self, target: Target, calibration: str | None) -> None:
        """Switch to a new calibration's Target of the same device."""
        check_same_device(self.target, target, self.name)
        self.target = target
        self.calibration = calibration

    def compile(self, circuit: QuantumCircuit) -> QuantumCircuit:
        """Transpile a logical circuit for the whole device (the serial service)."""
        if circuit.num_qubits > self.num_qubits:
            raise ProgramError(
                f"{circuit.name}: needs {circuit.num_qubits} qubits but {self.name} has "
                f"{self.num_qubits}; use a larger device or a smaller circuit"
            )
        return transpile(circuit, self.target, SERIAL_OPTIMIZATION_LEVEL)

    def duration_s(self, circuit: QuantumCircuit) -> float:
        """Device time of one shot along the critical path, or 0 where the Target has no durations."""
        return estimate_duration_s(circuit, self.target) or 0.0

    @abstractmethod
    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        """Run one batch; return the backend's job id and each placement's counts."""

    def used_s(self, job_id: str) -> float | None:
        """The device time the provider charged for a job this backend just ran, or None
        where it reports none (a simulator: quotas charge the Target's modelled time)."""
        return None

    #: Whether :meth:`job_counts` can fetch an earlier job's counts (a provider that keeps
    #: jobs does; a simulator does not).
    can_attach = False

    def job_counts(self, job_id: str) -> Mapping[str, int]:
        """The composite's counts of an earlier job of this backend, once it has finished."""
        raise NotImplementedError(f"{self.name} keeps no jobs to attach to")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release sessions or connections held by the backend."""
