"""The HyperQ packer: qVMs on any device, packed in space and time into composite circuits.

See docs/packer.md. The broker maps ``serial`` to its own policy and calls
:func:`make_policy` for the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit.transpiler import Target

    from streamflow_quantum.packing.hyperq.policy import HyperQPolicy

POLICIES = ("space", "space-time", "noise-aware")


def make_policy(name: str, target: Target, **options: Any) -> HyperQPolicy:
    """A packing policy for ``target``; options: reuse_limit, isolate_above, low_quality."""
    from streamflow_quantum.packing.hyperq.policy import (
        NoiseAwarePolicy,
        SpacePolicy,
        SpaceTimePolicy,
    )

    classes = {"space": SpacePolicy, "space-time": SpaceTimePolicy, "noise-aware": NoiseAwarePolicy}
    if name not in classes:
        raise ValueError(f"unknown packing policy {name!r}; use one of: {', '.join(POLICIES)}")
    return classes[name](target, **options)
