"""`sfq estimate` and circuit cutting: reconstructed values against exact statevector ones,
subexperiments packed into few backend jobs, and the three ways to run (direct, through a
broker's ``/v1/estimates``, client-side through a broker's programs)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm2
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import SparsePauliOp, Statevector

from streamflow_quantum.broker import cutting
from streamflow_quantum.broker.cutting import CuttingError, Observable, parse_observables
from streamflow_quantum.broker.factory import build_broker
from streamflow_quantum.core.errors import ProgramError
from streamflow_quantum.core.model import Program
from tests.conftest import BROKER_SECRET, run_tool, serve_broker

SECRET = BROKER_SECRET
#: An ideal 127-qubit device: room to pack many 7-qubit subexperiments side by side.
DEVICE = {"backend": "aer:fake_brisbane", "noise": False, "packing": "fit"}


def su2(n: int) -> QuantumCircuit:
    """An efficient SU(2) circuit with fixed parameters (linear entanglement, two layers)."""
    circuit = efficient_su2(n, entanglement="linear", reps=2).decompose()
    circuit.assign_parameters(np.linspace(0.1, 2.0, circuit.num_parameters), inplace=True)
    circuit.name = f"su2_{n}"
    return circuit


def observables(n: int) -> list[Observable]:
    return parse_observables(
        "\n".join(
            [
                "Z" * n,
                "I" * (n - 1) + "X",
                "ZZ" + "I" * (n - 2),
                "-0.5 " + "I" * (n - 7) + "XYIIIII",
            ]
        )
    )


def exact(circuit: QuantumCircuit, observable: Observable) -> float:
    value = Statevector(circuit).expectation_value(SparsePauliOp(observable.pauli))
    return observable.coefficient * float(np.real(value))


def assert_agrees(circuit: QuantumCircuit, result: dict[str, Any]) -> None:
    """Each value within 3 standard errors of the exact one."""
    for text, value, error in zip(
        result["observables"], result["values"], result["std_errors"], strict=True
    ):
        expected = exact(circuit, parse_observables(text)[0])
        assert abs(value - expected) <= 3 * error + 1e-9, (text, value, error, expected)


async def estimate(
    circuit: QuantumCircuit,
    obs: list[Observable],
    submitted: list[Program] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The estimate on an ideal device; ``submitted`` collects the programs sent to it."""
    broker = build_broker(DEVICE)
    broker.start()
    submit = broker.submit

    async def recording(
        client: str, programs: Sequence[Program | ProgramError], *args: Any, **kw: Any
    ) -> list[dict[str, Any]]:
        if submitted is not None:
            submitted.extend(p for p in programs if isinstance(p, Program))
        return await submit(client, programs, *args, **kw)

    broker.submit = recording  # type: ignore[method-assign]
    try:
        return await cutting.estimate_on(broker, "test", circuit, obs, **options)
    finally:
        await broker.close()


def random_counts(plan: cutting.Plan, seed: int) -> list[dict[str, int]]:
    """Counts of random outcomes of each program's classical bits."""
    rng = np.random.default_rng(seed)
    counts = []
    for _, _, circuit in plan.subexperiments:
        width = circuit.num_clbits
        outcomes = rng.integers(0, 2**width, size=8)
        counts.append({format(int(o), f"0{width}b"): int(rng.integers(1, 50)) for o in outcomes})
    return counts


def assert_factored_is_the_librarys(plan: cutting.Plan) -> None:
    """The bootstrap's reconstruction gives the library's values, resample by resample, on
    random counts (any counts: the two must be the same function of them)."""
    counts = random_counts(plan, seed=1)
    outcomes = [[int(bits, 2) for bits in part] for part in counts]
    rng = np.random.default_rng(2)
    frequencies = [rng.dirichlet(np.ones(len(part)), size=3) for part in counts]
    factored = cutting._factored(plan, outcomes, frequencies)
    assert factored.shape == (3, len(plan.observables))
    for row in range(3):
        resample = [
            dict(zip(part, f[row], strict=True))
            for part, f in zip(counts, frequencies, strict=True)
        ]
        library = cutting._reconstructed(plan, resample)
        assert factored[row] == pytest.approx(library, abs=1e-12)


# -- observables ---------------------------------------------------------------------


def test_observables_are_read_from_lines_or_json() -> None:
    text = "# comment\nZZI\n0.5 XIY\n-IIZ  # negative\n-2*YYY\n"
    assert [(o.coefficient, o.pauli) for o in parse_observables(text)] == [
        (1.0, "ZZI"),
        (0.5, "XIY"),
        (-1.0, "IIZ"),
        (-2.0, "YYY"),
    ]
    assert parse_observables(json.dumps(["ZZ", "0.25 XX"])) == [
        Observable(1.0, "ZZ"),
        Observable(0.25, "XX"),
    ]
    for bad in ("", "ZQ", "1j ZZ", "1 2 ZZ", "[1, 2]"):
        with pytest.raises(CuttingError):
            parse_observables(bad)


