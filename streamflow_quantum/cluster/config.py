"""Where the local emulated Slurm cluster keeps its state, and its slurm.conf.

The configuration goes to /etc/slurm/slurm.conf, the file every Slurm command reads
by default: StreamFlow's Slurm connector runs a plain ``sbatch``, so any other place
would need SLURM_CONF exported in every shell that runs a workflow. Everything else
(daemon logs, spool directories, the job completion log, the PIDs ``up`` started)
lives in the state directory, $SFQ_CLUSTER_DIR or /var/lib/sfq-cluster.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

#: First line of every slurm.conf we write: ``up`` never overwrites a file without it.
MARKER = "# Written by `sfq cluster up`; `sfq cluster up` rewrites it, edit the options instead."
QUANTUM_NODE = "q1"
#: One copy: a job holding it has the QPU to itself (co-scheduling, `sfq bench vqpu` exclusive).
EXCLUSIVE_LICENSE = "qpu_exclusive"
#: Virtual QPUs: N jobs at once each hold one copy and share the QPU in time (`sfq bench vqpu`).
VQPU_LICENSE = "vqpu"
VQPU_LICENSES = 8
#: Jobs that ask for it (``--oversubscribe``) may share a compute node, up to this many per
#: node: the vQPU benchmark's N client jobs. Every other job still gets whole nodes.
OVERSUBSCRIBE = 8


def slurm_conf() -> Path:
    return Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf"))


def state_dir() -> Path:
    return Path(os.environ.get("SFQ_CLUSTER_DIR", "/var/lib/sfq-cluster"))


def completion_log() -> Path:
    """Slurm's job completion log (jobcomp/filetxt): one line per finished job."""
    return state_dir() / "jobcomp.log"


@dataclass(frozen=True)
class ClusterSpec:
    """What ``sfq cluster up`` was asked for; a change means reconfiguring."""

    compute_nodes: int = 3
    qpu_licenses: int = 4
    base_port: int = 17000
    hostname: str = socket.gethostname()

    @property
    def compute_names(self) -> list[str]:
        return [f"c{i}" for i in range(1, self.compute_nodes + 1)]

    @property
    def node_names(self) -> list[str]:
        return [*self.compute_names, QUANTUM_NODE]

    def ports(self) -> dict[str, int]:
        """slurmctld listens on the base port, node ``i`` (in order) on base + 1 + i."""
        ports = {"slurmctld": self.base_port}
        ports |= {name: self.base_port + 1 + i for i, name in enumerate(self.node_names)}
        return ports

    def to_dict(self) -> dict[str, int | str]:
        return asdict(self)

    @property
    def licenses(self) -> str:
        """The ``Licenses=`` value: the workflows' ``qpu`` pool first, as before."""
        return f"qpu:{self.qpu_licenses},{EXCLUSIVE_LICENSE}:1,{VQPU_LICENSE}:{VQPU_LICENSES}"


def render_slurm_conf(spec: ClusterSpec, state: Path) -> str:
    ports = spec.ports()
    n = spec.compute_nodes
    compute = f"c[1-{n}]" if n > 1 else "c1"
    compute_ports = f"{ports['c1']}-{ports[f'c{n}']}" if n > 1 else str(ports["c1"])
    return f"""{MARKER}
ClusterName=sfq
SlurmctldHost={spec.hostname}
SlurmctldPort={ports["slurmctld"]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={state}/slurmctld
SlurmdSpoolDir={state}/slurmd/%n
SlurmctldPidFile={state}/run/slurmctld.pid
SlurmdPidFile={state}/run/slurmd.%n.pid
SlurmctldLogFile={state}/log/slurmctld.log
SlurmdLogFile={state}/log/slurmd.%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
# A batch job starts at the scheduler's next pass (within 1 s), not up to 3 s later
# (Slurm's default batch_sched_delay): a workflow submits one job per step.
SchedulerParameters=batch_sched_delay=0
SelectType=select/linear
Licenses={spec.licenses}
JobCompType=jobcomp/filetxt
JobCompLoc={state}/jobcomp.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName={compute} NodeHostname={spec.hostname} Port={compute_ports} CPUs=1 State=UNKNOWN
NodeName={QUANTUM_NODE} NodeHostname={spec.hostname} Port={ports[QUANTUM_NODE]} CPUs=1 State=UNKNOWN
PartitionName=compute Nodes={compute} Default=YES MaxTime=INFINITE OverSubscribe=YES:{OVERSUBSCRIBE} State=UP
PartitionName=quantum Nodes={QUANTUM_NODE} MaxTime=INFINITE State=UP
"""
