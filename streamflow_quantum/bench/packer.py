"""`sfq bench packer --json FILE [--quick]`: the packers against serial FIFO and HyperQ's own batches.

Workloads are the HyperQ authors' own queues of QASMBench circuits, on FakeBrisbane,
FakeTorino and FakeFez (``--devices``), under the device-time clock of design.md
section 3: a job (a serial program or a packed batch) costs
``overhead + shots x (rep_delay + duration)``, so throughput is *modelled* on that
clock, not measured on a device. Serial is measured in the same run, and so are the
batches HyperQ's own scheduler made of the small-only all-at-once queue on
FakeBrisbane (``benchmarks/hyperq-batches.json``), charged on the same clock.
Beside each policy's batch count: ``lower_bound_batches`` from ``packing/fit``
(qubit-time area, isolation buffers, programs that run alone, programs that
cannot share a batch within their fidelity budget, and the configuration LP of
whole batches, placement by placement). ``mean_l1``
simulates every batch's composite with the composite-faithful face
(``backends/faithful.py``: idle delays, resets and time-packed chains included) on
noisy Aer, for every policy, serial included, against each circuit's ideal
distribution; it is computed for small-only, all at once (medium circuits are too
wide to simulate with noise here).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamflow_quantum.bench.provenance import provenance
from streamflow_quantum.broker.settings import broker_schema

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.core.model import Batch, Program
    from streamflow_quantum.packing.base import PackingPolicy

WORKLOADS = {"small_only": "small-only", "small_med": "small&med"}
ARRIVALS = ("all-at-once", "poisson")
#: The devices by their name in the results, and the backend spec of each.
DEVICES = {
    "FakeBrisbane": "aer:fake_brisbane",
    "FakeTorino": "aer:fake_torino",
    "FakeFez": "aer:fake_fez",
}
#: Mean L1 is measured for these workloads and arrivals only (see the module).
L1_WORKLOADS = ("small-only",)
L1_ARRIVALS = ("all-at-once",)
#: ``--quick``: FakeBrisbane, small-only, all at once, mean L1 on fewer shots.
QUICK_L1_SHOTS = 1000
IDEAL_SHOTS = 1 << 18
#: HyperQ's own batches: the file in the benchmarks folder, and what they cover.
HYPERQ_BATCHES = "hyperq-batches.json"
HYPERQ_DEVICE = "FakeBrisbane"
THROUGHPUT_NOTE = (
    "throughput_ratio is modelled on the device-time clock (serial qpu_s / the "
    "policy's qpu_s), not measured on a device"
)


@dataclass(frozen=True)
class Variant:
    """One policy configuration the benchmark runs: a row label per workload and arrival."""

    label: str
    policy: str
    options: Mapping[str, Any] | None = None
    #: Programs appended in time per slot; 0 without time packing; None for serial.
    appends_per_slot: int | None = 0
    #: Set on every program of the queue (``Program.fidelity_budget``); None: the policy has none.
    fidelity_budget: float | None = None


#: The broker's default fidelity budget, for the budgeted row.
FIT_DEFAULT_BUDGET: float = broker_schema()["properties"]["fidelityBudget"]["default"]
FIT_TIME = {"timePacking": True, "appendsPerSlot": 1}
#: HyperQ's policies have no fidelity bound, so the fit rows they are set beside take
#: budget 1 (throughput only); the budgeted row is the default a user gets.
VARIANTS = (
    Variant("serial", "serial", appends_per_slot=None),
    Variant("space", "space"),
    Variant("space-time", "space-time", appends_per_slot=2),  # reuseLimit's default
    Variant("noise-aware", "noise-aware"),
    Variant("fit space", "fit", {"timePacking": False}, 0, 1.0),
    Variant("fit space-time", "fit", FIT_TIME, 1, 1.0),
    Variant("fit budgeted", "fit", FIT_TIME, 1, FIT_DEFAULT_BUDGET),
    Variant("fit budget 0", "fit", FIT_TIME, 1, 0.0),
)

#: HyperQ's published figures (OSDI'25 Tables 3-6; batch counts from their logs).
PAPER: dict[tuple[str, str, str], dict[str, float]] = {
    ("small-only", "all-at-once", "serial"): {
        "throughput_ratio": 1.0,
        "utilization": 0.033,
        "mean_latency_s": 229,
        "mean_l1": 0.545,
    },
    ("small-only", "all-at-once", "space"): {
        "batches": 15,
        "throughput_ratio": 8.44,
        "utilization": 0.28,
        "mean_latency_s": 30,
        "mean_l1": 0.545,
    },
    ("small-only", "all-at-once", "space-time"): {
        "batches": 9,
        "throughput_ratio": 9.69,
        "utilization": 0.35,
        "mean_latency_s": 28,
        "mean_l1": 0.667,
    },
    ("small-only", "all-at-once", "noise-aware"): {
        "throughput_ratio": 7.12,
        "utilization": 0.23,
        "mean_latency_s": 37,
        "mean_l1": 0.537,
    },
    ("small-only", "poisson", "serial"): {
        "throughput_ratio": 1.0,
        "utilization": 0.033,
        "mean_latency_s": 159,
        "mean_l1": 0.55,
    },
    ("small-only", "poisson", "space"): {
        "throughput_ratio": 3.2,
        "utilization": 0.10,
        "mean_latency_s": 3.7,
        "mean_l1": 0.57,
    },
    ("small-only", "poisson", "space-time"): {
        "throughput_ratio": 3.2,
        "utilization": 0.10,
        "mean_latency_s": 3.7,
        "mean_l1": 0.57,
    },
    ("small-only", "poisson", "noise-aware"): {
        "throughput_ratio": 3.0,
        "utilization": 0.097,
        "mean_latency_s": 4.0,
        "mean_l1": 0.50,
    },
    ("small&med", "all-at-once", "serial"): {
        "throughput_ratio": 1.0,
        "utilization": 0.078,
        "mean_latency_s": 342,
    },
    ("small&med", "all-at-once", "space"): {
        "throughput_ratio": 3.83,
        "utilization": 0.35,
        "mean_latency_s": 101,
    },
    ("small&med", "all-at-once", "space-time"): {
        "throughput_ratio": 4.90,
        "utilization": 0.46,
        "mean_latency_s": 83,
    },
    ("small&med", "all-at-once", "noise-aware"): {
        "throughput_ratio": 3.87,
        "utilization": 0.35,
        "mean_latency_s": 101,
    },
    ("small&med", "poisson", "serial"): {
        "throughput_ratio": 1.0,
        "utilization": 0.078,
        "mean_latency_s": 248,
    },
    ("small&med", "poisson", "space"): {
        "throughput_ratio": 3.0,
        "utilization": 0.26,
        "mean_latency_s": 12,
    },
    ("small&med", "poisson", "space-time"): {
        "throughput_ratio": 3.4,
        "utilization": 0.28,
        "mean_latency_s": 9.7,
    },
    ("small&med", "poisson", "noise-aware"): {
        "throughput_ratio": 3.1,
        "utilization": 0.26,
        "mean_latency_s": 15,
    },
}


@dataclass
class Clock:
    overhead_s: float = 2.0
    rep_delay_s: float = 250e-6
    shots: int = 4000

    def job_s(self, shots: int, duration_s: float) -> float:
        return self.overhead_s + shots * (self.rep_delay_s + duration_s)


@dataclass(frozen=True)
class HyperQBatch:
    """One batch of HyperQ's own scheduler: its programs' names and its composite's duration."""

    programs: tuple[str, ...]
    duration_s: float


