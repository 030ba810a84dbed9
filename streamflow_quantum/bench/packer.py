"""`sfq bench packer --json FILE [--quick]`: the HyperQ packer against serial FIFO.

Workloads are the HyperQ authors' own queues of QASMBench circuits; the device is
FakeBrisbane under the device-time clock of design.md section 3: a job (a serial
program or a packed batch) costs ``overhead + shots x (rep_delay + duration)``.
Serial is measured in the same run. ``mean_l1`` runs every batch's placements on
noisy Aer (one ``run()`` per batch) against each circuit's ideal distribution; it
is computed for small-only only (medium circuits are too wide to simulate with
noise here) and skipped by ``--quick``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from streamflow_quantum.backends.aer import AerBackend
    from streamflow_quantum.core.model import Batch, Program
    from streamflow_quantum.packing.base import PackingPolicy

WORKLOADS = {"small_only": "small-only", "small_med": "small&med"}
ARRIVALS = ("all-at-once", "poisson")
DEVICE = "aer:fake_brisbane"
L1_WORKLOADS = ("small-only",)
IDEAL_SHOTS = 1 << 18
L1_CHUNK = 40

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


@dataclass
class Run:
    """One policy over one workload and arrival model, on the device-time clock."""

    batches: list[Batch]
    qpu_s: float
    latencies: list[float]
    schedule_s: float


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
    policy: PackingPolicy, queue: list[tuple[str, QuantumCircuit]], shots: int
) -> list[Program]:
    """One program per queue entry; each distinct circuit is compiled once and shared."""
    from streamflow_quantum.core.model import Program

    prepared: dict[str, Program] = {}
    programs = []
    for name, circuit in queue:
        program = Program(name, circuit, shots)
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


def l1_distance(ideal: dict[str, float], counts: dict[str, int]) -> float:
    total = sum(counts.values())
    keys = set(ideal) | set(counts)
    return sum(abs(ideal.get(k, 0.0) - counts.get(k, 0) / total) for k in keys)


def mean_l1(backend: AerBackend, run: Run, ideals: dict[str, dict[str, float]]) -> float:
    """Noisy Aer on the placements (the Aer face), L1 against each circuit's ideal distribution.

    Placements run as separate experiments, a few dozen per ``run()`` call: exact under
    Aer's noise models, whichever batches they came from.
    """
    from streamflow_quantum.backends.base import normalise_counts

    placements = [p for batch in run.batches for p in batch.placements]
    shots = run.batches[0].shots
    distances = []
    for start in range(0, len(placements), L1_CHUNK):
        chunk = placements[start : start + L1_CHUNK]
        result = backend.simulator.run(
            [p.circuit for p in chunk], shots=shots, seed_simulator=start
        ).result()
        distances += [
            l1_distance(ideals[p.program.name], normalise_counts(result.get_counts(i)))
            for i, p in enumerate(chunk)
        ]
    return statistics.fmean(distances)


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    from streamflow_quantum.backends.aer import AerBackend
    from streamflow_quantum.backends.registry import make_backend
    from streamflow_quantum.packing.registry import POLICIES, make_policy

    clock = Clock(args.overhead, args.rep_delay, args.shots)
    backend = make_backend(DEVICE, noise=True)
    assert isinstance(backend, AerBackend)  # mean_l1 runs its simulator
    policies = {name: make_policy(name, backend) for name in POLICIES.names()}
    results = []
    for key, workload in WORKLOADS.items():
        queue = load_workload(args.benchmarks, key)
        ideals = {}
        if not args.quick and workload in L1_WORKLOADS:
            ideals = {name: ideal_distribution(circuit) for name, circuit in dict(queue).items()}
        for arrival in ARRIVALS:
            arrivals = arrival_times(len(queue), arrival)
            serial: Run | None = None
            for name, policy in policies.items():
                programs = make_programs(policy, queue, clock.shots)
                run = simulate(policy, programs, arrivals, clock)
                if serial is None:
                    serial, active_s = run, active_qubit_s(run, clock)
                row: dict[str, Any] = {"workload": workload, "arrival": arrival, "policy": name}
                row |= figures(run, serial, active_s, backend.num_qubits)
                row["mean_l1"] = mean_l1(backend, run, ideals) if ideals else None
                results.append(row)
                print(
                    f"  {workload:10} {arrival:11} {name:11} {len(run.batches):4} batches",
                    flush=True,
                )
    return results


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(results: list[dict[str, Any]], clock: Clock) -> str:
    lines = [
        f"FakeBrisbane, {clock.shots} shots, overhead {clock.overhead_s} s, rep_delay {clock.rep_delay_s * 1e6:.0f} us; ours / HyperQ (OSDI'25)",
        f"{'workload':10} {'arrival':11} {'policy':11} {'batches':>9} {'throughput':>13} {'utilization':>13} {'latency s':>13} {'mean L1':>13} {'ms/prog':>7}",
    ]
    for r in results:
        paper = PAPER.get((r["workload"], r["arrival"], r["policy"]), {})
        cells = [
            f"{r['batches']}/{_fmt(paper.get('batches'), '.0f')}",
            f"{r['throughput_ratio']:.2f}x/{_fmt(paper.get('throughput_ratio'), '.2f')}x",
            f"{r['utilization']:.1%}/{_fmt(paper.get('utilization'), '.1%')}",
            f"{r['mean_latency_s']:.1f}/{_fmt(paper.get('mean_latency_s'), '.1f')}",
            f"{_fmt(r['mean_l1'], '.3f')}/{_fmt(paper.get('mean_l1'), '.3f')}",
        ]
        lines.append(
            f"{r['workload']:10} {r['arrival']:11} {r['policy']:11} {cells[0]:>9} {cells[1]:>13} {cells[2]:>13} {cells[3]:>13} {cells[4]:>13} {r['schedule_ms_per_program']:7.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sfq bench packer", description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="write the figures here")
    parser.add_argument("--quick", action="store_true", help="skip mean_l1 (the noisy simulations)")
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
        "--benchmarks",
        type=Path,
        default=default_benchmarks(),
        help="folder with hyperq-queues.json and qasmbench/",
    )
    args = parser.parse_args(argv)
    if not (args.benchmarks / "hyperq-queues.json").exists():
        parser.error(
            f"no hyperq-queues.json in {args.benchmarks}; pass --benchmarks DIR or set SFQ_BENCHMARKS"
        )
    clock = Clock(args.overhead, args.rep_delay, args.shots)
    results = measure(args)
    args.json.write_text(
        json.dumps({"clock": asdict(clock), "device": DEVICE, "results": results}, indent=2)
    )
    print(table(results, clock))
    return 0
