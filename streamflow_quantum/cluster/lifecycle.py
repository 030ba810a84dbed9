"""Start, stop and describe the local emulated Slurm cluster.

Every daemon runs in the foreground (``-D``/``-F``) as a child started in its own
session, so the PID we record is the daemon itself and ``down`` can stop exactly
what ``up`` started. A munged that was already running is used and left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from streamflow_quantum.cluster.config import (
    MARKER,
    ClusterSpec,
    completion_log,
    render_slurm_conf,
    slurm_conf,
    state_dir,
)

PROGRAMS = ("slurmctld", "slurmd", "munged", "sbatch", "srun", "sinfo")
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_DIRS = (Path("/run/munge"), Path("/var/lib/munge"), Path("/var/log/munge"))
IDLE_TIMEOUT_S = 60.0


class ClusterError(RuntimeError):
    """Something ``sfq cluster`` cannot do; the message is one line saying what to fix."""


def _state_file() -> Path:
    return state_dir() / "cluster.json"


def _load() -> dict:
    try:
        return json.loads(_state_file().read_text())
    except FileNotFoundError:
        return {"spec": None, "pids": {}}


def _save(state: dict) -> None:
    _state_file().parent.mkdir(parents=True, exist_ok=True)
    _state_file().write_text(json.dumps(state, indent=2) + "\n")


def _cmdline(pid: int) -> list[str]:
    """The live process's argv, or [] for a dead or zombie one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return []
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return []


def _is_daemon(pid: int, key: str) -> bool:
    """Whether ``pid`` is still the daemon recorded under ``key`` (e.g. ``slurmd:c1``)."""
    program, _, node = key.partition(":")
    argv = _cmdline(pid)
    return bool(argv) and Path(argv[0]).name == program and (not node or node in argv)


def _running(program: str) -> list[int]:
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    return [pid for pid in pids if (argv := _cmdline(pid)) and Path(argv[0]).name == program]


def _live(state: dict) -> dict[str, int]:
    return {key: pid for key, pid in state["pids"].items() if _is_daemon(pid, key)}


def _require_root() -> None:
    if os.geteuid() != 0:
        raise ClusterError(
            "sfq cluster needs root (it writes /etc/slurm/slurm.conf and starts munged and "
            "the Slurm daemons): run it with sudo"
        )


def _install_packages() -> None:
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise ClusterError(
            f"{', '.join(missing)} not found and apt-get is unavailable: install Slurm "
            "(slurmctld, slurmd, client) and munge with your package manager"
        )
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "slurm-wlm", "munge"],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ClusterError(
                f"`{' '.join(cmd)}` failed ({last}): install slurm-wlm and munge by hand"
            )


def _check_ports(spec: ClusterSpec) -> None:
    for daemon, port in spec.ports().items():
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("", port))
            except OSError:
                raise ClusterError(
                    f"port {port} (for {daemon}) is in use: free it or pass --base-port with "
                    f"{len(spec.ports())} free ports from there"
                ) from None


def _check_no_foreign_slurm() -> None:
    """Called once ours are stopped: any Slurm daemon left was started by someone else."""
    for program in ("slurmctld", "slurmd"):
        foreign = _running(program)
        if foreign:
            raise ClusterError(
                f"{program} is already running (pid {foreign[0]}) but `sfq cluster up` did not "
                "start it: stop it (e.g. systemctl stop slurmctld slurmd) and retry"
            )


def _write_conf(spec: ClusterSpec) -> None:
    conf = slurm_conf()
    if conf.exists() and not conf.read_text().startswith(MARKER):
        raise ClusterError(
            f"{conf} exists and was not written by `sfq cluster up`: move it away and retry"
        )
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(render_slurm_conf(spec, state_dir()))


