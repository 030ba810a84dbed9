"""Queue policies by name.

A new policy is one module with a class that has the :class:`QueuePolicy` face, plus
one line: here for a built-in, or an entry point in the group
``streamflow_quantum.queueing`` of the package that ships it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from streamflow_quantum.core.registry import Registry

if TYPE_CHECKING:
    from streamflow_quantum.queueing.base import QueuePolicy

QUEUES: Registry[QueuePolicy] = Registry(
    "queue policy",
    "streamflow_quantum.queueing",
    {
        "fifo": "streamflow_quantum.queueing.fifo:FifoPolicy",
        "priority": "streamflow_quantum.queueing.priority:PriorityPolicy",
        "fair-share": "streamflow_quantum.queueing.fair_share:FairSharePolicy",
        "lifo": "streamflow_quantum.queueing.lifo:LifoPolicy",
        "random": "streamflow_quantum.queueing.random_order:RandomPolicy",
    },
)


def make_queue_policy(name: str, options: Mapping[str, Any] | None = None) -> QueuePolicy:
    """The queue policy ``name``, its ``options`` checked against its schema."""
    return QUEUES.get(name).from_options(**QUEUES.options(name, options))
