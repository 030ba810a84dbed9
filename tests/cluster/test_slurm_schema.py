"""The sfq-slurm schema: StreamFlow's Slurm settings, with a poll shorter than a second."""

from __future__ import annotations

from typing import Any

import pytest
from streamflow.config.validator import SfValidator
from streamflow.core.exception import WorkflowDefinitionException
from streamflow.ext.utils import load_extensions


@pytest.fixture(scope="module")
def validator() -> SfValidator:
    load_extensions()
    return SfValidator()


def config(**settings: Any) -> dict[str, Any]:
    services = {"compute": {"partition": "compute", "nodes": "1"}}
    return {
        "version": "v1.0",
        "deployments": {
            "slurm": {"type": "sfq-slurm", "config": {"services": services, **settings}}
        },
    }


@pytest.mark.parametrize("interval", [0.25, 1, 30])
def test_a_poll_may_be_a_fraction_of_a_second(validator: SfValidator, interval: float) -> None:
    validator.validate(config(pollingInterval=interval, maxConcurrentJobs=3))


@pytest.mark.parametrize(
    "settings",
    [
        {"pollingInterval": 0},
        {"pollingInterval": "soon"},
        {"maxConcurrentJobs": "three"},
        {"pollingIntervl": 1},
        {"services": {"compute": {"partition": 5}}},
    ],
)
def test_streamflows_own_checks_still_apply(validator: SfValidator, settings: dict) -> None:
    with pytest.raises(WorkflowDefinitionException, match="configuration is invalid"):
        validator.validate(config(**settings))


@pytest.mark.parametrize("launch", ["sbatch", "srun"])
def test_launch_is_sbatch_or_srun(validator: SfValidator, launch: str) -> None:
    validator.validate(config(launch=launch))
    with pytest.raises(WorkflowDefinitionException, match="configuration is invalid"):
        validator.validate(config(launch="fast"))
