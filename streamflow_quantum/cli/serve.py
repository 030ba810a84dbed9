"""`sfq serve`: a standalone vQPU broker shared by many workflows and users."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from streamflow.core.exception import WorkflowDefinitionException

from streamflow_quantum.broker import protocol
from streamflow_quantum.broker.settings import broker_schema
from streamflow_quantum.core.config import add_arguments, from_arguments


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sfq serve",
        description=__doc__,
        epilog="Every broker setting of a qpu deployment has its flag here, with the same default.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port to listen on (default 8765; 0 picks a free one)",
    )
    parser.add_argument(
        "--secret-file",
        help=f"file holding the shared secret clients must send (default: ${protocol.ENV_SECRET})",
    )
    add_arguments(parser.add_argument_group("broker settings"), broker_schema())
    return parser


def _secret(args: argparse.Namespace) -> str:
    if args.secret_file:
        with open(args.secret_file) as f:
            return f.read().strip()
    return os.environ.get(protocol.ENV_SECRET, "")


async def _serve(args: argparse.Namespace, secret: str) -> None:
    from streamflow_quantum.broker.factory import build_broker
    from streamflow_quantum.broker.server import BrokerServer

    broker = await asyncio.to_thread(build_broker, from_arguments(args, broker_schema()))
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
    except (ValueError, OSError, WorkflowDefinitionException) as e:
        print(f"sfq serve: {e}", file=sys.stderr)
        return 1
    return 0