def test_observables_must_match_the_circuit_and_overhead_its_bound() -> None:
    with pytest.raises(CuttingError, match="has 3 qubits, the circuit 14"):
        cutting.plan(su2(14), parse_observables("ZZZ"), 7)
    with pytest.raises(CuttingError, match="sampling overhead 81, above the bound 10"):
        cutting.plan(su2(14), observables(14), 7, max_overhead=10)


# -- cutting -------------------------------------------------------------------------


async def test_a_cut_circuit_matches_the_statevector_and_packs_its_subexperiments() -> None:
    """14 qubits cut into two pieces of 7: values within 3 standard errors; the 108
    subexperiments share backend jobs with each other and with another client's program."""
    circuit = su2(14)
    broker = build_broker(DEVICE)
    broker.start()
    try:
        ghz = QuantumCircuit(3, 3)
        ghz.h(0)
        ghz.cx(0, 1)
        ghz.cx(1, 2)
        ghz.measure(range(3), range(3))
        task = asyncio.ensure_future(
            cutting.estimate_on(
                broker, "test", circuit, observables(14), shots=500, max_width=7, seed=5
            )
        )
        while not broker.status()["queued"]:  # the subexperiments wait: another client comes
            await asyncio.sleep(0.01)
        (receipt,) = await broker.submit("other", [Program("ghz", ghz, shots=500, seed=1)])
        result = await task
        other = await broker.result("other", receipt["id"], None)
    finally:
        await broker.close()
    assert_agrees(circuit, result)
    assert [c["type"] for c in result["cuts"]] == ["gate", "gate"]
    assert result["sampling_overhead"] == pytest.approx(81)
    assert result["subexperiments"] == 108
    # Per piece and group of observables, 25 of the 36 terms differ: each cut's 6 terms
    # leave a piece 5 distinct circuits (its two measuring terms differ on the other piece).
    assert result["programs"] == 75  # (2 groups + 1) x 25
    assert max(result["subcircuit_widths"]) <= 7
    assert 5 * len(result["batches"]) <= result["programs"], result["batches"]
    assert other is not None and other["batch"] in result["batches"]


def test_the_bootstraps_reconstruction_is_the_librarys() -> None:
    """Two pieces, the wider measured in two commuting groups of observables."""
    plan = cutting.plan(su2(14), observables(14), 7, seed=5)
    assert {label: len(rows) for label, rows in plan.layout.items()} == {0: 72, 1: 36}
    assert_factored_is_the_librarys(plan)


async def test_a_wire_cut_matches_the_statevector() -> None:
    """A hub qubit that talks to both halves is cheaper to cut as a wire than gate by gate."""
    circuit = QuantumCircuit(8)
    for q in range(8):
        circuit.ry(0.3 + 0.2 * q, q)
    for q in (0, 1, 2):
        circuit.cx(3, q)
        circuit.rz(0.4, q)
    circuit.rx(0.7, 3)
    for q in (4, 5, 6, 7):
        circuit.cx(3, q)
        circuit.ry(0.5, q)
    obs = parse_observables("ZZZZZZZZ\nIIIIXIII\nZIIIZIII\n0.5 XXXXIIIZ")
    result = await estimate(circuit, obs, shots=2000, max_width=5, seed=4)
    assert [c["type"] for c in result["cuts"]] == ["wire"]
    assert max(result["subcircuit_widths"]) <= 5
    assert_agrees(circuit, result)


async def test_an_uncut_circuit_matches_the_statevector() -> None:
    circuit = su2(5)
    obs = parse_observables("ZZZZZ\nIIIIX\n-0.5 XYIII\nIZIZI")
    measured = circuit.measure_all(inplace=False)  # final measurements are dropped
    result = await estimate(measured, obs, shots=4000, seed=3)
    assert result["cuts"] == []
    assert result["sampling_overhead"] == 1
    assert result["subexperiments"] == result["programs"] == 2  # one per commuting group
    assert all(e > 0 for e in result["std_errors"])
    assert_agrees(circuit, result)


# -- sfq estimate ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("estimate")
    circuit = su2(12)  # unmeasured: the estimate measures in the observables' bases
    (folder / "su2_12.qasm").write_text(qasm2.dumps(circuit))
    (folder / "obs.json").write_text(
        json.dumps(["Z" * 12, "0.5 " + "I" * 11 + "X", "-ZZ" + "I" * 10])
    )
    return folder / "su2_12.qasm", folder / "obs.json"


