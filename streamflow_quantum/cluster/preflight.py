"""Deployment type ``sfq-slurm``: StreamFlow's Slurm connector that first checks the controller.

With no slurmctld listening, StreamFlow 0.2.0rc3's own ``slurm`` deployment deploys
fine, every ``sbatch`` then fails after Slurm's ~10 s connect retries, and a workflow
whose failed step feeds a CWL loop never exits (see the README's known issues). This
connector runs ``scontrol ping`` when it deploys, which answers at once, and fails the
deployment with one line saying what to do.
"""

from __future__ import annotations

from streamflow.core.exception import WorkflowExecutionException
from streamflow.deployment.connector.queue_manager import SlurmConnector

#: Seconds ``scontrol ping`` may take: it answers at once when slurm.conf is readable
#: (a refused connection is reported as DOWN), but retries for a minute when it is not.
PING_TIMEOUT = 10
ADVICE = "run sfq cluster up"


def unreachable(reason: str) -> WorkflowExecutionException:
    return WorkflowExecutionException(f"Slurm controller unreachable ({reason}): {ADVICE}")


class SfqSlurmConnector(SlurmConnector):
    """A ``slurm`` deployment that refuses to deploy while the controller is down."""

    async def deploy(self, external: bool) -> None:
        await super().deploy(external)
        await self.ping()

    async def ping(self) -> None:
        """Raise `unreachable` unless ``scontrol ping`` reports the controller UP."""
        locations = await self.connector.get_available_locations(service=self.service)
        location = next(iter(locations.values())).location
        try:
            result = await self.connector.run(
                location=location,
                command=["scontrol", "ping"],
                capture_output=True,
                timeout=PING_TIMEOUT,
            )
        except TimeoutError:
            raise unreachable(f"`scontrol ping` gave no answer in {PING_TIMEOUT} s") from None
        output, returncode = result if result is not None else ("", 1)
        first = (output.strip().splitlines() or ["no output"])[0]
        if returncode != 0 or " is UP" not in output:
            raise unreachable(first)
