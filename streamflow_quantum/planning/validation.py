"""The simulator against the real broker: one recorded run, replayed.

A seeded Poisson stream of small GHZ circuits is submitted to an in-process broker
(``build_broker``; ``serial`` packing, ``fifo`` queue), each program's result record
kept with the moment ``submit`` returned (its compilation done, the program queued).
From the records the simulator's model is fitted:

- preparation: the broker's compile pool (C threads) with a gamma distribution of the
  measured ``queued - submitted`` (mean and coefficient of variation);
- QPU: one program per batch, a gamma distribution of the measured batch wall times
  ``finished - started`` (mean and coefficient of variation);
- per-batch overhead: the median, over programs, of the time from when the program
  could start (queued, and the previous batch done) to its start: the dispatcher's own.

The same arrival times then run through the simulator with the same policies, over
several seeds, and the mean wait (``started - submitted``, as the records give it) is
compared with the real one (``ratio``). The replay runs the same arrivals with each
program's own measured preparation and batch times (``replayed_ratio``): it checks the
queueing and dispatch alone, where the fitted run also checks the fitted distributions,
and so varies more from one recorded run to the next.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from streamflow_quantum.bench.load import ghz
from streamflow_quantum.broker.threads import compile_threads
from streamflow_quantum.core.model import Program
from streamflow_quantum.planning.distributions import Distribution
from streamflow_quantum.planning.engine import Platform, simulate
from streamflow_quantum.planning.metrics import job_figures
from streamflow_quantum.planning.workload import Job

CLIENT = "plan-validation"


def ghz_circuit(width: int) -> Any:
    """The load benchmark's GHZ circuit of ``width`` qubits, measured."""
    from qiskit import qasm2

    return qasm2.loads(ghz(width).decode())


async def record(
    settings: dict[str, Any], programs: int, rate: float, shots: int, seed: int
) -> list[dict[str, Any]]:
    """Result records of ``programs`` GHZ circuits (2 to 5 qubits) arriving at ``rate``
    per second, each with ``queued``: when ``submit`` returned."""
    from streamflow_quantum.broker.factory import build_broker

    rng = np.random.default_rng(seed)
    arrivals = _arrivals(rate, programs, rng)
    widths = rng.integers(2, 6, size=programs)
    broker = await asyncio.to_thread(build_broker, settings)
    broker.start()
    try:
        warm = Program("warm-up", ghz_circuit(2), shots)
        [receipt] = await broker.submit(CLIENT, [warm])
        await broker.result(CLIENT, receipt["id"], None)
        begin = time.time()

        async def one(i: int) -> dict[str, Any]:
            await asyncio.sleep(max(0.0, begin + arrivals[i] - time.time()))
            program = Program(f"ghz{widths[i]}-{i}", ghz_circuit(int(widths[i])), shots)
            [receipt] = await broker.submit(CLIENT, [program])
            queued = time.time()
            if "error" in receipt:
                raise RuntimeError(receipt["error"])
            result = await broker.result(CLIENT, receipt["id"], None)
            assert result is not None  # no timeout: waits for the result
            return {**result, "queued": queued}

        return list(await asyncio.gather(*(one(i) for i in range(programs))))
    finally:
        await broker.close()


def _arrivals(rate: float, n: int, rng: np.random.Generator) -> list[float]:
    return list(np.cumsum(rng.exponential(1 / rate, size=n)))


def _gamma(values: Sequence[float]) -> Distribution:
    array = np.asarray(values, dtype=float)
    mean = float(array.mean())
    return Distribution("gamma", (mean, float(array.std(ddof=1) / mean) if mean > 0 else 0.0))


def fit(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The model's parameters from the records (see the module doc)."""
    ordered = sorted(records, key=lambda r: r["times"]["started"])
    free = [0.0] + [r["times"]["finished"] for r in ordered[:-1]]  # when the QPU came free
    gaps = [r["times"]["started"] - max(r["queued"], f) for r, f in zip(ordered, free, strict=True)]
    prepare = [r["queued"] - r["times"]["submitted"] for r in records]
    service = [r["times"]["finished"] - r["times"]["started"] for r in records]
    return {
        "prepare": _gamma(prepare),
        "service": _gamma(service),
        "overhead_s": float(np.median(gaps)),
        "compile_threads": compile_threads(),
    }


def compare(records: Sequence[dict[str, Any]], seeds: int = 20) -> dict[str, Any]:
    """Real against simulated waits for the recorded run."""
    model = fit(records)
    t0 = min(r["times"]["submitted"] for r in records)
    arrivals = sorted(r["times"]["submitted"] - t0 for r in records)
    platform = Platform(
        workers=model["compile_threads"], qpus=1, queue="fifo", overhead_s=model["overhead_s"]
    )
    real_waits = [r["times"]["started"] - r["times"]["submitted"] for r in records]
    real_queue = [r["times"]["started"] - r["queued"] for r in records]
    simulated, simulated_queue = [], []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        jobs = [
            Job(a, quantum_s=model["service"].sample(rng), pre_s=model["prepare"].sample(rng))
            for a in arrivals
        ]
        figures = job_figures(simulate(platform, jobs).outcomes)
        simulated.append(figures["delay_mean_s"])
        simulated_queue.append(figures["wait_mean_s"])
    replay = job_figures(
        simulate(
            platform,
            [
                Job(
                    r["times"]["submitted"] - t0,
                    quantum_s=r["times"]["finished"] - r["times"]["started"],
                    pre_s=r["queued"] - r["times"]["submitted"],
                )
                for r in records
            ],
        ).outcomes
    )
    real, sim = float(np.mean(real_waits)), float(np.mean(simulated))
    busy = sum(r["times"]["finished"] - r["times"]["started"] for r in records)
    span = max(r["times"]["finished"] for r in records) - t0
    return {
        "programs": len(records),
        "fitted": {
            "prepare": str(model["prepare"]),
            "service": str(model["service"]),
            "overhead_s": model["overhead_s"],
            "compile_threads": model["compile_threads"],
        },
        "qpu_busy_share": busy / span,
        "real_wait_mean_s": real,
        "real_wait_p95_s": float(np.percentile(real_waits, 95)),
        "simulated_wait_mean_s": sim,
        "simulated_wait_mean_s_by_seed": simulated,
        "ratio": sim / real,
        "fitted_within_15_percent": abs(sim / real - 1) <= 0.15,
        "real_queue_wait_mean_s": float(np.mean(real_queue)),
        "simulated_queue_wait_mean_s": float(np.mean(simulated_queue)),
        "queue_ratio": float(np.mean(simulated_queue)) / float(np.mean(real_queue)),
        "replayed_wait_mean_s": replay["delay_mean_s"],
        "replayed_ratio": replay["delay_mean_s"] / real,
        "replayed_within_15_percent": abs(replay["delay_mean_s"] / real - 1) <= 0.15,
    }
