"""The broker's settings: ``core/schemas/broker.json`` with each extension's own options.

Every registered backend kind whose class declares options adds a property of its
name (``ibm``), and ``packingOptions`` and ``queueOptions`` are checked against the
schema of the policy that ``packing`` and ``queue`` name, the way StreamFlow's
connectors bring their own schemas.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from streamflow_quantum.backends.registry import BACKENDS
from streamflow_quantum.core.config import Schema, Settings, load_schema
from streamflow_quantum.core.registry import Registry
from streamflow_quantum.packing.registry import POLICIES
from streamflow_quantum.queueing.registry import QUEUES


@functools.cache
def broker_schema() -> Schema:
    schema = load_schema("streamflow_quantum.core", "broker.json")
    properties = schema["properties"]
    for kind, cls in BACKENDS.classes().items():
        if (options := cls.options_schema()) is not None:
            properties[kind] = options
    properties["packing"]["enum"] = POLICIES.names()
    properties["queue"]["enum"] = QUEUES.names()
    schema["allOf"] = [*_options_by_name("packing", POLICIES), *_options_by_name("queue", QUEUES)]
    return schema


def _options_by_name(key: str, registry: Registry[Any]) -> list[Schema]:
    """Conditions that check ``<key>Options`` against the schema of the entry ``key`` names."""
    return [
        {
            "if": {"properties": {key: {"const": name}}, "required": [key]},
            "then": {"properties": {f"{key}Options": options}},
        }
        for name, cls in registry.classes().items()
        if (options := cls.options_schema()) is not None
    ]


def broker_settings(values: Mapping[str, Any] | None = None) -> Settings:
    """Validated broker settings, defaults filled in."""
    return Settings(broker_schema(), values)
