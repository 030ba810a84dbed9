"""A broker restarted while the provider still ran its job fetches the job's counts by id
instead of running the programs again."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path

from qiskit import QuantumCircuit

from streamflow_quantum.backends.aer import AerBackend
from streamflow_quantum.backends.base import normalise_counts
from streamflow_quantum.backends.registry import fake_device
from streamflow_quantum.broker.core import Broker
from streamflow_quantum.broker.journal import Journal
from streamflow_quantum.broker.settings import broker_settings
from streamflow_quantum.core.model import Batch, Program
from streamflow_quantum.packing.registry import make_policy

SETTINGS = {"backend": "aer:fake_manila", "noise": False, "packing": "serial"}


class KeptJobs(AerBackend):
    """A provider that keeps its jobs: it reports each job's id, then never answers (the
    broker goes down first); the job's counts can be fetched later by id."""

    can_attach = True
    jobs: dict[str, Counter[str]] = {}
    runs = 0

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        KeptJobs.runs += 1
        result = self.simulator.run(batch.composite, shots=batch.shots, seed_simulator=seed)
        job = f"job-{batch.id}"
        KeptJobs.jobs[job] = normalise_counts(result.result().get_counts())
        batch.report_job(job)
        threading.Event().wait()  # the answer never comes back to this broker
        raise AssertionError("unreachable")

    def job_counts(self, job_id: str) -> Counter[str]:
        return KeptJobs.jobs[job_id]


def _broker(journal: Journal) -> Broker:
    backend = KeptJobs(fake_device("fake_manila", "aer:fake_manila"), noise=False)
    settings = broker_settings(SETTINGS)
    return Broker(backend, make_policy("serial", backend), settings, journal)


def _ghz(i: int) -> Program:
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return Program(f"ghz-{i}", circuit, 300)


async def test_a_restarted_broker_fetches_a_running_jobs_counts(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    broker = _broker(journal)
    broker.start()
    receipts = await broker.submit("me", [_ghz(0)])
    while not any(batch.job for batch in journal.running_jobs()):
        await asyncio.sleep(0.05)
    await broker.close()  # the broker goes down while the provider runs the job
    journal.close()
    assert KeptJobs.runs == 1

    journal = Journal.open(tmp_path)
    broker = _broker(journal)
    assert await broker.resume() == 1
    broker.start()
    try:
        result = await broker.result("me", receipts[0]["id"], 30)
    finally:
        await broker.close()
        journal.close()
    assert KeptJobs.runs == 1, "the program ran again instead of re-attaching"
    assert result is not None and result["job"] == next(iter(KeptJobs.jobs))
    assert set(result["counts"]) <= {"00", "11"} and sum(result["counts"].values()) == 300
