"""Deployment type ``qpu``: quantum steps run locally and sample through a vQPU broker.

The connector admits at most ``vqpus`` concurrent steps (its location's slots) and
runs each step's command on this machine with ``SFQ_BROKER`` (and the broker's secret)
in its environment. The broker is embedded in the ``streamflow run`` process, bound to
127.0.0.1 on a free port, unless ``broker`` names a shared one started by ``sfq serve``.

With ``stateDir``, the embedded broker journals what it accepts and returns there, and
each step runs with ``SFQ_STEP`` (the deployment and the job's name, which StreamFlow
keeps from run to run): the step's client derives its keys from it, so the same step
in a later run gets the programs it submitted before, run or still queued.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import MutableMapping, MutableSequence
from pathlib import Path
from typing import Any

from streamflow.core.deployment import ExecutionLocation
from streamflow.core.exception import WorkflowDefinitionException, WorkflowExecutionException
from streamflow.core.scheduling import AvailableLocation
from streamflow.deployment.connector.local import LocalConnector
from streamflow.log_handler import logger

from streamflow_quantum.backends.registry import BACKENDS, check_spec
from streamflow_quantum.broker import protocol
from streamflow_quantum.broker.factory import build_broker
from streamflow_quantum.broker.journal import Journal, JournalError
from streamflow_quantum.broker.server import BrokerServer
from streamflow_quantum.broker.settings import broker_schema
from streamflow_quantum.core.config import Schema, Settings, load_schema
from streamflow_quantum.core.errors import ConfigError, one_line


def qpu_schema() -> Schema:
    """qpu.json's own keys (the deployment's) with every broker setting beside them."""
    schema = load_schema(__package__ or "", "qpu.json")
    broker = broker_schema()
    schema["properties"] = {**broker["properties"], **schema["properties"]}
    schema["allOf"] = broker["allOf"]
    return schema


def _probe(url: str, secret: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url.rstrip("/") + protocol.API + "/info",
        headers={protocol.SECRET_HEADER: protocol.bearer(secret)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


class QPUConnector(LocalConnector):
    def __init__(self, deployment_name: str, config_dir: str, **config: Any) -> None:
        try:
            self.config = Settings(qpu_schema(), config)
            check_spec(self.config["backend"])
        except ConfigError as e:
            raise WorkflowDefinitionException(f"deployment {deployment_name}: {e}") from None
        super().__init__(deployment_name, config_dir, self.config["transferBufferSize"])
        kind = self.config["backend"].partition(":")[0]
        if stray := sorted(self.config.keys() & set(BACKENDS.names()) - {kind}):
            raise WorkflowDefinitionException(
                f"deployment {deployment_name}: '{stray[0]}' options are for '{stray[0]}:' backends, "
                f"not {self.config['backend']!r}"
            )
        self.vqpus: int = self.config["vqpus"]
        self.broker_url: str | None = self.config.get("broker")
        state = self.config.get("stateDir")
        if state and self.broker_url:
            raise WorkflowDefinitionException(
                f"deployment {deployment_name}: 'stateDir' keeps an embedded broker's journal; "
                "a shared broker ('broker') keeps its own (sfq serve --state-dir)"
            )
        self.state_dir = Path(config_dir, state) if state else None
        self._secret = (
            os.environ.get(protocol.ENV_SECRET, "")
            if self.broker_url
            else secrets.token_urlsafe(32)
        )
        self._server: BrokerServer | None = None
        self._journal: Journal | None = None

    @property
    def broker_settings(self) -> dict[str, Any]:
        """The embedded broker's settings: the config less the deployment's own keys."""
        keys = broker_schema()["properties"]
        return {key: value for key, value in self.config.items() if key in keys}

    async def deploy(self, external: bool) -> None:
        await super().deploy(external)
        if self.broker_url:
            try:
                info = await asyncio.to_thread(_probe, self.broker_url, self._secret)
            except urllib.error.HTTPError as e:
                raise WorkflowExecutionException(
                    f"deployment {self.deployment_name}: broker {self.broker_url} refused us ({e.code}); "
                    f"export the broker's secret in {protocol.ENV_SECRET}"
                ) from None
            except (urllib.error.URLError, OSError) as e:
                raise WorkflowExecutionException(
                    f"deployment {self.deployment_name}: cannot reach broker {self.broker_url} "
                    f"({getattr(e, 'reason', e)}); start it with `sfq serve` or fix 'broker'"
                ) from None
            logger.info(
                f"Deployment {self.deployment_name} uses the shared broker at {self.broker_url}: {info}"
            )
            return
        try:
            journal = Journal.open(self.state_dir) if self.state_dir is not None else None
        except JournalError as e:
            raise WorkflowExecutionException(f"deployment {self.deployment_name}: {e}") from None
        try:
            broker = await asyncio.to_thread(build_broker, self.broker_settings, None, journal)
        except Exception as e:  # whatever the backend raises, the run stops with its reason
            if journal is not None:
                journal.close()
            raise WorkflowExecutionException(
                f"deployment {self.deployment_name}: cannot open backend {self.config['backend']}: {one_line(e)}"
            ) from e
        self._journal = journal
        self._server = BrokerServer(broker, self._secret)
        self.broker_url = await self._server.start()
        logger.info(
            f"Deployment {self.deployment_name}: vQPU broker for {broker.backend.name} "
            f"({broker.policy.name}, {self.vqpus} vQPUs) at {self.broker_url}"
        )

    async def undeploy(self, external: bool) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        await super().undeploy(external)

    async def get_available_locations(
        self, service: str | None = None
    ) -> MutableMapping[str, AvailableLocation]:
        # No hardware: the scheduler then admits exactly `slots` jobs at a time.
        return {
            "qpu": AvailableLocation(
                name="qpu",
                deployment=self.deployment_name,
                service=service,
                hostname="localhost",
                local=True,
                slots=self.vqpus,
            )
        }

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
        # The secret travels in the process environment, not in the logged command line;
        # this interpreter's scripts (`sfq`) come first on PATH, venv activated or not.
        with_broker = ExecutionLocation(
            name=location.name,
            deployment=location.deployment,
            environment={
                **location.environment,
                protocol.ENV_URL: self.broker_url or "",
                protocol.ENV_SECRET: self._secret,
                **(
                    {protocol.ENV_STEP: f"{self.deployment_name}{job_name}"}
                    if self.state_dir is not None and job_name
                    else {}
                ),
                "PATH": os.pathsep.join(
                    (os.path.dirname(sys.executable), os.environ.get("PATH", ""))
                ),
            },
            hostname=location.hostname,
            local=location.local,
            mounts=location.mounts,
            service=location.service,
            stacked=location.stacked,
            wraps=location.wraps,
        )
        return await super().run(
            with_broker,
            command,
            environment,
            workdir,
            stdin,
            stdout,
            stderr,
            capture_output,
            timeout,
            job_name,
        )

    @classmethod
    def get_schema(cls) -> str:
        return json.dumps(qpu_schema())