def check_output(path: Path) -> dict[str, Any]:
    (result,) = json.loads(path.read_text())["results"]
    assert set(result) >= {
        "circuit",
        "observables",
        "values",
        "std_errors",
        "cuts",
        "subexperiments",
        "sampling_overhead",
        "batches",
    }
    assert result["circuit"] == "su2_12.qasm"
    assert result["observables"] == ["Z" * 12, "0.5 " + "I" * 11 + "X", "-1 ZZ" + "I" * 10]
    assert_agrees(su2(12), result)
    return result


def test_sfq_estimate_cuts_a_circuit_wider_than_the_device(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    """Without a broker, on a 7-qubit device: the device's width is the default limit."""
    circuit, obs = files
    out = tmp_path / "out" / "su2_12.json"
    done = run_tool(
        "sfq", "estimate", "--backend", "aer:fake_nairobi", "--shots", "400", "--seed", "3",
        "--output", out, circuit, obs, SFQ_NOISE="false", timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = check_output(out)
    assert result["cuts"] and max(result["subcircuit_widths"]) <= 7


def test_sfq_estimate_refuses_with_one_line(files: tuple[Path, Path], tmp_path: Path) -> None:
    circuit, _ = files
    obs = tmp_path / "obs.txt"
    obs.write_text("ZZ\n")
    done = run_tool("sfq", "estimate", circuit, obs, timeout=120)
    assert done.returncode == 1
    assert "observable ZZ has 2 qubits, the circuit 12" in done.stderr
    assert "error" in json.loads(done.stdout)["results"][0]


@pytest.fixture(scope="module")
def broker_url() -> Iterator[str]:
    server, url = serve_broker("--backend", "aer:fake_brisbane", "--no-noise")
    yield url
    server.terminate()
    server.wait(timeout=30)


@pytest.mark.parametrize("where", ["broker", "client-side"])
def test_sfq_estimate_through_a_broker(
    files: tuple[Path, Path], tmp_path: Path, broker_url: str, where: str
) -> None:
    circuit, obs = files
    out = tmp_path / "out.json"
    extra = ["--client-side"] if where == "client-side" else []
    done = run_tool(
        "sfq", "estimate", *extra, "--max-width", "7", "--shots", "400", "--seed", "3",
        "-o", out, circuit, obs, SFQ_BROKER=broker_url, SFQ_BROKER_SECRET=SECRET, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = check_output(out)
    assert result["subexperiments"] == 108 and result["programs"] == 75
    assert 5 * len(result["batches"]) <= result["programs"]


def test_the_broker_refuses_a_malformed_estimate(broker_url: str) -> None:
    from streamflow_quantum.broker.client import SamplingError, estimate_remote

    qasm = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\ncx q[0],q[1];\n'
    good = {"name": "bell", "data": base64.b64encode(qasm.encode()).decode(), "observables": "ZZ"}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SFQ_BROKER", broker_url)
        env.setenv("SFQ_BROKER_SECRET", SECRET)
        env.setenv("SFQ_BROKER_RETRY_S", "0")
        with pytest.raises(SamplingError, match="answered 400: bell: 'data' must be"):
            estimate_remote(good | {"data": ""})
        with pytest.raises(SamplingError, match="answered 400: observables must be text"):
            estimate_remote(good | {"observables": 3})
        with pytest.raises(SamplingError, match="answered 400: observable 'ZQ'"):
            estimate_remote(good | {"observables": "ZQ"})
        cut = estimate_remote(good | {"max_width": 1, "shots": 1000, "seed": 1})
        assert [c["type"] for c in cut["cuts"]] == ["gate"]
        assert abs(cut["values"][0] - 1) <= 3 * cut["std_errors"][0] + 1e-9
        refused = estimate_remote(good | {"observables": "ZZZ"})
        assert refused == {
            "circuit": "bell",
            "error": "bell: observable ZZZ has 3 qubits, the circuit 2",
        }


def test_estimate_cwl_runs_under_cwltool(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "bell.qasm").write_text(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\ncx q[0],q[1];\n'
    )
    (tmp_path / "obs.txt").write_text("ZZ\n0.5 XX\n")
    job = tmp_path / "job.yml"
    job.write_text(
        f"circuit: {{class: File, path: {tmp_path / 'bell.qasm'}}}\n"
        f"observables: {{class: File, path: {tmp_path / 'obs.txt'}}}\n"
        "shots: 500\nseed: 2\nmax_width: 1\n"
    )
    done = run_tool(
        "cwltool", "--quiet", "--outdir", tmp_path / "out",
        repo / "workflows" / "tools" / "estimate.cwl", job, timeout=200,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (result,) = json.loads((tmp_path / "out" / "bell.estimate.json").read_text())["results"]
    assert len(result["cuts"]) == 1
    for value, error, expected in zip(
        result["values"], result["std_errors"], [1, 0.5], strict=True
    ):
        assert abs(value - expected) <= 3 * error + 1e-9
