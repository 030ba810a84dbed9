from __future__ import annotations

from qiskit import QuantumCircuit

from streamflow_quantum.core.model import Program, User

CIRCUIT = QuantumCircuit(1)


def program(name: str, submitted: float, user: User | None = None) -> Program:
    return Program(name, CIRCUIT, shots=1, user=user or User("u"), submitted=submitted)


def names(programs: list[Program]) -> list[str]:
    return [p.name for p in programs]
