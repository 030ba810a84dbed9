"""`sfq users add|list|remove`: the users of a standalone broker (`sfq serve --users FILE`).

A running broker sees a change within a second or so: no restart.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streamflow_quantum.broker import protocol
from streamflow_quantum.broker.users import (
    DEFAULT_FILE,
    ENV_USERS,
    UsersError,
    add_user,
    default_path,
    load,
    remove_user,
)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--file",
        type=Path,
        default=None,
        help=f"the users file (default: ${ENV_USERS}, else {DEFAULT_FILE})",
    )
    parser = argparse.ArgumentParser(prog="sfq users", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = commands.add_parser(
        "add", parents=[common], help="add a user and print their token, once"
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument(
        "--priority",
        type=float,
        default=1.0,
        help="weight under the priority queue policy (default 1)",
    )
    add.add_argument(
        "--max-queued",
        type=int,
        default=0,
        metavar="N",
        help="programs the user may have queued at once (default 0: no cap)",
    )
    add.add_argument(
        "--device-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="modelled device seconds per quota period (default 0: no cap)",
    )
    commands.add_parser(
        "list", parents=[common], help="list the users with their priorities and quotas"
    )
    remove = commands.add_parser("remove", parents=[common], help="remove a user")
    remove.add_argument("name", metavar="NAME")
    return parser


def _list(path: Path) -> None:
    users = [account.user for account in load(path)]
    if not users:
        print(f"{path}: no users")
        return
    width = max(len("NAME"), *(len(user.name) for user in users))
    print(f"{'NAME':<{width}}  {'PRIORITY':>8}  {'MAX QUEUED':>10}  {'DEVICE S':>10}")
    for user in users:
        print(
            f"{user.name:<{width}}  {user.priority:>8g}  {user.max_queued or '-':>10}  "
            f"{f'{user.device_s:g}' if user.device_s else '-':>10}"
        )


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    path: Path = args.file or default_path()
    try:
        if args.command == "add":
            token = add_user(path, args.name, args.priority, args.max_queued, args.device_seconds)
            print(
                f"sfq users: added {args.name} to {path}. Their token, shown this once "
                f"(the file keeps only its digest); give it to them privately, to set as:"
            )
            print(f"{protocol.ENV_SECRET}={token}")
        elif args.command == "remove":
            remove_user(path, args.name)
            print(f"sfq users: removed {args.name} from {path}")
        else:
            _list(path)
    except (UsersError, OSError) as e:
        message = e.strerror if isinstance(e, OSError) else str(e)
        print(f"sfq users: {message}", file=sys.stderr)
        return 1
    return 0
