"""`sfq status [--broker URL] [--json]`: a broker's queue, its QPUs' batches, and estimated starts.

Asks ``GET /v1/status`` with the secret in ``SFQ_BROKER_SECRET`` (or ``--secret-file``).
Clients appear as a prefix of the digest of their key, with their user's name; circuit
names are not shown, as every user may ask. Estimates follow the device-time model: in
the queue policy's order, batches of each QPU's usual size go to the QPU free first, and
cost its modelled device time (duration of one shot x shots) plus an overhead, both
averaged over the QPU's recent batches.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from streamflow_quantum.broker import protocol

#: Queued programs listed one by one before the rest is summed up.
SHOWN = 10


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sfq status", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--broker",
        metavar="URL",
        default=os.environ.get(protocol.ENV_URL),
        help=f"the broker's URL (default: ${protocol.ENV_URL})",
    )
    parser.add_argument(
        "--secret-file", help=f"file holding the broker's secret (default: ${protocol.ENV_SECRET})"
    )
    parser.add_argument("--json", action="store_true", help="print the broker's answer as JSON")
    return parser


def fetch_status(url: str, secret: str, timeout: float = 10) -> dict[str, Any]:
    """The broker's ``/v1/status`` answer."""
    request = urllib.request.Request(
        url.rstrip("/") + protocol.API + "/status",
        headers={protocol.SECRET_HEADER: protocol.bearer(secret)},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer: dict[str, Any] = json.load(response)
    return answer


def _in(seconds: float) -> str:
    return "now" if seconds <= 0.05 else f"in ~{seconds:.1f} s"


def _running(qpu: dict[str, Any], now: float) -> str:
    running = qpu["running"]
    state = "online" if qpu["online"] else f"drained ({qpu['drained']})"
    head = f"{qpu['name']} ({qpu['qubits']} qubits, {qpu['packing']}, {state}): "
    if not running:
        return head + "idle"
    clients = ", ".join(f"{c} x{n}" for c, n in running["clients"].items())
    return head + (
        f"batch {running['batch']}, {running['programs']} programs ({clients}), "
        f"{running['qubits']} qubits, {running['shots']} shots, modelled device time "
        f"{running['device_s']:.3g} s, started {now - running['started']:.1f} s ago, "
        f"ends {_in(running['estimated_end'] - now)}"
    )


def render(status: dict[str, Any]) -> str:
    """The status as a few lines of text."""
    now = status["now"]
    lines = [
        f"broker: {len(status['qpus'])} QPU{'' if len(status['qpus']) == 1 else 's'}, queue "
        f"policy {status['queue_policy']}; {status['queued']} "
        f"program{'' if status['queued'] == 1 else 's'} waiting",
    ]
    lines += [_running(qpu, now) for qpu in status["qpus"]]
    if status["clients"]:
        lines.append(
            "waiting per user: " + ", ".join(f"{u} {n}" for u, n in status["users"].items())
        )
        lines.append(
            "waiting per client: " + ", ".join(f"{c} {n}" for c, n in status["clients"].items())
        )
        lines.append("next:")
        for i, item in enumerate(status["queue"][:SHOWN], 1):
            lines.append(
                f"  {i:>3}. {item['user']} (client {item['client']}), {item['shots']} shots, "
                f"waited {item['waiting_s']:.1f} s, starts {_in(item['estimated_start'] - now)}, "
                f"ends {_in(item['estimated_finish'] - now)}"
            )
        if len(status["queue"]) > SHOWN:
            last = status["queue"][-1]
            lines.append(
                f"  ... {len(status['queue']) - SHOWN} more; the last starts "
                f"{_in(last['estimated_start'] - now)}"
            )
    for qpu in status["qpus"]:
        model = qpu["model"]
        lines.append(
            f"model of {qpu['name']}: {model['device_s_per_batch']:.3g} s device time + "
            f"{model['overhead_s']:.3g} s overhead per batch (from {model['batches_seen']} "
            "recent batches)"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not args.broker:
        print(f"sfq status: give --broker URL or set {protocol.ENV_URL}", file=sys.stderr)
        return 2
    try:
        if args.secret_file:
            with open(args.secret_file, encoding="utf-8") as f:
                secret = f.read().strip()
        else:
            secret = os.environ.get(protocol.ENV_SECRET, "")
        status = fetch_status(args.broker, secret)
    except urllib.error.HTTPError as e:
        with e:
            reason = e.read().decode(errors="replace").strip() or e.reason
        print(f"sfq status: broker at {args.broker} answered {e.code}: {reason}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as e:
        print(f"sfq status: cannot ask the broker at {args.broker}: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print(render(status))
        print(f"(as of {time.strftime('%H:%M:%S', time.localtime(status['now']))})")
    return 0
