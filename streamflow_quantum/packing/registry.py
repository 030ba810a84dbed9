"""Packing policies by name: ``serial`` here, the HyperQ ones from the packer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streamflow_quantum.packing import hyperq as packer
from streamflow_quantum.packing.serial import SerialPolicy

if TYPE_CHECKING:
    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.packing.base import PackingPolicy

POLICIES = ("serial", *packer.POLICIES)


def make_policy(name: str, backend: Backend) -> PackingPolicy:
    if name not in POLICIES:
        raise ValueError(f"unknown packing policy {name!r}; use one of: {', '.join(POLICIES)}")
    if name == "serial":
        return SerialPolicy(backend)
    return packer.make_policy(name, backend.target)
