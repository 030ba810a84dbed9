"""Deployment type ``qpu``: quantum steps run locally and sample through a vQPU broker.

The connector admits at most ``vqpus`` concurrent steps (its location's slots) and
runs each step's command on this machine with ``SFQ_BROKER`` (and the broker's secret)
in its environment. The broker is embedded in the ``streamflow run`` process, bound to
127.0.0.1 on a free port, unless ``broker`` names a shared one started by ``sfq serve``.
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
from importlib.resources import files
from typing import Any

from streamflow.core.deployment import ExecutionLocation
from streamflow.core.exception import WorkflowDefinitionException, WorkflowExecutionException
from streamflow.core.scheduling import AvailableLocation
from streamflow.deployment.connector.local import LocalConnector
from streamflow.log_handler import logger

from streamflow_quantum.backends.registry import BackendSpecError, check_spec
from streamflow_quantum.broker import protocol
from streamflow_quantum.broker.factory import build_broker
from streamflow_quantum.broker.server import BrokerServer


def _probe(url: str, secret: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url.rstrip("/") + protocol.API + "/info",
        headers={protocol.SECRET_HEADER: protocol.bearer(secret)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


class QPUConnector(LocalConnector):
    def __init__(
        self,
        deployment_name: str,
        config_dir: str,
        backend: str = "aer",
        noise: bool = True,
        shots: int = 1024,
        vqpus: int = 1,
        packing: str = "space-time",
        batchWindow: float = 0.1,
        batchSize: int = 0,
        batchTimeout: float = 600.0,
        broker: str | None = None,
        ibm: MutableMapping[str, Any] | None = None,
        transferBufferSize: int = 2**16,
    ) -> None:
        super().__init__(deployment_name, config_dir, transferBufferSize)
        try:
            check_spec(backend)
        except BackendSpecError as e:
            raise WorkflowDefinitionException(f"deployment {deployment_name}: {e}") from None
        if ibm and not backend.startswith("ibm:"):
            raise WorkflowDefinitionException(
                f"deployment {deployment_name}: 'ibm' options need an 'ibm:<backend>' backend, not {backend!r}"
            )
        self.backend = backend
        self.noise = noise
        self.vqpus = vqpus
        self.packing = packing
        self.ibm = dict(ibm or {})
        self.broker_settings = {
            "default_shots": shots,
            "window": batchWindow,
            "batch_size": batchSize,
            "batch_timeout": batchTimeout,
        }
        self.broker_url = broker
        self._secret = (
            os.environ.get(protocol.ENV_SECRET, "") if broker else secrets.token_urlsafe(32)
        )
        self._server: BrokerServer | None = None

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
            broker = await asyncio.to_thread(
                build_broker,
                backend=self.backend,
                noise=self.noise,
                packing=self.packing,
                ibm=self.ibm,
                **self.broker_settings,
            )
        except Exception as e:
            raise WorkflowExecutionException(
                f"deployment {self.deployment_name}: cannot open backend {self.backend}: {e}"
            ) from e
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
        return files(__package__).joinpath("schemas").joinpath("qpu.json").read_text("utf-8")