@dataclass
class Run:
    """One policy over one workload and arrival model, on the device-time clock."""

    batches: Sequence[Batch | HyperQBatch]
    qpu_s: float
    latencies: list[float]
    schedule_s: float
    #: Time in ``prepare`` (compilation and, for fit, the solo placement search).
    prepare_s: float = 0.0


#: The workloads kept in the checkout (``benchmarks/`` at its top).
CHECKOUT_BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def default_benchmarks() -> Path:
    return Path(os.environ.get("SFQ_BENCHMARKS", CHECKOUT_BENCHMARKS))


def load_workload(root: Path, key: str) -> list[tuple[str, QuantumCircuit]]:
    """The HyperQ queue: (circuit name, circuit) in arrival order."""
    from qiskit import qasm2

    spec = json.loads((root / "hyperq-queues.json").read_text())[key]
    circuits = {}
    for name in spec["circuits"]:
        path = next(
            p
            for p in (root / "qasmbench" / d / f"{name}.qasm" for d in ("small", "medium"))
            if p.exists()
        )
        circuit = qasm2.load(path, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        circuit.name = name
        circuits[name] = circuit
    return [(spec["circuits"][i], circuits[spec["circuits"][i]]) for i in spec["queue"]]


def make_programs(
    policy: PackingPolicy,
    queue: list[tuple[str, QuantumCircuit]],
    shots: int,
    fidelity_budget: float | None = None,
) -> list[Program]:
    """One program per queue entry; each distinct circuit is compiled once and shared."""
    from streamflow_quantum.core.model import Program

    prepared: dict[str, Program] = {}
    programs = []
    for name, circuit in queue:
        program = Program(name, circuit, shots, fidelity_budget=fidelity_budget)
        policy.prepare(program, like=prepared.get(name))
        prepared.setdefault(name, program)
        programs.append(program)
    return programs


def arrival_times(count: int, arrival: str, seed: int = 0) -> list[float]:
    if arrival == "all-at-once":
        return [0.0] * count
    rng, now, times = random.Random(seed), 0.0, []
    for _ in range(count):
        now += rng.expovariate(1.0)
        times.append(now)
    return times


def simulate(
    policy: PackingPolicy, programs: list[Program], arrivals: list[float], clock: Clock
) -> Run:
    """Run the queue through the policy on ``clock``: a batch starts whenever the device is free.

    A model of the broker's dispatcher, not a use of it: nothing executes and no
    counts come back, and time is the device-time clock, not the wall clock. What it
    keeps of the broker is the queue discipline: FIFO, a program with shots left
    keeps its place at the head, a finished one is forgotten by the policy.
    """
    now, qpu_s, schedule_s = 0.0, 0.0, 0.0
    pending = deque(zip(arrivals, programs, strict=True))
    queue: list[Program] = []
    arrived: dict[str, float] = {}
    finished: dict[str, float] = {}
    batches = []
    while pending or queue:
        while pending and pending[0][0] <= now:
            at, program = pending.popleft()
            arrived[program.id] = at
            queue.append(program)
        if not queue:
            now = pending[0][0]
            continue
        start = time.perf_counter()
        batch = policy.next_batch(queue)
        schedule_s += time.perf_counter() - start
        cost = clock.job_s(batch.shots, batch.duration_s)
        now += cost
        qpu_s += cost
        batches.append(batch)
        taken, unfinished = batch.programs, []
        for program in taken:
            program.shots_done += batch.shots
            if program.shots_left > 0:
                unfinished.append(program)
            else:
                finished[program.id] = now
                policy.forget(program)
        queue = unfinished + [p for p in queue if p not in taken]
    latencies = [finished[p.id] - arrived[p.id] for p in programs]
    return Run(batches, qpu_s, latencies, schedule_s)


def active_qubit_s(serial: Run, clock: Clock) -> float:
    """Qubit-seconds the programs need alone: each one's width times its serial job."""
    return sum(
        program.circuit.num_qubits * clock.job_s(batch.shots, batch.duration_s)
        for batch in serial.batches
        if not isinstance(batch, HyperQBatch)
        for program in batch.programs
    )


def figures(run: Run, serial: Run, active_s: float, num_qubits: int) -> dict[str, float]:
    """A run's figures against serial's run of the same queue (``active_s`` from it)."""
    return {
        "batches": len(run.batches),
        "throughput_ratio": serial.qpu_s / run.qpu_s,
        "utilization": active_s / (num_qubits * run.qpu_s),
        "mean_latency_s": statistics.fmean(run.latencies),
        "schedule_ms_per_program": 1000 * run.schedule_s / len(run.latencies),
    }


def _final_measurements(circuit: QuantumCircuit) -> dict[int, int] | None:
    """clbit -> qubit where every measurement is final and nothing is conditional; else None."""
    final: dict[int, int] = {}
    for instruction in circuit.data:
        qubits = {circuit.find_bit(q).index for q in instruction.qubits}
        name = instruction.operation.name
        if name == "measure":
            final[circuit.find_bit(instruction.clbits[0]).index] = qubits.pop()
        elif name != "barrier" and (
            instruction.clbits or name == "reset" or qubits & set(final.values())
        ):
            return None
    return final


def ideal_distribution(circuit: QuantumCircuit) -> dict[str, float]:
    """The circuit's output distribution over its clbits: exact, or sampled with mid-circuit measurements."""
    from qiskit.quantum_info import Statevector
    from qiskit.transpiler import generate_preset_pass_manager
    from qiskit_aer import AerSimulator

    final = _final_measurements(circuit)
    if final is not None and len(set(final.values())) == len(final):
        clbits = sorted(final)
        state = Statevector(circuit.remove_final_measurements(inplace=False))
        width = circuit.num_clbits
        distribution: dict[str, float] = {}
        for key, p in state.probabilities_dict(qargs=[final[c] for c in clbits]).items():
            bits = ["0"] * width
            for c, bit in zip(clbits, reversed(key), strict=True):
                bits[width - 1 - c] = bit
            distribution["".join(bits)] = p
        return distribution
    simulator = AerSimulator()
    compiled = generate_preset_pass_manager(0, backend=simulator).run(circuit)
    counts = simulator.run(compiled, shots=IDEAL_SHOTS, seed_simulator=0).result().get_counts()
    return {key.replace(" ", ""): n / IDEAL_SHOTS for key, n in counts.items()}


def l1_distance(ideal: Mapping[str, float], counts: Mapping[str, int]) -> float:
    total = sum(counts.values())
    keys = set(ideal) | set(counts)
    return sum(abs(ideal.get(k, 0.0) - counts.get(k, 0) / total) for k in keys)


def mean_l1(
    simulator: AerSimulator,
    batches: Sequence[Batch],
    ideals: Mapping[str, Mapping[str, float]],
    shots: int,
    seed: int = 0,
) -> float:
    """Each batch's composite on noisy Aer (the composite-faithful face), L1 per program.

    ``faithful_counts`` schedules the composite with idle delays and simulates each
    independent qubit group as one experiment, so a time-packed program pays for the
    measurement, reset and wait before it, exactly as in the whole composite.
    """
    from streamflow_quantum.backends.faithful import faithful_counts

    distances = []
    for index, batch in enumerate(batches):
        counts = faithful_counts(simulator, batch, shots=shots, seed=seed + 1000 * index)
        distances += [
            l1_distance(ideals[placement.program.name], part)
            for placement, part in zip(batch.placements, counts, strict=True)
        ]
    return statistics.fmean(distances)


def load_hyperq_batches(
    root: Path, queue: Sequence[tuple[str, QuantumCircuit]]
) -> dict[str, list[tuple[list[HyperQBatch], float]]]:
    """HyperQ's own runs by policy (space, space-time, noise-aware): each its batches and
    the seconds its scheduler took (``schedule_total_s``).

    Each run must hold exactly the queue's programs (as a multiset of names).
    """
    data = json.loads((root / HYPERQ_BATCHES).read_text())
    if (data["device"], data["workload"], data["arrival"]) != (
        "fake_brisbane",
        "small-only",
        "all-at-once",
    ):
        raise ValueError(f"{HYPERQ_BATCHES}: not the small-only all-at-once queue on FakeBrisbane")
    want = Counter(name for name, _ in queue)
    runs: dict[str, list[tuple[list[HyperQBatch], float]]] = {}
    for policy, specs in data["runs"].items():
        runs[policy] = []
        for n, spec in enumerate(specs):
            batches = [
                HyperQBatch(tuple(b["programs"]), float(b["duration_s"])) for b in spec["batches"]
            ]
            got = Counter(name for b in batches for name in b.programs)
            if got != want:
                raise ValueError(
                    f"{HYPERQ_BATCHES}: {policy} run {n} does not hold the queue's programs"
                )
            runs[policy].append((batches, float(spec.get("schedule_total_s", 0.0))))
    return runs


def charge_hyperq(batches: Sequence[HyperQBatch], clock: Clock, schedule_s: float = 0.0) -> Run:
    """HyperQ's batches, all at once, back to back on ``clock``; each program done with its batch."""
    now, latencies = 0.0, []
    for batch in batches:
        now += clock.job_s(clock.shots, batch.duration_s)
        latencies += [now] * len(batch.programs)
    return Run(batches, now, latencies, schedule_s)


def hyperq_row(
    runs: Sequence[Run], serial: Run, active_s: float, num_qubits: int
) -> dict[str, Any]:
    """HyperQ's runs of one policy: the mean of each figure, and the range of each over the runs."""
    each = [figures(run, serial, active_s, num_qubits) for run in runs]
    row: dict[str, Any] = {key: statistics.fmean(f[key] for f in each) for key in each[0]}
    row["runs"] = len(each)
    row["range"] = {key: [min(f[key] for f in each), max(f[key] for f in each)] for key in each[0]}
    return row


def lower_bound(
    backend: Backend,
    queue: list[tuple[str, QuantumCircuit]],
    shots: int,
    appends: int,
    budget: float = 1.0,
) -> int:
    """``packing/fit``'s lower bound on the batches for ``queue``, with ``appends`` per slot
    (0: space only), for a packer that keeps every program within ``budget``."""
    from streamflow_quantum.packing.fit.policy import FitPolicy
    from streamflow_quantum.packing.registry import make_policy

    options = {"timePacking": appends > 0, "appendsPerSlot": max(appends, 1)}
    policy = make_policy("fit", backend, options)
    assert isinstance(policy, FitPolicy)
    programs = make_programs(policy, queue, shots, budget)
    return policy.lower_bound_batches(programs)


def base_row(
    device: str,
    workload: str,
    arrival: str,
    variant: Variant,
    scheduler: str,
    bound: int | None,
) -> dict[str, Any]:
    """The fields that say which row it is (before its figures)."""
    return {
        "device": device,
        "workload": workload,
        "arrival": arrival,
        "policy": variant.policy,
        "label": variant.label if scheduler == "ours" else f"HyperQ {variant.label}",
        "scheduler": scheduler,
        "appends_per_slot": variant.appends_per_slot,
        "fidelity_budget": variant.fidelity_budget,
        "lower_bound_batches": bound,
    }


def measure(args: argparse.Namespace, clock: Clock) -> list[dict[str, Any]]:
    from streamflow_quantum.backends.aer import AerBackend
    from streamflow_quantum.backends.registry import make_backend
    from streamflow_quantum.packing.registry import make_policy

    results: list[dict[str, Any]] = []
    for device in args.devices:
        backend = make_backend(DEVICES[device], noise=True)
        assert isinstance(backend, AerBackend)  # mean_l1 runs its simulator
        for key in args.workloads:
            workload = WORKLOADS[key]
            queue = load_workload(args.benchmarks, key)
            ideals: dict[str, dict[str, float]] = {}
            if workload in L1_WORKLOADS and args.l1_shots > 0:
                ideals = {
                    name: ideal_distribution(circuit) for name, circuit in dict(queue).items()
                }
            bounds: dict[tuple[int, float], int] = {}
            for arrival in args.arrivals:
                arrivals = arrival_times(len(queue), arrival)
                with_l1 = bool(ideals) and arrival in L1_ARRIVALS
                serial: Run | None = None
                serial_l1: float | None = None
                active_s = 0.0
                for variant in VARIANTS:
                    policy = make_policy(variant.policy, backend, variant.options)
                    start = time.perf_counter()
                    programs = make_programs(policy, queue, clock.shots, variant.fidelity_budget)
                    prepare_s = time.perf_counter() - start
                    run = simulate(policy, programs, arrivals, clock)
                    run.prepare_s = prepare_s
                    if serial is None:
                        serial, active_s = run, active_qubit_s(run, clock)
                    bound = None
                    if variant.appends_per_slot is not None:
                        # Only fit keeps a budget; the others may place anywhere.
                        budget = variant.fidelity_budget
                        limits = (variant.appends_per_slot, 1.0 if budget is None else budget)
                        if limits not in bounds:
                            bounds[limits] = lower_bound(backend, queue, clock.shots, *limits)
                        bound = bounds[limits]
                    l1 = None
                    if with_l1:
                        start = time.perf_counter()
                        packed = [b for b in run.batches if not isinstance(b, HyperQBatch)]
                        l1 = mean_l1(backend.simulator, packed, ideals, args.l1_shots, args.seed)
                        print(
                            f"    mean L1 {l1:.3f} in {time.perf_counter() - start:.0f} s",
                            flush=True,
                        )
                    if variant.policy == "serial":
                        serial_l1 = l1
                    row = base_row(device, workload, arrival, variant, "ours", bound)
                    row |= figures(run, serial, active_s, backend.num_qubits)
                    row["prepare_ms_per_program"] = 1000 * prepare_s / len(programs)
                    #: In the order they ran: where a packing strands programs.
                    row["programs_per_batch"] = [len(b.programs) for b in run.batches]
                    row["mean_l1"] = l1
                    row["serial_mean_l1"] = serial_l1
                    results.append(row)
                    print(
                        f"  {device:12} {workload:10} {arrival:11} {variant.label:14} "
                        f"{len(run.batches):4} batches (bound {bound if bound is not None else '-'})"
                        f" {row['throughput_ratio']:6.2f}x",
                        flush=True,
                    )
                hyperq = args.benchmarks / HYPERQ_BATCHES
                if (
                    device == HYPERQ_DEVICE
                    and workload == "small-only"
                    and arrival == "all-at-once"
                    and hyperq.exists()
                ):
                    assert serial is not None
                    for name, specs in load_hyperq_batches(args.benchmarks, queue).items():
                        variant = next(v for v in VARIANTS if v.label == name)
                        appends = 1 if variant.appends_per_slot else 0  # MAX_REUSE=2: one append
                        variant = Variant(name, name, appends_per_slot=appends)
                        if (appends, 1.0) not in bounds:
                            bounds[appends, 1.0] = lower_bound(backend, queue, clock.shots, appends)
                        runs = [charge_hyperq(b, clock, s) for b, s in specs]
                        row = base_row(
                            device, workload, arrival, variant, "hyperq", bounds[appends, 1.0]
                        )
                        row |= hyperq_row(runs, serial, active_s, backend.num_qubits)
                        row["prepare_ms_per_program"] = None
                        row["mean_l1"] = None  # their composites are not in the file
                        row["serial_mean_l1"] = serial_l1
                        results.append(row)
                        print(
                            f"  {device:12} {workload:10} {arrival:11} HyperQ {name:7} "
                            f"{row['batches']:4.0f} batches {row['throughput_ratio']:6.2f}x"
                            f" ({len(runs)} runs)",
                            flush=True,
                        )
    return results


#: The issue's targets (small-only, all at once, FakeBrisbane): figure, HyperQ, target.
def targets(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each target with the figures it is judged on and whether it is reached (None: not measured)."""
    rows = {
        (r["scheduler"], r["label"]): r
        for r in results
        if (r["device"], r["workload"], r["arrival"])
        == (HYPERQ_DEVICE, "small-only", "all-at-once")
    }

    def get(scheduler: str, label: str, key: str) -> Any:
        return rows.get((scheduler, label), {}).get(key)

    out: list[dict[str, Any]] = []

    def throughput(figure: str, label: str, hyperq: str, target: float) -> None:
        ours = get("ours", label, "throughput_ratio")
        theirs = rows.get(("hyperq", f"HyperQ {hyperq}"), {})
        out.append(
            {
                "figure": figure,
                "row": label,
                "hyperq": theirs.get("throughput_ratio"),
                "hyperq_range": theirs.get("range", {}).get("throughput_ratio"),
                "target": f">= {target}x",
                "ours": ours,
                "reached": None if ours is None else ours >= target,
            }
        )

    throughput("space only, throughput", "fit space", "space", 14.0)
    throughput("space-time, one append per slot, throughput", "fit space-time", "space-time", 22.0)
    throughput(
        "fidelity-budgeted (default budget), throughput", "fit budgeted", "noise-aware", 12.0
    )
    for label, slack, what in (
        ("fit budgeted", 0.02, "default budget"),
        ("fit budget 0", 0.005, "budget 0"),
    ):
        l1, serial = get("ours", label, "mean_l1"), get("ours", label, "serial_mean_l1")
        out.append(
            {
                "figure": f"mean L1 on the composite, {what}",
                "row": label,
                "hyperq": None,
                "target": f"<= serial + {slack}",
                "ours": l1,
                "serial": serial,
                "reached": None if l1 is None or serial is None else l1 <= serial + slack,
            }
        )
    for label in ("fit space", "fit space-time", "fit budgeted", "fit budget 0"):
        batches, bound = get("ours", label, "batches"), get("ours", label, "lower_bound_batches")
        out.append(
            {
                "figure": "batches against the lower bound",
                "row": label,
                "hyperq": None,
                "target": "<= 1.15 x bound",
                "ours": batches,
                "bound": bound,
                "reached": None if batches is None or not bound else batches <= 1.15 * bound,
            }
        )
    fit = [r for (s, label), r in rows.items() if s == "ours" and label.startswith("fit")]
    worst = max((r["schedule_ms_per_program"] for r in fit), default=None)
    out.append(
        {
            "figure": "schedule + compose + placement per program (ms, worst fit row)",
            "row": "fit *",
            "hyperq": get("hyperq", "HyperQ space", "schedule_ms_per_program"),
            "target": "<= 20 ms",
            "ours": worst,
            "reached": None if worst is None else worst <= 20.0,
        }
    )
    return out


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(results: list[dict[str, Any]], clock: Clock, l1_shots: int) -> str:
    lines = [
        f"{clock.shots} shots, overhead {clock.overhead_s} s, rep_delay {clock.rep_delay_s * 1e6:.0f} us;"
        f" throughput modelled on the device-time clock; mean L1 from the composite-faithful face"
        f" ({l1_shots} shots); cells: ours / HyperQ's published (OSDI'25)",
        f"{'device':12} {'workload':10} {'arrival':11} {'row':21} {'batches':>7} {'bound':>5}"
        f" {'throughput':>14} {'utilization':>13} {'latency s':>13} {'mean L1':>13}"
        f" {'serial L1':>9} {'ms/prog':>7}",
    ]
    for r in results:
        paper = (
            PAPER.get((r["workload"], r["arrival"], r["policy"]), {})
            if r["policy"] != "fit"
            else {}
        )
        batches = f"{r['batches']:.1f}" if r["scheduler"] == "hyperq" else str(r["batches"])
        cells = [
            f"{r['throughput_ratio']:.2f}x/{_fmt(paper.get('throughput_ratio'), '.2f')}"
            + ("x" if "throughput_ratio" in paper else ""),
            f"{r['utilization']:.1%}/{_fmt(paper.get('utilization'), '.1%')}",
            f"{r['mean_latency_s']:.1f}/{_fmt(paper.get('mean_latency_s'), '.1f')}",
            f"{_fmt(r['mean_l1'], '.3f')}/{_fmt(paper.get('mean_l1'), '.3f')}",
        ]
        lines.append(
            f"{r['device']:12} {r['workload']:10} {r['arrival']:11} {r['label']:21} {batches:>7}"
            f" {_fmt(r['lower_bound_batches'], 'd'):>5} {cells[0]:>14} {cells[1]:>13}"
            f" {cells[2]:>13} {cells[3]:>13} {_fmt(r['serial_mean_l1'], '.3f'):>9}"
            f" {r['schedule_ms_per_program']:7.2f}"
        )
        if r["scheduler"] == "hyperq":
            low, high = r["range"]["throughput_ratio"]
            lines[-1] += f"  ({r['runs']} runs: {low:.2f}-{high:.2f}x)"
    return "\n".join(lines)


def target_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'target (FakeBrisbane, small-only, all at once)':62} {'row':15} {'HyperQ':>12}"
        f" {'target':>18} {'ours':>8} reached"
    ]
    for t in rows:
        hyperq = t["hyperq"]
        theirs = "-" if hyperq is None else f"{hyperq:.2f}"
        if t.get("hyperq_range"):
            low, high = t["hyperq_range"]
            theirs = f"{low:.2f}-{high:.2f}x"
        ours = "-" if t["ours"] is None else f"{t['ours']:.3f}".rstrip("0").rstrip(".")
        if "serial" in t and t["serial"] is not None:
            ours += f" (serial {t['serial']:.3f})"
        if "bound" in t:
            ours += f" (bound {t['bound']})"
        reached = {True: "yes", False: "NO", None: "-"}[t["reached"]]
        lines.append(
            f"{t['figure']:62} {t['row']:15} {theirs:>12} {t['target']:>18} {ours:>8} {reached}"
        )
    return "\n".join(lines)


def configuration(args: argparse.Namespace, clock: Clock) -> dict[str, Any]:
    return {
        "clock": asdict(clock),
        "devices": {name: DEVICES[name] for name in args.devices},
        "workloads": [WORKLOADS[key] for key in args.workloads],
        "arrivals": list(args.arrivals),
        "poisson_rate_per_s": 1.0,
        "poisson_seed": 0,
        "variants": [asdict(v) | {"options": dict(v.options or {})} for v in VARIANTS],
        "benchmarks": str(args.benchmarks),
        "hyperq_batches": str(args.benchmarks / HYPERQ_BATCHES),
        "l1": {
            "source": "backends/faithful.py faithful_counts (composite-faithful face), noisy Aer",
            "shots": args.l1_shots,
            "reduced_shots": args.l1_shots != clock.shots,
            "seed": args.seed,
            "workloads": list(L1_WORKLOADS),
            "arrivals": list(L1_ARRIVALS),
            "ideal": "Statevector of each measured circuit (sampled with mid-circuit measurements)",
        },
        "lower_bound": "packing/fit FitPolicy.lower_bound_batches (bound.py, conflicts.py, cover.py), appends and budget per row",
        "throughput": THROUGHPUT_NOTE,
        "quick": args.quick,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sfq bench packer", description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="write the figures here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"FakeBrisbane, small-only, all at once, mean L1 on {QUICK_L1_SHOTS} shots",
    )
    parser.add_argument(
        "--devices",
        nargs="+",
        choices=sorted(DEVICES),
        default=None,
        help="devices to run on (default: all three; --quick: FakeBrisbane)",
    )
    parser.add_argument(
        "--overhead", type=float, default=Clock.overhead_s, help="seconds per job (default 2.0)"
    )
    parser.add_argument(
        "--rep-delay",
        type=float,
        default=Clock.rep_delay_s,
        help="seconds between shots (default 250e-6)",
    )
    parser.add_argument(
        "--shots", type=int, default=Clock.shots, help="shots per program (default 4000)"
    )
    parser.add_argument(
        "--l1-shots",
        type=int,
        default=None,
        help=f"shots per mean-L1 simulation (default: --shots; --quick: {QUICK_L1_SHOTS}; 0: skip)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the noisy simulations")
    parser.add_argument(
        "--benchmarks",
        type=Path,
        default=default_benchmarks(),
        help="folder with hyperq-queues.json, hyperq-batches.json and qasmbench/",
    )
    args = parser.parse_args(argv)
    if not (args.benchmarks / "hyperq-queues.json").exists():
        parser.error(
            f"no hyperq-queues.json in {args.benchmarks}; pass --benchmarks DIR or set SFQ_BENCHMARKS"
        )
    if args.devices is None:
        args.devices = [HYPERQ_DEVICE] if args.quick else list(DEVICES)
    if args.l1_shots is None:
        args.l1_shots = QUICK_L1_SHOTS if args.quick else args.shots
    args.workloads = ["small_only"] if args.quick else list(WORKLOADS)
    args.arrivals = ["all-at-once"] if args.quick else list(ARRIVALS)
    clock = Clock(args.overhead, args.rep_delay, args.shots)
    meta = provenance("packer", argv)  # before the run: its commit is the one measured
    started = time.perf_counter()
    results = measure(args, clock)
    reached = targets(results)
    document = {
        **meta,
        "configuration": configuration(args, clock),
        "clock": asdict(clock),
        "throughput": THROUGHPUT_NOTE,
        "wall_s": round(time.perf_counter() - started, 1),
        "results": results,
        "targets": reached,
    }
    args.json.write_text(json.dumps(document, indent=2))
    print(table(results, clock, args.l1_shots))
    print()
    print(target_table(reached))
    return 0