def _reconfigure(spec: ClusterSpec) -> bool:
    """Bring a running cluster's slurm.conf up to date (e.g. a licence name added since it
    started) without stopping a daemon: rewrite it and ``scontrol reconfigure``, which
    re-reads licences and partitions in place; running and queued jobs are kept.
    Returns whether anything changed."""
    conf = slurm_conf()
    if conf.exists() and conf.read_text() == render_slurm_conf(spec, state_dir()):
        return False
    _write_conf(spec)
    done = subprocess.run(["scontrol", "reconfigure"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ClusterError(
            f"`scontrol reconfigure` failed ({done.stderr.strip() or done.returncode}) after "
            f"updating {conf}: see {state_dir() / 'log' / 'slurmctld.log'}"
        )
    return True


def _spawn(argv: list[str], log: str, **kwargs) -> int:
    with (state_dir() / "log" / log).open("ab") as out:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, **kwargs
        )
    return process.pid


def _start_munged(state: dict) -> None:
    if _live(state).get("munged") or _running("munged"):
        return
    if not MUNGE_KEY.exists():
        subprocess.run(["mungekey", "--create", "--keyfile", str(MUNGE_KEY)], check=True)
    for path in MUNGE_DIRS:
        path.mkdir(parents=True, exist_ok=True)
        shutil.chown(path, "munge", "munge")
    shutil.chown(MUNGE_KEY, "munge", "munge")
    MUNGE_KEY.chmod(0o600)
    state["pids"]["munged"] = _spawn(
        ["munged", "-F"], "munged.out", user="munge", group="munge", extra_groups=[]
    )
    deadline = time.monotonic() + 10
    while not Path("/run/munge/munge.socket.2").exists():
        if time.monotonic() > deadline or not _is_daemon(state["pids"]["munged"], "munged"):
            raise ClusterError(f"munged did not start: see {state_dir() / 'log' / 'munged.out'}")
        time.sleep(0.1)


def _node_states() -> dict[str, str]:
    done = subprocess.run(
        ["sinfo", "-h", "-N", "-o", "%N %t"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return {}
    return dict(line.split() for line in done.stdout.splitlines() if line.strip())


def _wait_idle(spec: ClusterSpec, state: dict) -> None:
    deadline = time.monotonic() + IDLE_TIMEOUT_S
    while True:
        states = _node_states()
        if all(
            states.get(node, "").rstrip("*") in ("idle", "alloc", "mix", "comp")
            for node in spec.node_names
        ):
            return
        dead = [key for key, pid in state["pids"].items() if not _is_daemon(pid, key)]
        if dead or time.monotonic() > deadline:
            why = (
                f"{dead[0]} exited"
                if dead
                else f"nodes not idle after {IDLE_TIMEOUT_S:.0f} s ({states})"
            )
            raise ClusterError(
                f"the cluster did not come up: {why}; see the logs in {state_dir() / 'log'}"
            )
        time.sleep(0.5)


def _stop(pids: dict[str, int]) -> list[str]:
    """SIGTERM, then SIGKILL after 10 s; slurmd before slurmctld before munged."""
    rank = {"slurmd": 0, "slurmctld": 1, "munged": 2}
    order = sorted(pids, key=lambda key: rank[key.partition(":")[0]])
    for key in order:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pids[key], signal.SIGTERM)
    deadline = time.monotonic() + 10
    for key in order:
        while _is_daemon(pids[key], key) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _is_daemon(pids[key], key):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pids[key], signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):  # reaps it when `up` ran in this process
            os.waitpid(pids[key], os.WNOHANG)
    return order


def up(spec: ClusterSpec) -> str:
    _require_root()
    _install_packages()
    state = _load()
    live = _live(state)
    slurm = {key: pid for key, pid in live.items() if key != "munged"}
    expected = {"slurmctld", *(f"slurmd:{node}" for node in spec.node_names)}
    if state["spec"] == spec.to_dict() and set(slurm) == expected:
        reconfigured = _reconfigure(spec)
        _wait_idle(spec, state)
        return (
            f"cluster already up: {len(spec.compute_names)} compute nodes, q1, "
            f"licenses {spec.licenses}"
            + ("; slurm.conf updated, reconfigured" if reconfigured else "")
        )
    _stop(slurm)
    state["pids"] = {key: pid for key, pid in live.items() if key == "munged"}
    _check_no_foreign_slurm()
    _check_ports(spec)
    _write_conf(spec)
    root = state_dir()
    for sub in ("log", "run", "slurmctld", *(f"slurmd/{node}" for node in spec.node_names)):
        (root / sub).mkdir(parents=True, exist_ok=True)
    completion_log().touch()
    _start_munged(state)
    state["spec"] = spec.to_dict()
    state["pids"]["slurmctld"] = _spawn(["slurmctld", "-D"], "slurmctld.out")
    _save(state)
    for node in spec.node_names:
        state["pids"][f"slurmd:{node}"] = _spawn(["slurmd", "-D", "-N", node], f"slurmd.{node}.out")
        _save(state)
    _wait_idle(spec, state)
    return (
        f"cluster up: compute {','.join(spec.compute_names)}, quantum q1, licenses {spec.licenses}; "
        f"config {slurm_conf()}, completion log {completion_log()}"
    )


def down() -> str:
    _require_root()
    state = _load()
    stopped = _stop(_live(state))
    state["pids"] = {}
    _save(state)
    return f"stopped {', '.join(stopped)}" if stopped else "nothing to stop: the cluster is not up"


def status() -> str:
    state = _load()
    live = _live(state)
    if not live:
        return f"cluster down (state in {state_dir()}); start it with `sfq cluster up`"
    sinfo = subprocess.run(
        ["sinfo", "-N", "-o", "%N %P %t %c"], capture_output=True, text=True, check=False
    )
    licenses = subprocess.run(
        ["scontrol", "show", "licenses"], capture_output=True, text=True, check=False
    )
    daemons = " ".join(f"{key}={pid}" for key, pid in live.items())
    return "\n".join(
        [
            f"daemons: {daemons}",
            (sinfo.stdout or sinfo.stderr).rstrip(),
            licenses.stdout.strip() or licenses.stderr.strip(),
            f"config: {slurm_conf()}",
            f"completion log: {completion_log()}",
            f"logs: {state_dir() / 'log'}",
        ]
    )
