"""Simulate a batch's composite circuit faithfully, one independent qubit group at a time.

A time-packed program runs after an earlier program's measurement, the reset of the
qubits it reuses and any idle wait; running each placement alone from fresh qubits
hides all three. Simulating the device-wide composite in one go is exact but far too
slow with noise (design.md section 5). This face is exact and cheap:

1. The composite is scheduled once, as a whole, with the device Target's durations
   (ALAP by default), and idle time is padded with delays, so Aer's noise model
   applies thermal relaxation to it. Scheduling the whole circuit keeps the waits a
   barrier imposes even where it spans several groups.
2. Its instructions are split into groups: union-find over every instruction's
   qubits and clbits (barriers and delays excepted, so a device-wide barrier links
   nothing), plus each program's clbits, so a program's bits all land in one group.
   A reset of a qubit in use starts a new timeline for it, since Aer's reset leaves
   the qubit in |0> in product with the rest: a program appended after the reset of
   the qubits it reuses is its own group, still on the schedule the chain gave it.
3. Each group is one experiment: its own instructions on the full qubit index
   space, so the simulator's noise model applies unchanged (restricted to the qubits
   in use, for speed); Aer truncates the idle qubits (``enable_truncation``, on by
   default), so an experiment simulates only its group's qubits. All experiments
   run in one ``run()`` call per simulation method (see :func:`method_for`).
4. Each program's counts are the marginal of its group's counts over its clbits.

Aer's noise models act on each instruction's own qubits (no crosstalk), so groups
that share no instruction evolve independently and the marginals are exactly those
of the whole composite: ``tests/packer/test_faithful.py`` checks this against a
whole-composite simulation on FakeLagos, time-packed chains included.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from streamflow_quantum.backends.base import normalise_counts

if TYPE_CHECKING:
    from collections.abc import Sequence

    from qiskit import QuantumCircuit
    from qiskit.transpiler import Target
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel

    from streamflow_quantum.core.model import Batch

logger = logging.getLogger(__name__)

Scheduling = Literal["alap", "asap"]


@dataclass(frozen=True)
class Group:
    """Instructions that no instruction links to the rest of the circuit."""

    #: Physical qubits it acts on.
    qubits: tuple[int, ...]
    #: Clbits it writes (or must keep with them: a program's bits), ascending.
    clbits: tuple[int, ...]
    #: Indices of its instructions in the circuit, in order (barriers excepted).
    instructions: tuple[int, ...]


def qubit_groups(circuit: QuantumCircuit, outputs: Sequence[slice] = ()) -> list[Group]:
    """Independent groups of ``circuit``'s instructions, in order of their first one.

    Union-find over instructions' qubits and clbits. Barriers and delays link nothing
    (a device-wide barrier would otherwise join every program). A reset of a qubit
    already in use starts a new timeline for it: Aer's reset leaves the qubit in |0>
    whatever came before, in product with the rest, so a program appended after a
    reset forms its own group (exactly, and measured only at the end it can be
    sampled from one density matrix). ``outputs`` are clbit ranges kept in one group
    (each program's bits), so a program's counts come from one experiment.
    """
    nc = circuit.num_clbits
    parent = list(range(nc))  # clbits first, then one node per qubit timeline

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(nodes: Sequence[int]) -> None:
        root = find(nodes[0])
        for node in nodes[1:]:
            other = find(node)
            if other != root:
                parent[other] = root

    timeline: dict[int, int] = {}  # qubit -> node of its current timeline
    qubit_of: dict[int, int] = {}  # timeline node -> qubit
    busy: set[int] = set()  # qubits whose current timeline has an operation

    def start(q: int) -> int:
        node = len(parent)
        parent.append(node)
        timeline[q], qubit_of[node] = node, q
        busy.discard(q)
        return node

    placed: list[tuple[int, int]] = []  # (instruction index, a node of it)
    acting: set[int] = set()  # timeline nodes with an operation
    for k, instruction in enumerate(circuit.data):
        name = instruction.operation.name
        if name == "barrier":
            continue
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        if not qubits:
            continue
        if name == "reset" and qubits[0] in busy:
            start(qubits[0])
        nodes = [timeline[q] if q in timeline else start(q) for q in qubits]
        placed.append((k, nodes[0]))
        if name == "delay":
            continue
        busy.update(qubits)
        acting.update(nodes)
        union(nodes + [circuit.find_bit(c).index for c in instruction.clbits])
    for sl in outputs:
        if sl.stop > sl.start:
            union(list(range(sl.start, sl.stop)))

    members: dict[int, tuple[set[int], list[int], list[int]]] = {}
    for node in sorted(acting):
        members.setdefault(find(node), (set(), [], []))[0].add(qubit_of[node])
    for c in range(nc):
        members.setdefault(find(c), (set(), [], []))[1].append(c)
    for k, node in placed:
        root = find(node)
        if root in members:  # padding on a timeline with no operation is dropped
            members[root][2].append(k)
    groups = [Group(tuple(sorted(qs)), tuple(cs), tuple(ks)) for qs, cs, ks in members.values()]
    return sorted(groups, key=lambda g: (g.instructions[:1] or (len(circuit.data),), g.clbits))


def schedule(
    circuit: QuantumCircuit, target: Target, method: Scheduling = "alap"
) -> QuantumCircuit:
    """``circuit`` with every idle stretch before a qubit's last operation padded by a delay.

    Without delays Aer applies no noise to idle qubits. The very end is not padded:
    nothing after a qubit's last measurement changes its counts. Raises
    ``TranspilerError`` where the Target lacks a duration for an instruction.
    """
    from qiskit.transpiler import PassManager
    from qiskit.transpiler.passes import ALAPScheduleAnalysis, ASAPScheduleAnalysis, PadDelay

    analysis = ALAPScheduleAnalysis if method == "alap" else ASAPScheduleAnalysis
    passes = PassManager([analysis(target=target), PadDelay(fill_very_end=False, target=target)])
    return passes.run(circuit)


def has_durations(target: Target) -> bool:
    """Whether ``target`` times its measurements (ideal simulators' Targets do not)."""
    if target.dt is None or "measure" not in target:
        return False
    return any(p is not None and p.duration for p in target["measure"].values())


def group_circuits(circuit: QuantumCircuit, groups: Sequence[Group]) -> list[QuantumCircuit]:
    """One circuit per group: its instructions, on all of ``circuit``'s qubits (so a
    device noise model applies as is) and all its clbits (so conditions still refer
    to theirs); the group's clbits are the only ones written."""
    parts = []
    for i, group in enumerate(groups):
        part = circuit.copy_empty_like(name=f"group-{i}")
        for k in group.instructions:
            part.append(circuit.data[k], copy=False)
        parts.append(part)
    return parts


def marginal(counts: Counter[str], positions: Sequence[int]) -> Counter[str]:
    """Counts over the bits at ``positions`` (clbit indices, Qiskit order: clbit 0 rightmost)."""
    out: Counter[str] = Counter()
    for key, n in counts.items():
        width = len(key)
        out["".join(key[width - 1 - p] for p in reversed(positions))] += n
    return out


def batch_noise(
    noise_model: NoiseModel, circuits: Sequence[QuantumCircuit]
) -> tuple[list[QuantumCircuit], NoiseModel]:
    """``circuits`` with their delays turned into references to relaxation errors, and a
    noise model holding those errors and ``noise_model``'s errors on the qubits they use.

    Exact, and needed for speed: Aer turns delays into error instructions by itself but
    then deep-copies the whole device noise model, and it serialises the model on every
    ``run()``; on a 127-qubit device the two cost seconds (design.md section 5), the
    simulation itself well under one. Reads the model's private tables: Aer offers no
    public way to list a noise model's errors short of ``to_dict()``, itself slow.
    """
    from qiskit_aer.noise import NoiseModel
    from qiskit_aer.noise.errors.base_quantum_error import QuantumChannelInstruction
    from qiskit_aer.noise.noise_model import QuantumErrorLocation

    passes = noise_model._pass_manager()  # the delay passes, as Aer would run them
    circuits = (
        list(circuits) if passes is None else list(passes.run(list(circuits), num_processes=1))
    )
    used = {c.find_bit(q).index for c in circuits for i in c.data for q in i.qubits}
    # Copied table by table: re-adding each error through add_quantum_error would
    # check it for ideality again, a few hundred ms per batch.
    model = NoiseModel(basis_gates=noise_model.basis_gates)
    model._default_quantum_errors = dict(noise_model._default_quantum_errors)
    model._default_readout_error = noise_model._default_readout_error
    model._local_quantum_errors = {
        name: kept
        for name, errors in noise_model._local_quantum_errors.items()
        if (kept := {qs: e for qs, e in errors.items() if used.issuperset(qs)})
    }
    model._local_readout_errors = {
        qs: e for qs, e in noise_model._local_readout_errors.items() if used.issuperset(qs)
    }
    model._noise_instructions = set(model._default_quantum_errors) | set(
        model._local_quantum_errors
    )
    if model._default_readout_error is not None or model._local_readout_errors:
        model._noise_instructions.add("measure")
    model._noise_qubits = used & set(noise_model._noise_qubits)
    out = []
    for circuit in circuits:
        located = circuit.copy_empty_like()
        for instruction in circuit.data:
            operation = instruction.operation
            if isinstance(operation, QuantumChannelInstruction):
                error = operation._quantum_error
                model.add_all_qubit_quantum_error(error, error.id, warnings=False)
                operation = QuantumErrorLocation(error)
            located.append(operation, instruction.qubits, instruction.clbits, copy=False)
        out.append(located)
    return out, model


#: Largest group simulated as a density matrix (4**n amplitudes, every shot at once).
DENSITY_MATRIX_QUBITS = 10


def method_for(simulator: AerSimulator, circuit: QuantumCircuit) -> str:
    """The simulation method for one group: the simulator's own unless automatic.

    Experiments of one ``run()`` call must share a method: with qiskit-aer 0.18, when
    Aer's automatic choice runs one experiment as a statevector and a later one as a
    density matrix, the later one's delay errors come out wrong (a wait in
    superposition read as a near-certain phase flip). So the choice is made here, as
    Aer's would be: a density matrix (all shots sampled from one run) for a small group
    measured only at the end, a statevector run shot by shot otherwise.
    """
    method = str(simulator.options.method)
    if method != "automatic" or simulator.options.noise_model is None:
        return method
    measured: set[int] = set()
    qubits: set[int] = set()
    for instruction in circuit.data:
        indices = {circuit.find_bit(q).index for q in instruction.qubits}
        qubits |= indices
        name = instruction.operation.name
        if name == "measure":
            measured |= indices
        elif name != "barrier" and indices & measured:
            return "statevector"
    return "density_matrix" if len(qubits) <= DENSITY_MATRIX_QUBITS else "statevector"


def faithful_counts(
    simulator: AerSimulator,
    batch: Batch,
    shots: int | None = None,
    seed: int | None = None,
    scheduling: Scheduling | None = "alap",
) -> list[Counter[str]]:
    """Each placement's counts from simulating ``batch.composite`` on ``simulator``.

    The packer benchmark's fidelity source, and the Aer backend's face for noisy
    simulators. ``scheduling=None`` adds no delays (idle qubits then feel no noise,
    as when each placement runs alone); no delays are added either where the
    simulator's Target has no durations (ideal Aer), nor where the composite has
    control flow, which Qiskit's scheduling passes cannot time (logged).
    """
    from qiskit.circuit import ControlFlowOp

    shots = batch.shots if shots is None else shots
    composite = batch.composite
    if scheduling is not None and has_durations(simulator.target):
        if any(isinstance(i.operation, ControlFlowOp) for i in composite.data):
            # Qiskit's scheduling passes cannot time control flow.
            logger.warning("batch %s: control flow, so idle qubits get no delays", batch.id)
        else:
            composite = schedule(composite, simulator.target, scheduling)
    groups = qubit_groups(composite, batch.clbit_slices)
    runnable = [i for i, g in enumerate(groups) if g.instructions and g.clbits]
    circuits = group_circuits(composite, [groups[i] for i in runnable])
    group_counts = [Counter({"0" * composite.num_clbits: shots}) for _ in groups]
    options: dict[str, Any] = {}
    noise_model = simulator.options.noise_model
    if circuits and noise_model is not None:
        circuits, options["noise_model"] = batch_noise(noise_model, circuits)
    by_method: dict[str, list[int]] = {}
    for k, circuit in enumerate(circuits):
        by_method.setdefault(method_for(simulator, circuit), []).append(k)
    for n, (method, ks) in enumerate(sorted(by_method.items())):
        result = simulator.run(
            [circuits[k] for k in ks],
            shots=shots,
            seed_simulator=None if seed is None else seed + n,
            method=method,
            **options,
        ).result()
        for j, k in enumerate(ks):
            group_counts[runnable[k]] = normalise_counts(result.get_counts(j))
    owner = {c: i for i, g in enumerate(groups) for c in g.clbits}
    out: list[Counter[str]] = []
    for sl in batch.clbit_slices:
        if sl.stop == sl.start:
            out.append(Counter({"": shots}))
        else:
            out.append(marginal(group_counts[owner[sl.start]], range(sl.start, sl.stop)))
    return out
