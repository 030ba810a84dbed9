"""Expectation values of circuits wider than the device, by circuit cutting.

A circuit wider than ``max_width`` qubits is cut with ``qiskit-addon-cutting``: automatic
cut finding (gate and wire cuts) within a bound on the sampling overhead, the
subexperiments of the quasi-probability decomposition, and the reconstruction of the
expectation values from their counts. The subexperiments are small, ordinary programs:
the broker queues and packs them side by side with anyone else's. A circuit that fits is
not cut; it runs through the same path (one coefficient, one circuit per commuting
group of observables and per disconnected piece).

Only distinct subexperiments run. The library lists one per coefficient of the
decomposition (the product of every cut's terms) and per piece, but a piece's circuit
depends only on the terms of the cuts that touch it, and a gate cut's 6 terms leave
each side one of 5 circuits (two terms measure the same side): four pieces in a ring
give 6^4 x 4 = 5184 subexperiments and 4 x 5^2 = 100 distinct circuits. Each distinct
circuit runs once and its counts stand for every copy in the reconstruction.

Standard errors come from the shot noise alone: each program's counts are resampled
multinomially (a seeded bootstrap, :data:`BOOTSTRAP` times), the values reconstructed
again, and the spread of each value is its standard error. The values themselves come
from the library's reconstruction; the resamples go through :func:`_factored`, the same
sum of products taken once per distinct circuit and outcome, because the library's
reconstruction walks every copy's outcomes (about 10 s for 5184 of them, per resample).

:func:`plan` and :func:`reconstruct` are pure; :func:`estimate_on` drives them on a
broker in this process (``sfq estimate`` without a broker, and the ``/v1/estimates``
route), while ``sfq estimate`` with a broker samples through the broker's client.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from streamflow_quantum.core.errors import ProgramError
from streamflow_quantum.core.model import ANONYMOUS, Program, User

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from qiskit import QuantumCircuit

    from streamflow_quantum.broker.core import Broker

#: Resamples of the shot noise behind each standard error.
BOOTSTRAP = 64
#: Operations a circuit is decomposed into before cut finding (which takes 1- and 2-qubit gates).
_MAX_DECOMPOSE = 4
_PAULI = frozenset("IXYZ")


class CuttingError(ValueError):
    """The circuit or observables cannot be estimated as asked; the message says why."""


@dataclass(frozen=True)
class Observable:
    """A real coefficient times a Pauli string (leftmost character on the highest qubit)."""

    coefficient: float
    pauli: str

    @property
    def text(self) -> str:
        return self.pauli if self.coefficient == 1 else f"{self.coefficient:g} {self.pauli}"


def parse_observables(text: str) -> list[Observable]:
    """Observables from a text file (one per line, ``#`` comments) or a JSON list of such lines."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            lines = json.loads(stripped)
        except ValueError as e:
            raise CuttingError(f"observables: not a JSON list of strings ({e})") from None
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise CuttingError("observables: a JSON file must hold a list of strings")
    else:
        lines = [line.split("#", 1)[0] for line in text.splitlines()]
    observables = [_observable(line) for line in lines if line.strip()]
    if not observables:
        raise CuttingError("observables: none given")
    return observables


def _observable(line: str) -> Observable:
    words = line.replace("*", " ").split()
    if len(words) not in (1, 2):
        raise CuttingError(f"observable {line.strip()!r}: write [COEFFICIENT] PAULI, e.g. -0.5 ZZI")
    pauli = words[-1].upper()
    coefficient = 1.0
    if pauli[:1] in "+-" and len(words) == 1:
        coefficient, pauli = (-1.0 if pauli[0] == "-" else 1.0), pauli[1:]
    if len(words) == 2:
        try:
            coefficient = float(words[0])
        except ValueError:
            raise CuttingError(
                f"observable {line.strip()!r}: the coefficient must be a real number"
            ) from None
    if not pauli or not set(pauli) <= _PAULI or not math.isfinite(coefficient):
        raise CuttingError(f"observable {line.strip()!r}: a Pauli string is made of I, X, Y, Z")
    return Observable(coefficient, pauli)


@dataclass
class Plan:
    """A circuit cut (or not) into subexperiments, and what reconstructing needs."""

    name: str
    observables: list[Observable]
    #: The distinct subexperiments, the programs to run: each one's subsystem label, the
    #: index of its first copy among that subsystem's, and its circuit.
    subexperiments: list[tuple[Hashable, int, QuantumCircuit]]
    #: Per subsystem, in the library's order, which distinct subexperiment each one is.
    layout: dict[Hashable, list[int]]
    coefficients: list[tuple[float, Any]]
    subobservables: dict[Hashable, Any]
    cuts: list[dict[str, Any]]
    sampling_overhead: float
    widths: list[int] = field(default_factory=list)

    def names(self) -> list[str]:
        return [f"{self.name}.{label}.{i}" for label, i, _ in self.subexperiments]

    @property
    def generated(self) -> int:
        """The subexperiments the library generated, copies included."""
        return sum(len(rows) for rows in self.layout.values())


def _prepared(circuit: QuantumCircuit, name: str) -> QuantumCircuit:
    """The circuit without final measurements or barriers, in gates of at most two qubits."""
    bare = circuit.remove_final_measurements(inplace=False)
    assert bare is not None  # inplace=False returns the copy
    if any(i.operation.name in ("measure", "reset") for i in bare.data) or bare.num_clbits:
        raise CuttingError(f"{name}: mid-circuit measurements, resets or classical bits")
    for _ in range(_MAX_DECOMPOSE):
        if all(len(i.qubits) <= 2 for i in bare.data if i.operation.name != "barrier"):
            break
        bare = bare.decompose()
    else:
        raise CuttingError(f"{name}: gates on more than two qubits that do not decompose")
    from qiskit.transpiler.passes import RemoveBarriers

    result: QuantumCircuit = RemoveBarriers()(bare)
    return result


def plan(
    circuit: QuantumCircuit,
    observables: Sequence[Observable],
    max_width: int,
    max_overhead: float | None = None,
    seed: int | None = None,
    name: str | None = None,
) -> Plan:
    """Cut ``circuit`` into pieces of at most ``max_width`` qubits and list the subexperiments.

    Raises CuttingError when the observables do not match the circuit, or no cut keeps the
    sampling overhead within ``max_overhead``.
    """
    import numpy as np
    from qiskit.quantum_info import PauliList
    from qiskit_addon_cutting import (  # type: ignore[import-untyped]
        DeviceConstraints,
        OptimizationParameters,
        cut_wires,
        expand_observables,
        find_cuts,
        generate_cutting_experiments,
        partition_problem,
    )

    label = name or circuit.name or "circuit"
    if max_width < 1:
        raise CuttingError(f"{label}: the width limit must be at least 1 qubit, not {max_width}")
    if max_overhead is not None and not max_overhead >= 1:
        raise CuttingError(f"{label}: the overhead bound must be at least 1, not {max_overhead}")
    wrong = [o.pauli for o in observables if len(o.pauli) != circuit.num_qubits]
    if wrong:
        raise CuttingError(
            f"{label}: observable {wrong[0]} has {len(wrong[0])} qubits, the circuit "
            f"{circuit.num_qubits}"
        )
    bare = _prepared(circuit, label)
    paulis = PauliList([o.pauli for o in observables])
    cuts: list[dict[str, Any]] = []
    overhead = 1.0
    if bare.num_qubits > max_width:
        options = OptimizationParameters(seed=seed if seed is not None else 0)
        if max_overhead is not None:
            options.max_gamma = math.sqrt(max_overhead)
        cut, meta = find_cuts(bare, options, DeviceConstraints(qubits_per_subcircuit=max_width))
        overhead = float(meta["sampling_overhead"])
        if max_overhead is not None and overhead > max_overhead * (1 + 1e-9):
            raise CuttingError(
                f"{label}: the cheapest cut found into pieces of {max_width} qubits has "
                f"sampling overhead {overhead:g}, above the bound {max_overhead:g}"
            )
        for kind, index in meta["cuts"]:
            instruction = cut.data[index]
            cuts.append(
                {
                    "type": "gate" if kind == "Gate Cut" else "wire",
                    "index": index,
                    "operation": instruction.operation.label or instruction.operation.name,
                    "qubits": [cut.find_bit(q).index for q in instruction.qubits],
                }
            )
        if any(c["type"] == "wire" for c in cuts):
            wired = cut_wires(cut)
            paulis = expand_observables(paulis, bare, wired)
            cut = wired
    else:
        cut = bare
    problem = partition_problem(circuit=cut, observables=paulis)
    widths = [c.num_qubits for c in problem.subcircuits.values()]
    if max(widths) > max_width:
        raise CuttingError(
            f"{label}: no cut into pieces of at most {max_width} qubits found "
            f"(widest {max(widths)}); raise the overhead bound or the width"
        )
    experiments, coefficients = generate_cutting_experiments(
        circuits=problem.subcircuits, observables=problem.subobservables, num_samples=np.inf
    )
    assert isinstance(experiments, dict)  # subcircuits were a dict
    distinct, layout = _deduplicated(experiments)
    for _, _, experiment in distinct:
        if experiment.cregs[0].name != "observable_measurements":
            raise CuttingError(f"{label}: unexpected subexperiment registers {experiment.cregs}")
    return Plan(
        name=label,
        observables=list(observables),
        subexperiments=distinct,
        layout=layout,
        coefficients=list(coefficients),
        subobservables=dict(problem.subobservables),
        cuts=cuts,
        sampling_overhead=overhead,
        widths=widths,
    )


def _fingerprint(circuit: QuantumCircuit) -> tuple[Hashable, ...]:
    """What tells two subexperiments of one subsystem apart: their registers and each
    instruction's name, parameters and bits."""
    import numpy as np

    def bits(args: Sequence[Any]) -> tuple[int, ...]:
        return tuple(circuit.find_bit(b).index for b in args)

    def params(values: Sequence[Any]) -> tuple[Hashable, ...]:
        return tuple(v.tobytes() if isinstance(v, np.ndarray) else v for v in values)

    registers = tuple((r.name, r.size) for r in circuit.cregs)
    return registers + tuple(
        (i.operation.name, params(i.operation.params), bits(i.qubits), bits(i.clbits))
        for i in circuit.data
    )


def _deduplicated(
    experiments: Mapping[Hashable, Sequence[QuantumCircuit]],
) -> tuple[list[tuple[Hashable, int, QuantumCircuit]], dict[Hashable, list[int]]]:
    """The distinct subexperiments of each subsystem, and which one each of the library's is."""
    distinct: list[tuple[Hashable, int, QuantumCircuit]] = []
    seen: dict[tuple[Hashable, ...], int] = {}
    layout: dict[Hashable, list[int]] = {}
    for label, circuits in experiments.items():
        rows = layout[label] = []
        for i, circuit in enumerate(circuits):
            key = (label, *_fingerprint(circuit))
            if key not in seen:
                seen[key] = len(distinct)
                distinct.append((label, i, circuit))
            rows.append(seen[key])
    return distinct, layout


def _reconstructed(plan: Plan, counts: Sequence[Mapping[str, float]]) -> list[float]:
    """The Pauli expectation values (no coefficients) from each program's outcome counts,
    by the library's reconstruction."""
    from qiskit.primitives import SamplerResult
    from qiskit.result import QuasiDistribution
    from qiskit_addon_cutting import reconstruct_expectation_values

    dists = []
    for _, part in zip(plan.subexperiments, counts, strict=True):
        total = sum(part.values())
        dists.append(QuasiDistribution({int(bits, 2): n / total for bits, n in part.items() if n}))
    results = {
        label: SamplerResult(quasi_dists=[dists[p] for p in rows], metadata=[{} for _ in rows])
        for label, rows in plan.layout.items()
    }
    return [
        float(v)
        for v in reconstruct_expectation_values(results, plan.coefficients, plan.subobservables)
    ]


def _signs(outcomes: Sequence[int], measured: int, masks: Sequence[int]) -> NDArray[np.float64]:
    """Each outcome's +-1 value of each observable of a commuting group (outcomes x masks):
    the parity of the observable's bits among the ``measured`` low ones, times the parity
    of the cuts' measurements above them, as the library reads a subexperiment's outcome."""
    import numpy as np

    low = (1 << measured) - 1
    return np.array(
        [
            [1 - 2 * (((o >> measured).bit_count() + (o & low & m).bit_count()) & 1) for m in masks]
            for o in outcomes
        ],
        dtype=float,
    ).reshape(len(outcomes), len(masks))


def _piece(
    plan: Plan,
    label: Hashable,
    outcomes: Sequence[Sequence[int]],
    frequencies: Sequence[NDArray[np.float64]],
) -> NDArray[np.float64]:
    """Piece ``label``'s factor of each observable for each term, as the library takes it
    (terms x B x observables): each program's expectations once, gathered for its copies."""
    import numpy as np
    from qiskit_addon_cutting.utils.observable_grouping import (  # type: ignore[import-untyped]
        ObservableCollection,
    )

    collection = ObservableCollection(plan.subobservables[label])
    groups = collection.groups
    per_group = []  # terms x B x the group's observables
    for k, group in enumerate(groups):
        copies = plan.layout[label][k :: len(groups)]
        unique = sorted(set(copies))
        expectations = [
            frequencies[p]
            @ _signs(outcomes[p], plan.subexperiments[p][2].cregs[0].size, group.pauli_bitmasks)
            for p in unique
        ]
        at = {p: n for n, p in enumerate(unique)}
        per_group.append(np.stack(expectations)[[at[p] for p in copies]])
    return np.stack(
        [
            np.mean([per_group[m][:, :, n] for m, n in collection.lookup[pauli]], axis=0)
            for pauli in plan.subobservables[label]
        ],
        axis=-1,
    )


def _factored(
    plan: Plan, outcomes: Sequence[Sequence[int]], frequencies: Sequence[NDArray[np.float64]]
) -> NDArray[np.float64]:
    """The library's reconstruction, ``Σ_i c_i Π_pieces`` (the piece's factor for term
    ``i``), for B sets of frequencies at once: ``frequencies[p]`` is B x ``outcomes[p]``
    for program ``p``, and the answer B x observables (no coefficients)."""
    import numpy as np

    total = np.ones(())
    for label in plan.layout:
        total = total * _piece(plan, label, outcomes, frequencies)
    coefficients = np.array([c for c, _ in plan.coefficients])
    result: NDArray[np.float64] = np.tensordot(coefficients, total, axes=1)
    return result


def reconstruct(
    plan: Plan, counts: Sequence[Mapping[str, int]], seed: int | None = None
) -> tuple[list[float], list[float]]:
    """Each observable's value and standard error from the counts of each program."""
    import numpy as np

    scale = np.array([o.coefficient for o in plan.observables])
    values = scale * np.array(_reconstructed(plan, counts))
    rng = np.random.default_rng(seed if seed is not None else 0)
    outcomes = [[int(bits, 2) for bits in part] for part in counts]
    resampled = []
    for part in counts:
        n = np.array(list(part.values()), dtype=float)
        resampled.append(rng.multinomial(int(n.sum()), n / n.sum(), size=BOOTSTRAP) / n.sum())
    errors = np.std(scale * _factored(plan, outcomes, resampled), axis=0, ddof=1)
    return [float(v) for v in values], [float(e) for e in errors]


def programs(plan: Plan, shots: int | None, seed: int | None) -> list[Program]:
    """The subexperiments as ordinary programs (seeded one after another when ``seed`` is)."""
    return [
        Program(
            name=name,
            circuit=circuit,
            shots=shots or 0,
            seed=None if seed is None else (seed + i) % 2**32,
        )
        for i, (name, (_, _, circuit)) in enumerate(
            zip(plan.names(), plan.subexperiments, strict=True)
        )
    ]


def result_record(
    plan: Plan, records: Sequence[Mapping[str, Any]], seed: int | None = None
) -> dict[str, Any]:
    """The estimate's result from the broker's record of each subexperiment, in order."""
    failed = [r["error"] for r in records if "error" in r]
    if failed:
        raise ProgramError(
            f"{plan.name}: {len(failed)} of {len(records)} subexperiments failed: {failed[0]}"
        )
    values, errors = reconstruct(plan, [r["counts"] for r in records], seed)
    batches: list[str] = []
    jobs: list[str] = []
    for record in records:
        for batch in record.get("batches") or [record.get("batch")]:
            if batch is not None and batch not in batches:
                batches.append(batch)
        for job in record.get("jobs") or [record.get("job")]:
            if job is not None and job not in jobs:
                jobs.append(job)
    return {
        "circuit": plan.name,
        "observables": [o.text for o in plan.observables],
        "values": values,
        "std_errors": errors,
        "cuts": plan.cuts,
        "subexperiments": plan.generated,
        "programs": len(plan.subexperiments),
        "sampling_overhead": plan.sampling_overhead,
        "batches": batches,
        "jobs": jobs,
        "subcircuit_widths": plan.widths,
        "shots": records[0].get("shots") if records else None,
        "backend": records[0].get("backend") if records else None,
    }


async def estimate_on(
    broker: Broker,
    client: str,
    circuit: QuantumCircuit,
    observables: Sequence[Observable],
    shots: int | None = None,
    max_width: int | None = None,
    max_overhead: float | None = None,
    seed: int | None = None,
    name: str | None = None,
    user: User = ANONYMOUS,
) -> dict[str, Any]:
    """Cut, submit the subexperiments to ``broker`` as ``user``'s and ``client``'s programs,
    and reconstruct.

    Raises CuttingError (or ProgramError when the broker refuses or fails a subexperiment).
    """
    width = max_width if max_width is not None else broker.backend.num_qubits
    cut = await broker.offload(lambda: plan(circuit, observables, width, max_overhead, seed, name))
    receipts = await broker.submit(client, programs(cut, shots, seed), user=user)
    refused = [r["error"] for r in receipts if "id" not in r]
    if refused:
        raise ProgramError(f"{cut.name}: the broker refused a subexperiment: {refused[0]}")
    records = []
    for receipt in receipts:
        record = await broker.result(client, receipt["id"], None)
        assert record is not None  # no timeout: a record
        records.append(record)
    return await broker.offload(lambda: result_record(cut, records, seed))
