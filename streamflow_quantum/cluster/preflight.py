"""Make a Slurm workflow fail fast, with one clear line, when the controller is down.

Two StreamFlow extensions, used together by the ``streamflow-slurm.yml`` files:

* deployment type ``sfq-slurm``: StreamFlow's Slurm connector, which runs
  ``scontrol ping`` (instant: a refused connection is reported as DOWN) before each
  ``sbatch`` and every ``PING_PERIOD`` while the job is in Slurm, and fails the
  job with "Slurm controller unreachable (...): run sfq cluster up". Left alone,
  each Slurm command retries its connection for 9-18 s before failing, and a job
  whose controller died fails after ~1 min with "Error while retrieving return
  code for job 12: ".
* failure manager ``sfq-failfast``: StreamFlow's default (no recovery), except that a
  failed job also ends the rest of the workflow, as ``Executor.close()`` would.

StreamFlow 0.2.0rc3 ends a run only when a workflow output port receives a FAILED or
CANCELLED termination token. A failure upstream of (or inside) a CWL loop never gets
there: ``LoopCombinatorStep.run`` keeps waiting for an iteration-termination token on
every loop input that already received its first token, and only the loop itself
could produce one, so the run hangs forever. Failing the deployment instead does not
help: a deployment fails inside whichever step first uses it, with the same result.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping, MutableSequence
from typing import Any

from streamflow.core import utils
from streamflow.core.deployment import ExecutionLocation
from streamflow.core.exception import WorkflowDefinitionException, WorkflowExecutionException
from streamflow.core.workflow import Job, Status, Step
from streamflow.deployment.connector.queue_manager import SlurmConnector
from streamflow.log_handler import logger
from streamflow.recovery.failure_manager import DummyFailureManager

from streamflow_quantum.cluster.launch import (
    LAUNCHES,
    cancel_command,
    new_token,
    srun_command,
    srun_options,
)
from streamflow_quantum.cluster.schema import sfq_slurm_schema

#: Seconds ``scontrol ping`` may take: it answers at once when slurm.conf is readable,
#: but retries for a minute when it is not.
PING_TIMEOUT = 10
#: Seconds between pings while a job is in Slurm, or ``pollingInterval`` if longer: a
#: fraction-of-a-second poll need not also start a process that often.
PING_PERIOD = 1.0
ADVICE = "run sfq cluster up"


class ControllerUnreachable(WorkflowExecutionException):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Slurm controller unreachable ({reason}): {ADVICE}")


class SfqSlurmConnector(SlurmConnector):
    """A ``slurm`` deployment that fails a job at once when the controller is down, and
    can start its steps with ``srun`` (``launch: srun``, :mod:`.launch`)."""

    #: Declared by StreamFlow's QueueManagerConnector, which has no type hints.
    _scheduled_jobs: MutableMapping[str, ExecutionLocation]

    def __init__(self, *args: Any, launch: str = LAUNCHES[0], **kwargs: Any) -> None:
        if launch not in LAUNCHES:
            raise WorkflowDefinitionException(f"launch: {launch!r} is not sbatch or srun")
        self.launch = launch
        #: srun options per service, checked before StreamFlow reads any template file.
        self._srun_options = (
            {
                name: srun_options(name, settings)
                for name, settings in (kwargs.get("services") or {}).items()
            }
            if launch == "srun"
            else {}
        )
        super().__init__(*args, **kwargs)
        self._srun_jobs: dict[str, ExecutionLocation] = {}

    @classmethod
    def get_schema(cls) -> str:
        return sfq_slurm_schema()

    async def ping(self, location: ExecutionLocation) -> None:
        """Raise `ControllerUnreachable` unless ``scontrol ping`` reports the controller UP."""
        try:
            result = await super().run(
                location=location,
                command=["scontrol", "ping"],
                capture_output=True,
                timeout=PING_TIMEOUT,
            )
        except asyncio.TimeoutError:  # the builtin TimeoutError from 3.11 on
            raise ControllerUnreachable(
                f"`scontrol ping` gave no answer in {PING_TIMEOUT} s"
            ) from None
        output, returncode = result if result is not None else ("", 1)
        if returncode != 0 or " is UP" not in output:
            raise ControllerUnreachable((output.strip().splitlines() or ["no output"])[0])

    async def run(
        self,
        location: ExecutionLocation,
        command: MutableSequence[str],
        environment: MutableMapping[str, str] | None = None,
        workdir: str | None = None,
        stdin: int | str | None = None,
        stdout: int | str = asyncio.subprocess.STDOUT,
        stderr: int | str = asyncio.subprocess.STDOUT,
        capture_output: bool = False,
        timeout: int | None = None,
        job_name: str | None = None,
    ) -> tuple[str, int] | None:
        if job_name:  # a Slurm job, rather than a plain command on the submitting host
            await self.ping(location)
        arguments = {
            "location": location,
            "command": command,
            "environment": environment,
            "workdir": workdir,
            "stdin": stdin,
            "stdout": stdout,
            "stderr": stderr,
            "timeout": timeout,
        }
        if not job_name:
            return await super().run(capture_output=capture_output, **arguments)
        if self.launch == "srun":
            job = self._srun(job_name=job_name, **arguments)
        else:
            job = super().run(capture_output=capture_output, job_name=job_name, **arguments)
        # While the job is queued or running, StreamFlow polls squeue (which takes ~18 s
        # to fail once the controller is gone) or srun waits; ping alongside instead.
        period = PING_PERIOD if self.launch == "srun" else max(self.pollingInterval, PING_PERIOD)
        task = asyncio.create_task(job)
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=period)
                if not task.done():
                    await self.ping(location)
            return task.result()
        finally:
            task.cancel()

    async def _srun(
        self,
        location: ExecutionLocation,
        command: MutableSequence[str],
        environment: MutableMapping[str, str] | None,
        workdir: str | None,
        stdin: int | str | None,
        stdout: int | str,
        stderr: int | str,
        timeout: int | None,
        job_name: str,
    ) -> tuple[str, int] | None:
        """Run a step as an ``srun`` job on the submitting host and wait for it to end.

        The script is the one ``sbatch`` would get (StreamFlow's command and template),
        with its redirections in the script, relative to ``workdir``, as StreamFlow's
        local connector writes them.
        """
        script = self.template_map.get_command(
            command=utils.create_command(
                self.__class__.__name__, command, environment, workdir, stdin, stdout, stderr
            ),
            template=location.service,
            environment=environment,
            workdir=workdir,
        )
        token = new_token()
        srun = srun_command(
            script=script,
            token=token,
            job_name=job_name,
            options=self._srun_options.get(location.service or "") or srun_options("default", {}),
            environment=location.environment,
            workdir=workdir,
            timeout=timeout,
        )
        logger.info(f"Launching job {job_name} with srun ({token})")
        self._srun_jobs[token] = location
        try:
            result = await super().run(location=location, command=srun, capture_output=True)
        except BaseException:
            await asyncio.shield(self._cancel_srun(token))
            raise
        self._srun_jobs.pop(token, None)
        return result

    async def _cancel_srun(self, token: str) -> None:
        location = self._srun_jobs.pop(token, None)
        if location is not None:
            await super().run(location=location, command=cancel_command(token))

    async def _get_output(self, job_id: str, location: ExecutionLocation) -> str:
        # Reached when the job left squeue's output, which is also what an unreachable
        # controller looks like: squeue's error message lists no job.
        await self.ping(location)
        return await super()._get_output(job_id, location)

    async def undeploy(self, external: bool) -> None:
        await asyncio.gather(*(self._cancel_srun(token) for token in list(self._srun_jobs)))
        if self._scheduled_jobs:
            location = next(iter(self._scheduled_jobs.values()))
            try:
                await self.ping(location)
            except ControllerUnreachable as err:
                # scancel would only retry for ~10 s and fail: the jobs are the
                # controller's to clean up when it comes back.
                logger.warning(f"Not cancelling Slurm jobs {list(self._scheduled_jobs)}: {err}")
                self._scheduled_jobs = {}
        await super().undeploy(external)


class FailFastFailureManager(DummyFailureManager):
    """No recovery, and a failed job ends the whole workflow, loops included."""

    @classmethod
    def get_schema(cls) -> str:
        return json.dumps(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "https://streamflow-quantum/schemas/failfast_failure_manager.json",
                "type": "object",
                "properties": {},
                "additionalProperties": False,
            }
        )

    async def recover(self, job: Job, step: Step, exception: BaseException) -> None:
        logger.error(f"FAILED Job {job.name}: cancelling the rest of the workflow")
        await step.terminate(Status.FAILED)
        await asyncio.gather(
            *(
                other.terminate(Status.CANCELLED)
                for other in step.workflow.steps.values()
                if not other.terminated
            )
        )
        raise exception
