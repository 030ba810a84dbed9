"""`sfq serve`: a standalone vQPU broker shared by many workflows and users.

Clients authenticate with one shared secret, or, with ``--users FILE``, each user with
their own token (`sfq users add`); the shared secret is then optional.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import ssl
import sys
from pathlib import Path

from streamflow.core.exception import WorkflowDefinitionException

from streamflow_quantum.broker import protocol
from streamflow_quantum.broker.journal import JournalError
from streamflow_quantum.broker.settings import broker_schema
from streamflow_quantum.broker.users import UsersError, UsersFile
from streamflow_quantum.core.config import add_arguments, from_arguments
from streamflow_quantum.core.errors import one_line

#: A shared secret shorter than this is refused: it could be guessed.
MIN_SECRET_BYTES = 32
LOG_ENV = "SFQ_LOG_LEVEL"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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
        "--state-dir",
        metavar="DIR",
        help="keep accepted programs and results in DIR/broker-journal.sqlite3: a broker "
        "restarted with the same DIR runs what was queued and serves what finished",
    )
    parser.add_argument(
        "--secret-file",
        help=f"file holding the shared secret clients must send (default: ${protocol.ENV_SECRET})",
    )
    parser.add_argument(
        "--users",
        metavar="FILE",
        help="authenticate each user by their own token, from this users file (sfq users "
        "add); a shared secret, if also given, then authenticates the anonymous user",
    )
    parser.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="serve HTTPS with this certificate (PEM); recommended on any address but 127.0.0.1",
    )
    parser.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=None,
        help=f"log level (default: ${LOG_ENV} or INFO); Qiskit's own logs show only at DEBUG",
    )
    add_arguments(parser.add_argument_group("broker settings"), broker_schema())
    return parser


def _log_level(args: argparse.Namespace) -> str:
    level = (args.log_level or os.environ.get(LOG_ENV) or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"{LOG_ENV}={level}: use one of {', '.join(LOG_LEVELS)}")
    return level


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if level != "DEBUG":  # Qiskit logs each transpiler pass at INFO: most of a broker's log
        for noisy in ("qiskit", "qiskit_aer", "qiskit_ibm_runtime", "stevedore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.tls_cert and not args.tls_key:
        return None
    if not (args.tls_cert and args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as e:
        raise ValueError(f"cannot load the TLS certificate or key: {one_line(e)}") from None
    return context


def _secret(args: argparse.Namespace) -> str:
    if args.secret_file:
        with open(args.secret_file) as f:
            return f.read().strip()
    return os.environ.get(protocol.ENV_SECRET, "")


async def _serve(args: argparse.Namespace, secret: str, users: UsersFile | None) -> None:
    from streamflow_quantum.broker.factory import build_broker
    from streamflow_quantum.broker.server import BrokerServer

    context = _ssl_context(args)
    from streamflow_quantum.broker.journal import Journal

    journal = Journal.open(args.state_dir) if args.state_dir else None
    broker = await asyncio.to_thread(
        build_broker, from_arguments(args, broker_schema()), None, journal
    )
    server = BrokerServer(broker, secret, args.host, args.port, context, users)
    url = await server.start()
    print(
        f"sfq serve: broker for {broker.backend.name} ({broker.policy.name}) at {url}", flush=True
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()
    if journal is not None:
        journal.close()


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        secret = _secret(args)
    except OSError as e:
        print(f"sfq serve: cannot read the secret file: {e.strerror}", file=sys.stderr)
        return 2
    users = None
    if args.users:
        try:
            users = UsersFile(Path(args.users))
        except UsersError as e:
            print(f"sfq serve: {e}", file=sys.stderr)
            return 2
    if not secret and users is None:
        print(
            f"sfq serve: a shared secret is required: set {protocol.ENV_SECRET} or pass --secret-file FILE",
            file=sys.stderr,
        )
        return 2
    if secret and len(secret.encode()) < MIN_SECRET_BYTES:
        print(
            f"sfq serve: the shared secret has {len(secret.encode())} bytes; use at least "
            f"{MIN_SECRET_BYTES} random ones (python -c 'import secrets; print(secrets.token_urlsafe(32))')",
            file=sys.stderr,
        )
        return 2
    try:
        _configure_logging(_log_level(args))
    except ValueError as e:
        print(f"sfq serve: {e}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(args, secret, users))
    except (ValueError, OSError, WorkflowDefinitionException, JournalError) as e:
        print(f"sfq serve: {e}", file=sys.stderr)
        return 1
    return 0
