"""The ``sfq-slurm`` deployment's schema: StreamFlow's Slurm schema, polling in fractions
of a second, and ``launch`` (sbatch or srun, :mod:`.launch`).

StreamFlow declares ``pollingInterval`` an integer, so a step's end is noticed half a
second late on average, at every step of every round. Its connector sleeps
``pollingInterval`` seconds with ``asyncio.sleep``, which takes any number, so this
schema is StreamFlow's own (``slurm.json`` and the ``base/queue_manager.json`` it
refers to) with that one property declared again as a positive number. Both are read
from the installed StreamFlow, so every other setting keeps StreamFlow's declaration.
"""

from __future__ import annotations

import json
import urllib.parse
from importlib.resources import files
from typing import Any

from streamflow_quantum.cluster.launch import LAUNCHES

SCHEMA_ID = "https://streamflow-quantum/schemas/deployment/sfq_slurm.json"
BASE_ID = "https://streamflow-quantum/schemas/deployment/sfq_queue_manager.json"
POLLING_INTERVAL = {
    "type": "number",
    "exclusiveMinimum": 0,
    "title": "Polling interval",
    "description": "Seconds between consecutive termination checks (fractions allowed)",
    "default": 5,
}


LAUNCH = {
    "type": "string",
    "enum": list(LAUNCHES),
    "title": "Launch",
    "description": (
        "How each step becomes a Slurm job: sbatch (StreamFlow's way) waits for the "
        "controller's next scheduling pass, up to 1 s; srun is allocated at submission and "
        "its end is seen at once, for steps of one task on one node, tied to this host"
    ),
    "default": LAUNCHES[0],
}


def _streamflow_schema(*path: str) -> dict[str, Any]:
    resource = files("streamflow.deployment.connector").joinpath("schemas")
    for part in path:
        resource = resource.joinpath(part)
    return json.loads(resource.read_text("utf-8"))


def _absolute_refs(node: Any, base: str) -> Any:
    """``node`` with every ``$ref`` to another document made absolute against ``base``,
    so that the schema can move to another ``$id``."""
    if isinstance(node, dict):
        return {
            key: (
                urllib.parse.urljoin(base, value)
                if key == "$ref" and not value.startswith("#")
                else _absolute_refs(value, base)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_absolute_refs(value, base) for value in node]
    return node


def sfq_slurm_schema() -> str:
    base = _streamflow_schema("base", "queue_manager.json")
    base = _absolute_refs(base, base["$id"]) | {"$id": BASE_ID}
    base["properties"] = base["properties"] | {
        "pollingInterval": POLLING_INTERVAL,
        "launch": LAUNCH,
    }
    slurm = _streamflow_schema("slurm.json")
    slurm = _absolute_refs(slurm, slurm["$id"]) | {"$id": SCHEMA_ID, "$ref": BASE_ID}
    slurm["$defs"] = slurm["$defs"] | {"queueManager": base}
    return json.dumps(slurm)
