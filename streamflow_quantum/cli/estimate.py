"""`sfq estimate [--shots N] [--max-width W] [--max-overhead X] [--output FILE] CIRCUIT OBSERVABLES`.

Expectation values of Pauli observables, cutting the circuit when it is wider than
``--max-width`` (see :mod:`streamflow_quantum.broker.cutting`). With ``SFQ_BROKER`` set
the broker cuts, runs and reconstructs (``/v1/estimates``), or with ``--client-side``
this step cuts and reconstructs and submits the subexperiments as ordinary programs;
without a broker it runs on ``--backend`` (``$SFQ_BACKEND``) through a broker in this
process that packs with ``fit`` unless ``SFQ_PACKING`` says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import sys
import time
from typing import Any

from streamflow_quantum.broker import protocol
from streamflow_quantum.broker.client import (
    SamplingError,
    broker_info,
    estimate_remote,
    sample_many_encoded,
)
from streamflow_quantum.broker.cutting import (
    CuttingError,
    Observable,
    estimate_on,
    parse_observables,
    plan,
    result_record,
)
from streamflow_quantum.cli.sample import write_results
from streamflow_quantum.core.circuits import load_circuit
from streamflow_quantum.core.errors import ProgramError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sfq estimate",
        description="Estimate Pauli observables of a circuit, cutting it into pieces when it is "
        f"wider than --max-width: through the broker in ${protocol.ENV_URL} when set, "
        "otherwise directly on --backend.",
    )
    parser.add_argument("circuit", metavar="CIRCUIT", help="OpenQASM 2, OpenQASM 3 or QPY file")
    parser.add_argument(
        "observables",
        metavar="OBSERVABLES",
        help="one Pauli string per line (leftmost on the highest qubit), optionally after a "
        "coefficient; or a JSON list of such lines",
    )
    parser.add_argument(
        "--shots", type=int, help="shots per subexperiment (default: the QPU's default)"
    )
    parser.add_argument("--seed", type=int, help="seed for cut finding, simulators and errors")
    parser.add_argument(
        "--max-width",
        type=int,
        metavar="W",
        help="qubits of the widest piece (default: the device's qubits)",
    )
    parser.add_argument(
        "--max-overhead",
        type=float,
        metavar="X",
        help="largest sampling overhead a cut may cost (default: qiskit-addon-cutting's bound)",
    )
    parser.add_argument("--output", "-o", help="where to write the results JSON (default: stdout)")
    parser.add_argument(
        "--backend",
        help="backend when no broker is set: aer, aer:<fake device> or ibm:<name> "
        "(default: $SFQ_BACKEND or aer)",
    )
    parser.add_argument(
        "--client-side",
        action="store_true",
        help="with a broker: cut and reconstruct in this step, submitting the subexperiments "
        "as ordinary programs (for brokers without /v1/estimates)",
    )
    return parser


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _direct(
    data: bytes, name: str, observables: list[Observable], args: argparse.Namespace
) -> dict[str, Any]:
    from streamflow_quantum.broker.factory import build_broker
    from streamflow_quantum.broker.settings import broker_schema
    from streamflow_quantum.core.config import from_environment

    async def run() -> dict[str, Any]:
        settings = {"packing": "fit"} | from_environment(os.environ, broker_schema())
        broker = build_broker(settings)
        broker.start()
        try:
            circuit = load_circuit(data, name, broker.limits, measured=False)
            return await estimate_on(
                broker,
                "direct",
                circuit,
                observables,
                args.shots,
                args.max_width,
                args.max_overhead,
                args.seed,
                name,
            )
        finally:
            await broker.close()

    return asyncio.run(run())


def _client_side(
    data: bytes, name: str, observables: list[Observable], args: argparse.Namespace
) -> dict[str, Any]:
    from qiskit import qpy

    width = args.max_width if args.max_width is not None else int(broker_info()["qubits"])
    cut = plan(
        load_circuit(data, name, measured=False),
        observables,
        width,
        args.max_overhead,
        args.seed,
        name,
    )
    encoded = []
    for program_name, (_, _, circuit) in zip(cut.names(), cut.subexperiments, strict=True):
        buffer = io.BytesIO()
        qpy.dump(circuit, buffer)
        encoded.append((program_name, buffer.getvalue()))
    seeds = [None if args.seed is None else (args.seed + i) % 2**32 for i in range(len(encoded))]
    return result_record(cut, sample_many_encoded(encoded, args.shots, seeds), args.seed)


def _remote(data: bytes, name: str, text: str, args: argparse.Namespace) -> dict[str, Any]:
    request = {
        "name": name,
        "data": base64.b64encode(data).decode("ascii"),
        "observables": text,
        "shots": args.shots,
        "seed": args.seed,
        "max_width": args.max_width,
        "max_overhead": args.max_overhead,
    }
    return estimate_remote(request)


def main(argv: list[str]) -> int:
    step_started = time.time()
    args = _parser().parse_args(argv)
    if args.backend:
        os.environ["SFQ_BACKEND"] = args.backend
    name = os.path.basename(args.circuit)
    try:
        data = _read(args.circuit)
        text = _read(args.observables).decode("utf-8", "replace")
    except OSError as e:
        print(f"sfq estimate: cannot read {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    try:
        observables = parse_observables(text)
        if not os.environ.get(protocol.ENV_URL):
            result = _direct(data, name, observables, args)
        elif args.client_side:
            result = _client_side(data, name, observables, args)
        else:
            result = _remote(data, name, text, args)
    except (CuttingError, ProgramError) as e:
        result = {"circuit": name, "error": str(e)}
    except SamplingError as e:
        print(f"sfq estimate: {e}", file=sys.stderr)
        return 1
    result["times"] = {"step_started": step_started, "step_finished": time.time()}
    write_results([result], args.output)
    if "error" in result:
        print(f"sfq estimate: refused {result['error']}", file=sys.stderr)
        return 1
    return 0
