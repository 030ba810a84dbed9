"""What one request may cost the broker: checked before a circuit is parsed, and after."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Per-program (and per-request) bounds; each refusal names the camelCase setting."""

    max_bytes: int = 1_000_000  # maxBytes: size of one circuit file
    max_qubits: int = 1024  # maxQubits: at least the largest device (156 qubits)
    max_clbits: int = 4096  # maxClbits
    max_operations: int = 100_000  # maxOperations: after broadcasting and gate expansion
    max_shots: int = 1_000_000  # maxShots
    max_programs: int = 256  # maxPrograms: programs in one request
    max_name: int = 200  # maxName: characters of a program name kept in messages and logs
    max_nesting: int = 64  # maxNesting: depth of brackets; deep nesting stalls the QASM 3 parser


DEFAULT_LIMITS = Limits()


def limits_from(settings: Mapping[str, Any]) -> Limits:
    """The limits among broker settings (``maxQubits`` -> ``max_qubits``), defaults elsewhere."""
    names = {
        f.name: "max" + f.name.removeprefix("max").title().replace("_", "") for f in fields(Limits)
    }
    return replace(
        DEFAULT_LIMITS, **{name: settings[key] for name, key in names.items() if key in settings}
    )
