"""`sfq prov WORKFLOW [streamflow prov options]`: StreamFlow's RO-Crate, with the quantum jobs.

Runs `streamflow prov` (same arguments: ``--outdir``, ``--name``, ``-f``, ``--all``), then
opens the crate and, for every quantum step output in it (a file holding ``{"results":
[...]}`` as `sfq sample` writes it), adds one ``CreateAction`` per program: its
``instrument`` is the backend, its ``result`` the file, and its ``additionalProperty``
values give the backend, backend job id(s), batch id(s), physical qubits, shots and the
calibration timestamp of the Target it was compiled for. The file lists the same
values, so a reader starting from either finds them. A calibration that is not known
(an ideal simulator, or a backend that does not report it) is ``null`` with the reason
in ``description``. Only result records are read: nothing of the environment (tokens,
the broker's secret) enters the crate from here.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

METADATA = "ro-crate-metadata.json"


class ProvError(RuntimeError):
    """`streamflow prov` failed, or its crate is not what we expect."""


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat()


@functools.cache
def device_calibration(backend: str) -> tuple[str | None, str | None]:
    """(timestamp, None) of the Target ``backend`` compiles for, or (None, why not).

    Fake devices carry the calibration snapshot they were built from; an ideal
    simulator has none; other backends must report it in their result records.
    """
    device = backend.partition(":")[2]
    if not device:
        return None, f"{backend} is an ideal simulator: its Target has no calibration"
    if device.startswith("fake_"):
        from streamflow_quantum.backends.registry import fake_device

        fake = fake_device(device, backend)
        properties = fake.properties() if callable(getattr(fake, "properties", None)) else None
        date = getattr(properties, "last_update_date", None)
        if date is not None:
            return (date.isoformat() if hasattr(date, "isoformat") else str(date)), None
        return None, f"{backend}: the fake device carries no calibration date"
    return None, f"backend {backend} did not report when its Target was calibrated"


def calibration_of(record: dict[str, Any]) -> tuple[str | None, str | None]:
    """The record's own calibration timestamp, else what its backend's name tells."""
    if record.get("calibration"):
        return str(record["calibration"]), None
    return device_calibration(str(record.get("backend")))


def _values(pid: str, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The PropertyValue entities of one program's result."""
    calibration, reason = calibration_of(record)
    jobs = record.get("jobs") or [record.get("job")]
    batches = record.get("batches") or [record.get("batch")]
    values: list[tuple[str, str, Any]] = [
        ("backend", "QPU backend", record.get("backend")),
        ("backendJob", "backend job ids", jobs),
        ("batch", "broker batch ids", batches),
        ("physicalQubits", "physical qubits the program ran on", record.get("placement", [])),
        ("shots", "shots", record.get("shots")),
        ("calibration", "calibration timestamp of the Target it was compiled for", calibration),
    ]
    if record.get("device_s") is not None:
        values.append(("deviceTime", "modelled device time of its batch, s", record["device_s"]))
    entities = []
    for key, name, value in values:
        entity: dict[str, Any] = {
            "@id": f"#sfq-{pid}-{key}",
            "@type": "PropertyValue",
            "propertyID": key,
            "name": name,
            "value": value,
        }
        if key == "calibration" and value is None:
            entity["description"] = reason
        entities.append(entity)
    return entities


