"""`sfq serve`: a standalone vQPU broker shared by many workflows and users."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from streamflow_quantum.broker import protocol
from streamflow_quantum.packing.registry import POLICIES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sfq serve", description=__doc__)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port to listen on (default 8765; 0 picks a free one)",
    )
    parser.add_argument("--backend", default="aer", help="aer, aer:<fake device> or ibm:<name>")
    parser.add_argument(
        "--no-noise", dest="noise", action="store_false", help="run a fake device ideally"
    )
    parser.add_argument("--shots", type=int, default=1024, help="default shots per program")
    parser.add_argument("--packing", choices=POLICIES, default="space-time")
    parser.add_argument(
        "--batch-window", type=float, default=0.1, help="seconds to gather programs"
    )
    parser.add_argument(
        "--batch-size", type=int, default=0, help="close a window early at this many programs"
    )
    parser.add_argument("--ibm-channel")
    parser.add_argument("--ibm-instance")
    parser.add_argument("--ibm-mode", choices=("job", "batch", "session"), default="job")
    parser.add_argument(
        "--secret-file",
        help=f"file holding the shared secret clients must send (default: ${protocol.ENV_SECRET})",
    )
    return parser


def _secret(args: argparse.Namespace) -> str:
    if args.secret_file:
        with open(args.secret_file) as f:
            return f.read().strip()
    return os.environ.get(protocol.ENV_SECRET, "")


async def _serve(args: argparse.Namespace, secret: str) -> None:
    from streamflow_quantum.broker.factory import build_broker
    from streamflow_quantum.broker.server import BrokerServer

    broker = await asyncio.to_thread(
        build_broker,
        backend=args.backend,
        noise=args.noise,
        packing=args.packing,
        ibm={"channel": args.ibm_channel, "instance": args.ibm_instance, "mode": args.ibm_mode},
        default_shots=args.shots,
        window=args.batch_window,
        batch_size=args.batch_size,
    )
    server = BrokerServer(broker, secret, args.host, args.port)
    url = await server.start()
    print(
        f"sfq serve: broker for {broker.backend.name} ({broker.policy.name}) at {url}", flush=True
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        secret = _secret(args)
    except OSError as e:
        print(f"sfq serve: cannot read the secret file: {e.strerror}", file=sys.stderr)
        return 2
    if not secret:
        print(
            f"sfq serve: a shared secret is required: set {protocol.ENV_SECRET} or pass --secret-file FILE",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        asyncio.run(_serve(args, secret))
    except (ValueError, OSError) as e:
        print(f"sfq serve: {e}", file=sys.stderr)
        return 1
    return 0
