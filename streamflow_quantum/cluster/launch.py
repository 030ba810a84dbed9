"""Launching a workflow step as an ``srun`` job instead of an ``sbatch`` one.

Slurm 22.05 starts a batch job only at slurmctld's next scheduling pass, which runs
once a second, so every ``sbatch`` step waits 0-1 s for an idle node (0.5 s on
average), and StreamFlow then notices its end only at its next poll. ``srun`` asks
for its allocation at submission and is granted it at once when nodes are free, and
it returns when the step ends. A workflow whose rounds are sequential steps pays
both at every step (docs/benchmarks-workflow.md).

What it costs: each running step keeps an ``srun`` process on the submitting host,
and the job ends if StreamFlow's host loses it, where an ``sbatch`` job would run on.
``srun`` runs one task, so a step is one process on one node: settings that ask for
more, or that only ``sbatch`` has, are refused when the deployment is built.
"""

from __future__ import annotations

import base64
import re
import shlex
import uuid
from collections.abc import Mapping, MutableMapping
from typing import Any

from streamflow.core.exception import WorkflowDefinitionException
from streamflow.core.utils import format_seconds_to_hhmmss

#: How a step becomes a Slurm job; the first is the default (StreamFlow's own way).
LAUNCHES = ("sbatch", "srun")

#: StreamFlow's Slurm service settings Slurm 22.05's ``srun`` has no option for (job
#: arrays, requeueing, batch-only environment handling, script templates).
SRUN_LACKS = frozenset(
    {
        "array",
        "batch",
        "clusterConstraint",
        "containerId",
        "exportFile",
        "file",
        "getUserEnv",
        "ignorePBS",
        "noRequeue",
        "requeue",
        "tresPerTask",
        "waitAllNodes",
    }
)
#: Settings that would make ``srun`` start more than one copy of the step.
MANY_TASKS = frozenset({"ntasksPerCore", "ntasksPerGpu", "ntasksPerNode", "ntasksPerSocket"})
#: Where the option's name is not the setting's in kebab case.
OPTION_NAMES = {"useMinNodes": "use-min-nodes"}


def _option(setting: str) -> str:
    return OPTION_NAMES.get(setting) or re.sub(r"(?<!^)([A-Z])", r"-\1", setting).lower()


def srun_options(name: str, settings: Mapping[str, Any]) -> list[str]:
    """``srun`` options for a service's settings (StreamFlow's ``SlurmService`` fields).

    Raises `WorkflowDefinitionException` for a setting ``srun`` cannot honour.
    """
    given = {
        key: value for key, value in settings.items() if value is not None and value is not False
    }
    refused = sorted(given.keys() & (SRUN_LACKS | MANY_TASKS))
    refused += [key for key in ("nodes", "ntasks") if str(given.get(key, 1)) != "1"]
    if refused:
        settings_text = ", ".join(f"{key}: {given[key]}" for key in refused)
        raise WorkflowDefinitionException(
            f"Slurm service {name!r}: launch: srun starts a step as one task on one node, "
            f"so it cannot take {settings_text}; use launch: sbatch for this service"
        )
    options = ["--ntasks=1"]
    for key, value in given.items():
        if key in ("nodes", "ntasks"):
            continue
        if value is True:
            options.append(f"--{_option(key)}")
        else:
            options.append(f"--{_option(key)}={shlex.quote(str(value))}")
    return options


def new_token() -> str:
    """A job's mark in its Slurm comment, to find and cancel it without its id."""
    return f"sfq-{uuid.uuid4().hex}"


def srun_command(
    script: str,
    token: str,
    job_name: str,
    options: list[str],
    environment: MutableMapping[str, str] | None,
    workdir: str | None,
    timeout: int | None,
) -> list[str]:
    """The shell command that runs ``script`` as an ``srun`` job and waits for it.

    The submitting shell drops its ``SLURM_*`` variables (``SLURM_CONF`` aside) first:
    inside an allocation, as when StreamFlow itself runs in a job, ``srun`` would
    otherwise start a step of that allocation, or take its sizes from them.
    """
    encoded = base64.b64encode(script.encode("utf-8")).decode("ascii")
    command = [
        "unset",
        "$(env | sed -n '/^SLURM_CONF=/d; s/^\\(SLURM_[A-Za-z0-9_]*\\)=.*/\\1/p')",
        ";",
    ]
    command += [f"{key}={shlex.quote(value)}" for key, value in (environment or {}).items()]
    command += ["srun", "--quiet", f"--comment={token}", f"--job-name={shlex.quote(job_name)}"]
    if workdir is not None:
        command.append(f"--chdir={shlex.quote(workdir)}")
    if timeout:
        options = [o for o in options if not o.startswith("--time=")]
        options.append(f"--time={format_seconds_to_hhmmss(timeout)}")
    command += options
    command += ["/bin/sh", "-c", f'"$(echo {encoded} | base64 -d)"']
    return command


def cancel_command(token: str) -> list[str]:
    """Cancel the job marked ``token``, if it is still in the queue."""
    return [
        "squeue",
        "-h",
        "-o",
        "'%i %k'",
        "|",
        "awk",
        f"'$2 == \"{token}\" {{print $1}}'",
        "|",
        "xargs",
        "-r",
        "scancel",
    ]
