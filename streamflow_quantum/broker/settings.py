"""The broker's settings: ``core/schemas/broker.json`` with each extension's own options.

Every registered backend kind whose class declares options adds a property of its
name (``ibm``), and ``packingOptions`` is checked against the schema of the policy
that ``packing`` names, the way StreamFlow's connectors bring their own schemas.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from streamflow_quantum.backends.registry import BACKENDS
from streamflow_quantum.core.config import Schema, Settings, load_schema
from streamflow_quantum.packing.registry import POLICIES


@functools.cache
def broker_schema() -> Schema:
    schema = load_schema("streamflow_quantum.core", "broker.json")
    properties = schema["properties"]
    for kind, cls in BACKENDS.classes().items():
        if (options := cls.options_schema()) is not None:
            properties[kind] = options
    properties["packing"]["enum"] = POLICIES.names()
    schema["allOf"] = [
        {
            "if": {"properties": {"packing": {"const": name}}, "required": ["packing"]},
            "then": {"properties": {"packingOptions": options}},
        }
        for name, cls in POLICIES.classes().items()
        if (options := cls.options_schema()) is not None
    ]
    return schema


def broker_settings(values: Mapping[str, Any] | None = None) -> Settings:
    """Validated broker settings, defaults filled in."""
    return Settings(broker_schema(), values)
