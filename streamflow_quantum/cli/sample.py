"""`sfq sample [--shots N] [--seed S] [--output FILE] CIRCUIT...`: the quantum step tool."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Any

from streamflow_quantum.broker import protocol
from streamflow_quantum.broker.client import SamplingError, sample_encoded


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sfq sample",
        description="Sample OpenQASM 2/3 or QPY circuits on the QPU: through the broker in "
        f"${protocol.ENV_URL} when set, otherwise directly on --backend.",
    )
    parser.add_argument(
        "circuits", nargs="+", metavar="CIRCUIT", help="OpenQASM 2, OpenQASM 3 or QPY file"
    )
    parser.add_argument("--shots", type=int, help="shots per circuit (default: the QPU's default)")
    parser.add_argument("--seed", type=int, help="simulator seed, for reproducible counts")
    parser.add_argument(
        "--fidelity-budget",
        type=float,
        metavar="B",
        help="share (0 to 1) of each circuit's solo success probability packing may cost it "
        "(default: the QPU's fidelityBudget)",
    )
    parser.add_argument("--output", "-o", help="where to write the results JSON (default: stdout)")
    parser.add_argument(
        "--backend",
        help="backend when no broker is set: aer, aer:<fake device> or ibm:<name> (default: $SFQ_BACKEND or aer)",
    )
    return parser


def write_results(results: list[dict[str, Any]], output: str | None) -> None:
    """``{"results": [...]}`` into ``output`` (its folder made), or to stdout."""
    text = json.dumps({"results": results}, indent=2)
    if output:
        os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
        with open(output, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


def _show_progress() -> None:
    """The broker client's INFO lines (when programs should start) on stderr, in the step's log."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("sfq sample: %(message)s"))
    client = logging.getLogger("streamflow_quantum.broker.client")
    client.addHandler(handler)
    client.setLevel(logging.INFO)
    client.propagate = False


def main(argv: list[str]) -> int:
    step_started = time.time()
    args = _parser().parse_args(argv)
    _show_progress()
    if args.backend:
        os.environ["SFQ_BACKEND"] = args.backend
    programs = []
    for path in args.circuits:
        try:
            with open(path, "rb") as f:
                programs.append((os.path.basename(path), f.read()))
        except OSError as e:
            print(f"sfq sample: cannot read {path}: {e.strerror}", file=sys.stderr)
            return 2
    try:
        results = sample_encoded(programs, args.shots, args.seed, args.fidelity_budget)
    except (SamplingError, ValueError) as e:
        print(f"sfq sample: {e}", file=sys.stderr)
        return 1
    step_finished = time.time()
    for result in results:
        result.setdefault("times", {}).update(
            step_started=step_started, step_finished=step_finished
        )
    write_results(results, args.output)
    failed = [r["error"] for r in results if "error" in r]
    for reason in failed:
        print(f"sfq sample: refused {reason}", file=sys.stderr)
    return 1 if failed else 0
