"""The qpu deployment's configuration: schema validation and the README reference."""

from __future__ import annotations

import json
import re

import pytest
from streamflow.config.validator import SfValidator
from streamflow.core.exception import WorkflowDefinitionException
from streamflow.ext.utils import load_extensions

from streamflow_quantum.broker.factory import build_broker
from streamflow_quantum.connector.qpu import QPUConnector
from streamflow_quantum.core.config import kebab
from streamflow_quantum.core.limits import Limits, limits_from
from tests.conftest import run_tool

load_extensions()


def _config(qpu: dict) -> dict:
    return {
        "version": "v1.0",
        "workflows": {"w": {"type": "cwl", "config": {"file": "main.cwl"}, "bindings": []}},
        "deployments": {"qpu": {"type": "qpu", "config": qpu}},
    }


def test_a_good_config_validates() -> None:
    SfValidator().validate(
        _config(
            {
                "backend": "aer:fake_brisbane",
                "noise": False,
                "vqpus": 4,
                "packing": "noise-aware",
                "batchWindow": 0.5,
                "ibm": {"mode": "session"},
                "shots": 2000,
            }
        )
    )


@pytest.mark.parametrize(
    ("qpu", "message"),
    [
        ({"vqpus": 0}, "0 is less than the minimum of 1"),
        (
            {"packing": "fast"},
            "'fast' is not one of ['serial', 'space', 'space-time', 'noise-aware', 'fit']",
        ),
        ({"backend": "aer fake"}, "'aer fake' does not match"),
        (
            {"packing": "space", "packingOptions": {"reuseLimit": -1}},
            "-1 is less than the minimum of 0",
        ),
        ({"packing": "space", "packingOptions": {"reuse": 1}}, "('reuse' was unexpected)"),
        ({"shots": "many"}, "'many' is not of type 'integer'"),
        ({"ibm": {"mode": "forever"}}, "'forever' is not one of ['job', 'batch', 'session']"),
        (
            {"ibm": {"token": "abc"}},
            "Additional properties are not allowed ('token' was unexpected)",
        ),
        ({"brokr": "http://x"}, "Additional properties are not allowed ('brokr' was unexpected)"),
        ({"broker": "localhost:8765"}, "'localhost:8765' does not match"),
    ],
)
def test_bad_configs_are_rejected(qpu: dict, message: str) -> None:
    with pytest.raises(WorkflowDefinitionException) as error:
        SfValidator().validate(_config(qpu))
    assert message in str(error.value)


def test_unknown_device_lists_the_valid_ones() -> None:
    with pytest.raises(
        WorkflowDefinitionException,
        match=r"unknown fake device 'fake_nope'.*fake_brisbane.*fake_torino",
    ):
        QPUConnector("qpu", "/tmp", backend="aer:fake_nope")


def test_unknown_backend_kind_lists_the_registered_ones() -> None:
    with pytest.raises(
        WorkflowDefinitionException, match=r"unknown backend 'qpu'; use one of: aer, ibm"
    ):
        QPUConnector("qpu", "/tmp", backend="qpu")


def test_ibm_options_need_an_ibm_backend() -> None:
    with pytest.raises(
        WorkflowDefinitionException, match="'ibm' options are for 'ibm:' backends, not 'aer'"
    ):
        QPUConnector("qpu", "/tmp", backend="aer", ibm={"mode": "batch"})


def test_policy_options_reach_the_policy() -> None:
    connector = QPUConnector(
        "qpu",
        "/tmp",
        backend="aer:fake_manila",
        packing="space-time",
        packingOptions={"reuseLimit": 1},
    )
    broker = build_broker(connector.broker_settings)
    assert (broker.policy.name, broker.policy.reuse_limit) == ("space-time", 1)


def test_readme_reference_matches_the_schema(repo) -> None:
    schema = json.loads(QPUConnector.get_schema())
    readme = (repo / "README.md").read_text()
    section = readme.split("## The `qpu` deployment", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([\w.]+)` \| [^|]+ \| ([^|]+) \|", section, re.MULTILINE))
    expected = {}
    for key, spec in schema["properties"].items():
        for name, sub in (
            [(f"{key}.{k}", v) for k, v in spec["properties"].items()]
            if "properties" in spec  # a backend kind's own options block (ibm, aer)
            else [(key, spec)]
        ):
            expected[name] = f"`{json.dumps(sub['default'])}`" if "default" in sub else "—"
    assert {k: v.strip() for k, v in rows.items()} == expected


def test_limit_defaults_are_the_schemas() -> None:
    """Limits keeps defaults for code that reads circuits without a broker; they must be the schema's."""
    schema = json.loads(QPUConnector.get_schema())
    defaults = {
        key: spec["default"] for key, spec in schema["properties"].items() if "default" in spec
    }
    assert limits_from(defaults) == Limits()
    assert limits_from({"maxQubits": 7}).max_qubits == 7


def test_sfq_serve_takes_every_broker_setting_of_the_qpu_deployment() -> None:
    """One declaration per setting: each key of the qpu schema is a flag of `sfq serve`,
    except the deployment's own (vqpus, broker, stateDir, transferBufferSize)."""
    done = run_tool("sfq", "serve", "--help", timeout=60)
    assert done.returncode == 0, done.stderr
    flags = set(re.findall(r"--([a-z][a-z0-9-]*)", done.stdout))
    schema = json.loads(QPUConnector.get_schema())
    expected = set()
    for key, spec in schema["properties"].items():
        if key in {"vqpus", "broker", "stateDir", "transferBufferSize"}:
            continue
        if spec.get("type") == "object" and "properties" in spec:
            expected |= {f"{kebab(key)}-{kebab(sub)}" for sub in spec["properties"]}
        else:
            expected.add(kebab(key))
    assert expected <= flags, sorted(expected - flags)
    serve_only = {
        "help",
        "host",
        "port",
        "secret-file",
        "state-dir",
        "tls-cert",
        "tls-key",
        "users",
    }
    assert flags - expected - {"no-noise", "log-level"} <= serve_only, flags - expected
