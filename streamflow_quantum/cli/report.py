"""`sfq report RUN... [--output FILE]`: the QPU's view of a run, one bar per backend job.

RUN is what a user has after `streamflow run`: the output directory (``--outdir``), a
results JSON file, or the workflow's name. A name is looked up in StreamFlow's run
database (``--db``, else the ``database`` of ``-f streamflow.yml``, else StreamFlow's
default ``~/.streamflow/<version>/sqlite.db``), and the output files of every step of
its last run (``--all``: every run) are read where the steps wrote them: that includes
the quantum steps inside loops, whose files never reach the output directory.

Each results file is a quantum step's output (``{"results": [...]}``, as `sfq sample`
writes it). Each backend job (batch) is drawn as a bar from when it started to when its
programs finished, labelled with the steps it served, how many programs it held and its
modelled device time (duration of one shot x shots). ``--output`` ending in ``.png``
(matplotlib), ``.html`` (plotly) or ``.json`` (the figure's data).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

#: Results files larger than this are not quantum steps' outputs: not read.
MAX_RESULTS_BYTES = 50 * 2**20


class ReportError(RuntimeError):
    """The run or its quantum results cannot be found; the message says where we looked."""


# -- finding the quantum steps' outputs -----------------------------------------------


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The result records of a quantum step's output file; [] for any other file."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_RESULTS_BYTES:
            return []
        document = json.loads(path.read_bytes())
    except (OSError, ValueError):  # gone, unreadable, or not JSON: not a results file
        return []
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list):
        return []
    return [r for r in results if isinstance(r, dict) and "batch" in r and "circuit" in r]


def files_under(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every JSON file given, or under a directory given, in a stable order."""
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.json") if p.is_file())
        else:
            yield path


def default_database(config: str | None = None) -> Path:
    """Where StreamFlow keeps its runs: the config's ``database``, else its default."""
    if config is not None:
        import yaml

        with open(config, encoding="utf-8") as f:
            document = yaml.safe_load(f) or {}
        connection = (document.get("database") or {}).get("config", {}).get("connection")
        if connection:
            return Path(os.path.dirname(os.path.abspath(config)), connection)
    from streamflow.persistence.sqlite import DEFAULT_SQLITE_CONNECTION

    return Path(DEFAULT_SQLITE_CONNECTION)


def _file_paths(value: Any) -> Iterator[str]:
    """The paths of the CWL File objects in a token's value."""
    if isinstance(value, dict):
        if value.get("class") == "File" and isinstance(value.get("path"), str):
            yield value["path"]
        for item in value.values():
            yield from _file_paths(item)
    elif isinstance(value, list):
        for item in value:
            yield from _file_paths(item)


def step_outputs(workflow: str, database: Path, every_run: bool = False) -> list[str]:
    """The files that the steps of ``workflow``'s last run (or every run) produced."""
    if not database.is_file():
        raise ReportError(f"no StreamFlow database at {database} (give --db or -f)")
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        runs = [
            row[0]
            for row in db.execute(
                "SELECT id FROM workflow WHERE name = ? ORDER BY id DESC", (workflow,)
            )
        ]
        if not runs:
            raise ReportError(
                f"no workflow named {workflow!r} in {database} (`streamflow list` names them)"
            )
        runs = runs if every_run else runs[:1]
        rows = db.execute(
            "SELECT DISTINCT t.value FROM token t "
            "JOIN dependency d ON d.port = t.port AND d.type = 1 "
            "JOIN step s ON s.id = d.step "
            f"WHERE s.workflow IN ({','.join('?' * len(runs))}) AND s.type LIKE '%ExecuteStep' "
            "AND t.type LIKE '%FileToken'",
            runs,
        ).fetchall()
    paths: list[str] = []
    for (value,) in rows:
        try:
            paths += _file_paths(json.loads(value))
        except ValueError:  # a token StreamFlow stored otherwise: no file of ours
            continue
    return list(dict.fromkeys(paths))


