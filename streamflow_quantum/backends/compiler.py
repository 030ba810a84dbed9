"""A compiler process's main loop (``python -m streamflow_quantum.backends.compiler``).

It reads pickled requests from stdin and writes pickled replies to what was stdout,
one reply per request; stray output goes to stderr. A failed compile replies with
whether it was a ``TranspilerError``, the error's type and its message, never the
exception itself, so that every reply unpickles. It ends when stdin closes (its
broker's process ended).
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import TYPE_CHECKING, Any

from qiskit.transpiler.exceptions import TranspilerError

from streamflow_quantum.backends.transpiling import PassManagers
from streamflow_quantum.core.errors import one_line

if TYPE_CHECKING:
    from qiskit.transpiler import Target


def _warm_up() -> None:
    """Load the modules Qiskit's passes import lazily (0.8 s), before the first program waits."""
    from qiskit import QuantumCircuit
    from qiskit.transpiler import CouplingMap, generate_preset_pass_manager

    circuit = QuantumCircuit(3, 3)
    circuit.h(0)
    circuit.cx(0, 2)
    circuit.measure(range(3), range(3))
    for level in (1, 2):
        generate_preset_pass_manager(
            level, basis_gates=["ecr", "rz", "sx", "x"], coupling_map=CouplingMap.from_line(3)
        ).run(circuit)


def main() -> None:
    _warm_up()
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    targets: dict[int, Target] = {}
    managers = PassManagers()
    while True:
        try:
            key, target, optimization_level, circuit, forget = pickle.load(requests)
        except EOFError:
            return
        for old in forget:
            targets.pop(old, None)
        if target is not None:
            targets[key] = target
        reply: tuple[bool, Any]
        try:
            reply = (True, managers.run(circuit, targets[key], optimization_level))
        except Exception as e:  # the requesting thread raises it, as a compile in place would
            reply = (False, (isinstance(e, TranspilerError), type(e).__name__, one_line(e)))
        replies.write(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        replies.flush()


if __name__ == "__main__":
    main()
