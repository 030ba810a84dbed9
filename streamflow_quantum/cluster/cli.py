"""`sfq cluster up|down|status`: the local emulated Slurm cluster."""

from __future__ import annotations

import argparse
import sys

from streamflow_quantum.cluster.config import ClusterSpec
from streamflow_quantum.cluster.lifecycle import ClusterError, down, status, up


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sfq cluster",
        description="Local emulated Slurm cluster: compute nodes c1..cN and quantum node q1 on this host. "
        "Writes /etc/slurm/slurm.conf (or $SLURM_CONF) and keeps state in $SFQ_CLUSTER_DIR "
        "(default /var/lib/sfq-cluster).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser(
        "up", help="install if needed, configure, start and wait until idle"
    )
    start.add_argument(
        "--compute-nodes", type=int, default=3, help="compute nodes c1..cN (default 3)"
    )
    start.add_argument(
        "--qpu-licenses", type=int, default=4, help="Slurm licenses qpu:N (default 4)"
    )
    start.add_argument(
        "--base-port",
        type=int,
        default=17000,
        help="slurmctld port; slurmd ports follow it (default 17000)",
    )
    commands.add_parser("down", help="stop the daemons `up` started")
    commands.add_parser("status", help="node states, licenses, config and completion log")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "up":
            if args.compute_nodes < 1 or args.qpu_licenses < 1:
                raise ClusterError("--compute-nodes and --qpu-licenses must be at least 1")
            spec = ClusterSpec(args.compute_nodes, args.qpu_licenses, args.base_port)
            print(up(spec))
        elif args.command == "down":
            print(down())
        else:
            print(status())
    except ClusterError as error:
        print(f"sfq cluster {args.command}: {error}", file=sys.stderr)
        return 1
    return 0
