"""Round trip: bits measured in a composite come back to the right program and clbit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit_aer import AerSimulator

from streamflow_quantum.core.model import Program
from tests.packer.conftest import make_policy


@st.composite
def deterministic_program(draw: st.DrawFn) -> tuple[QuantumCircuit, str]:
    """A circuit writing a random bit pattern into randomly laid out classical registers."""
    width = draw(st.integers(1, 5))
    clbits = width + draw(st.integers(0, 2))
    cuts = sorted(draw(st.sets(st.integers(1, clbits - 1), max_size=2))) if clbits > 1 else []
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, clbits], strict=True)]
    registers = [ClassicalRegister(size, f"r{i}") for i, size in enumerate(sizes)]
    circuit = QuantumCircuit(QuantumRegister(width, "q"), *registers)
    pattern = draw(st.lists(st.booleans(), min_size=width, max_size=width))
    targets = draw(st.permutations(range(clbits)))[:width]
    values = [0] * clbits
    for qubit, (bit, clbit) in enumerate(zip(pattern, targets, strict=True)):
        if bit:
            circuit.x(qubit)
        circuit.measure(qubit, clbit)
        values[clbit] = int(bit)
    return circuit, "".join(map(str, reversed(values)))


_policy = {}


@settings(max_examples=15, deadline=None)
@given(
    st.lists(deterministic_program(), min_size=1, max_size=8),
    st.sampled_from(["space", "space-time"]),
)
def test_split_returns_each_programs_own_bits(brisbane, programs, policy_name):
    policy = _policy.setdefault(policy_name, make_policy(policy_name, brisbane))
    queue = []
    for i, (circuit, _) in enumerate(programs):
        program = Program(f"p{i}", circuit, 10)
        policy.prepare(program)
        queue.append(program)
    expected = {program.id: key for program, (_, key) in zip(queue, programs, strict=True)}
    batch = policy.next_batch(queue)
    assert sum(s.stop - s.start for s in batch.clbit_slices) == batch.composite.num_clbits
    counts = (
        AerSimulator(method="matrix_product_state")
        .run(batch.composite, shots=10)
        .result()
        .get_counts()
    )
    for placement, part in zip(batch.placements, batch.split_counts(counts), strict=True):
        assert dict(part) == {expected[placement.program.id]: 10}