def find_results(
    runs: Iterable[str], database: Path | None = None, every_run: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """(file, record) for every quantum result of ``runs``: paths, or workflow names."""
    found: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for run in runs:
        files: Iterable[str | Path]
        if os.path.exists(run):
            files = files_under([run])
        else:
            files = step_outputs(run, database or default_database(), every_run)
        for path in files:
            for record in read_results(path):
                key = str(record.get("id") or (str(path), record["circuit"]))
                if key not in seen:  # the same file copied to the output directory
                    seen.add(key)
                    found.append((os.path.abspath(path), record))
    return found


# -- the figure's data ------------------------------------------------------------------


def batch_bars(results: Iterable[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One entry per backend job (batch), in order of start: the figure's data.

    ``device_s`` is the batch's modelled device time (None where the records predate it);
    ``start``/``end`` are when it started and when its programs finished (epoch seconds).
    """
    bars: dict[str, dict[str, Any]] = {}
    for path, record in results:
        if "error" in record or not record.get("batch"):
            continue
        bar = bars.setdefault(
            record["batch"],
            {
                "batch": record["batch"],
                "job": record.get("job"),
                "backend": record.get("backend"),
                "start": None,
                "end": None,
                "programs": 0,
                "circuits": [],
                "steps": [],
                "shots": 0,
                "qubits": [],
                "device_s": record.get("device_s"),
            },
        )
        times = record.get("times") or {}
        if times.get("started") is not None:
            bar["start"] = min(filter(None, (bar["start"], times["started"])))
        if times.get("finished") is not None:
            bar["end"] = max(filter(None, (bar["end"], times["finished"])))
        bar["programs"] += 1
        bar["circuits"].append(record["circuit"])
        if path not in bar["steps"]:
            bar["steps"].append(path)
        bar["shots"] = max(bar["shots"], int(record.get("shots") or 0))
        bar["qubits"] = sorted({*bar["qubits"], *record.get("placement", [])})
    return sorted(bars.values(), key=lambda b: (b["start"] or 0, b["batch"]))


def _label(bar: dict[str, Any]) -> str:
    device = "?" if bar["device_s"] is None else f"{bar['device_s']:.3g} s"
    circuits = ", ".join(bar["circuits"][:4]) + (" ..." if len(bar["circuits"]) > 4 else "")
    return f"{bar['programs']} program{'' if bar['programs'] == 1 else 's'}, device {device}: {circuits}"


# -- drawing ------------------------------------------------------------------------------


def draw_png(bars: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    origin = min((b["start"] for b in bars if b["start"] is not None), default=0.0)
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.45 * len(bars)))
    try:
        for row, bar in enumerate(bars):
            start = (bar["start"] or origin) - origin
            width = max((bar["end"] or bar["start"] or origin) - origin - start, 1e-3)
            ax.barh(row, width, left=start, height=0.6, color="tab:blue", alpha=0.8)
            ax.text(start + width, row, "  " + _label(bar), va="center", fontsize=8)
        ax.set_yticks(range(len(bars)), [f"{b['batch']}\n{b['job']}" for b in bars], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("seconds since the first backend job started")
        backends = ", ".join(sorted({str(b["backend"]) for b in bars}))
        ax.set_title(
            f"{len(bars)} backend jobs on {backends}, {sum(b['programs'] for b in bars)} programs"
        )
        ax.margins(x=0.6)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)


def draw_html(bars: list[dict[str, Any]], path: Path) -> None:
    import plotly.graph_objects as go  # type: ignore[import-untyped]

    origin = min((b["start"] for b in bars if b["start"] is not None), default=0.0)
    starts = [(b["start"] or origin) - origin for b in bars]
    widths = [
        max((b["end"] or b["start"] or origin) - origin - s, 1e-3)
        for b, s in zip(bars, starts, strict=True)
    ]
    figure = go.Figure(
        go.Bar(
            x=widths,
            base=starts,
            y=[f"{b['batch']} ({b['job']})" for b in bars],
            orientation="h",
            text=[_label(b) for b in bars],
            hovertext=["<br>".join(b["steps"]) for b in bars],
        )
    )
    figure.update_layout(
        title=f"{len(bars)} backend jobs, {sum(b['programs'] for b in bars)} programs",
        xaxis_title="seconds since the first backend job started",
        yaxis={"autorange": "reversed"},
    )
    figure.write_html(path, include_plotlyjs=True)


def write_report(bars: list[dict[str, Any]], path: Path) -> None:
    """Write the figure (``.png``, ``.html``) or its data (``.json``) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".png":
        draw_png(bars, path)
    elif suffix == ".html":
        draw_html(bars, path)
    elif suffix == ".json":
        path.write_text(json.dumps({"batches": bars}, indent=2))
    else:
        raise ReportError(f"{path}: write .png, .html or .json")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sfq report",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "runs", nargs="+", metavar="RUN", help="output directory, results file or workflow name"
    )
    parser.add_argument(
        "--output", "-o", default="qpu-report.png", help="where to write (default qpu-report.png)"
    )
    parser.add_argument("--db", type=Path, help="StreamFlow's run database")
    parser.add_argument(
        "--file", "-f", help="streamflow.yml whose `database` holds the run (as for streamflow)"
    )
    parser.add_argument(
        "--all", action="store_true", help="every run of a workflow name, not the last"
    )
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        database = args.db or (default_database(args.file) if args.file else None)
        results = find_results(args.runs, database, args.all)
        bars = batch_bars(results)
        if not bars:
            raise ReportError(
                f"no quantum step results found in {', '.join(args.runs)} "
                "(files holding {'results': [...]} as `sfq sample` writes them)"
            )
        write_report(bars, Path(args.output))
    except ReportError as e:
        print(f"sfq report: {e}", file=sys.stderr)
        return 1
    programs = sum(b["programs"] for b in bars)
    print(f"{len(bars)} backend jobs, {programs} programs: wrote {args.output}")
    return 0