def annotate(metadata: dict[str, Any], read: Any) -> int:
    """Add the quantum jobs to ``metadata`` in place; ``read(file_id)`` gives a file's bytes
    (None if not in the crate). Returns how many programs were added."""
    graph: list[dict[str, Any]] = metadata["@graph"]
    by_id = {entity["@id"]: entity for entity in graph}
    root = by_id.get("./")
    if root is None:
        raise ProvError("the crate has no root dataset './'")
    added: list[dict[str, Any]] = []
    programs = 0
    for entity in list(graph):
        types = entity.get("@type")
        if "File" not in (types if isinstance(types, list) else [types]):
            continue
        data = read(entity["@id"])
        if data is None:
            continue
        results = _results_of(data)
        for i, record in enumerate(results):
            pid = str(record.get("id") or f"{entity['@id']}-{i}")
            backend = str(record.get("backend"))
            backend_id = f"#sfq-backend-{backend}"
            if backend_id not in by_id:
                by_id[backend_id] = {
                    "@id": backend_id,
                    "@type": "SoftwareApplication",
                    "name": backend,
                    "description": "QPU backend (streamflow-quantum broker)",
                }
                added.append(by_id[backend_id])
            values = _values(pid, record)
            added += values
            refs = [{"@id": v["@id"]} for v in values]
            action = {
                "@id": f"#sfq-{pid}",
                "@type": "CreateAction",
                "name": f"QPU run of {record.get('circuit')}",
                "instrument": {"@id": backend_id},
                "result": {"@id": entity["@id"]},
                "additionalProperty": refs,
            }
            times = record.get("times") or {}
            if (start := _iso(times.get("started"))) is not None:
                action["startTime"] = start
            if (end := _iso(times.get("finished"))) is not None:
                action["endTime"] = end
            if "error" in record:
                action["actionStatus"] = "FailedActionStatus"
                action["error"] = str(record["error"])
            else:
                action["actionStatus"] = "CompletedActionStatus"
            added.append(action)
            entity["additionalProperty"] = _as_list(entity.get("additionalProperty")) + refs
            root["mentions"] = _as_list(root.get("mentions")) + [{"@id": action["@id"]}]
            programs += 1
    graph += added
    return programs


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


def _results_of(data: bytes) -> list[dict[str, Any]]:
    try:
        document = json.loads(data)
    except ValueError:  # not JSON: not a quantum step's output
        return []
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list):
        return []
    return [r for r in results if isinstance(r, dict) and "batch" in r and "circuit" in r]


def annotate_crate(crate: Path) -> int:
    """Rewrite the crate (a .zip or a directory) with its quantum jobs; how many programs."""
    if crate.is_dir():
        metadata = json.loads((crate / METADATA).read_text())

        def read_dir(name: str) -> bytes | None:
            path = crate / name
            return path.read_bytes() if name != METADATA and path.is_file() else None

        count = annotate(metadata, read_dir)
        (crate / METADATA).write_text(json.dumps(metadata, indent=4))
        return count
    with zipfile.ZipFile(crate) as archive:
        members = {info.filename: (info, archive.read(info)) for info in archive.infolist()}
    if METADATA not in members:
        raise ProvError(f"{crate} holds no {METADATA}")
    metadata = json.loads(members[METADATA][1])

    def read_zip(name: str) -> bytes | None:
        found = members.get(name)
        return found[1] if found is not None and name != METADATA else None

    count = annotate(metadata, read_zip)
    partial = crate.with_name(crate.name + ".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (info, data) in members.items():
            new = json.dumps(metadata, indent=4).encode() if name == METADATA else data
            archive.writestr(info, new)
    os.replace(partial, crate)
    return count


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sfq prov",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("workflow", metavar="WORKFLOW", help="the run's name (streamflow list)")
    parser.add_argument("--outdir", default=".", help="where the crate goes (default: here)")
    parser.add_argument("--name", help="the crate's file name (default: WORKFLOW.crate.zip)")
    parser.add_argument("--file", "-f", help="streamflow.yml of the run (its database)")
    parser.add_argument("--all", "-a", action="store_true", help="every run of WORKFLOW")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    name = args.name or f"{args.workflow}.crate.zip"
    command = [sys.executable, "-m", "streamflow", "prov", args.workflow]
    command += ["--outdir", os.path.abspath(args.outdir), "--name", name]
    command += ["--file", args.file] if args.file else []
    command += ["--all"] if args.all else []
    os.makedirs(args.outdir, exist_ok=True)
    done = subprocess.run(command, check=False)
    crate = Path(args.outdir, name)
    if done.returncode != 0 or not crate.exists():
        print(f"sfq prov: streamflow prov failed (exit {done.returncode})", file=sys.stderr)
        return done.returncode or 1
    try:
        count = annotate_crate(crate)
    except (ProvError, OSError, ValueError, zipfile.BadZipFile) as e:
        print(f"sfq prov: {crate}: {e}", file=sys.stderr)
        return 1
    print(f"sfq prov: {count} quantum programs linked to their backend jobs in {crate}")
    return 0
