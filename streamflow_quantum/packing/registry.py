"""Packing policies by name.

A new policy is one module with a class that has the :class:`PackingPolicy` face,
plus one line: here for a built-in, or an entry point in the group
``streamflow_quantum.packing`` of the package that ships it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from streamflow_quantum.core.registry import Registry

if TYPE_CHECKING:
    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.packing.base import PackingPolicy

POLICIES: Registry[PackingPolicy] = Registry(
    "packing policy",
    "streamflow_quantum.packing",
    {
        "serial": "streamflow_quantum.packing.serial:SerialPolicy",
        "space": "streamflow_quantum.packing.hyperq.policy:SpacePolicy",
        "space-time": "streamflow_quantum.packing.hyperq.policy:SpaceTimePolicy",
        "noise-aware": "streamflow_quantum.packing.hyperq.policy:NoiseAwarePolicy",
        "fit": "streamflow_quantum.packing.fit.policy:FitPolicy",
    },
)


def policy_options(name: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The policy's keyword arguments: ``options`` checked against its schema, defaults filled."""
    return POLICIES.options(name, options)


def make_policy(
    name: str, backend: Backend, options: Mapping[str, Any] | None = None
) -> PackingPolicy:
    """The policy ``name`` for ``backend``."""
    return POLICIES.get(name).from_backend(backend, **policy_options(name, options))
