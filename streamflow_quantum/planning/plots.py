"""Figures of `sfq plan`: a sweep's waits and drops, and the paper's figures as modelled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def sweep(rows: Sequence[dict[str, Any]], x: str, series: Sequence[str], path: str) -> None:
    """Mean wait, drop probability and QPU utilisation against ``x``, a line per ``series`` values."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    lines: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        label = ", ".join(f"{k}={row[k]}" for k in series) or "all"
        lines.setdefault(label, []).append(row)
    for label, unsorted in lines.items():
        points = sorted(unsorted, key=lambda r: r[x])
        for ax, metric in zip(
            axes, ("wait_mean_s", "drop_probability", "qpu_utilisation"), strict=True
        ):
            ax.plot([p[x] for p in points], [p[metric] for p in points], marker="o", label=label)
    for ax, title in zip(
        axes, ("mean wait for a QPU (s)", "drop probability", "QPU utilisation"), strict=True
    ):
        ax.set_xlabel(x)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _boxes(
    ax: Any, groups: dict[str, dict[str, Any] | None], labels: Sequence[str], title: str
) -> None:
    stats = []
    for label in labels:
        q = groups[label]
        if q is None:
            continue
        stats.append(
            {
                "label": label,
                "whislo": q["p5"],
                "q1": q["p25"],
                "med": q["p50"],
                "q3": q["p75"],
                "whishi": q["p95"],
                "fliers": [],
            }
        )
    ax.bxp(stats, showfliers=False)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("job time (h)")


def paper(result: dict[str, Any], path: str) -> None:
    """Figures 10, 11, 12 and 14 of the paper, as this simulator models them."""
    import numpy as np

    plt = _pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    small = result["small"]
    for ax, by, title in (
        (axes[0][0], "job_time_by_qubits", "Fig. 10 left: job time by policy and qubits"),
        (axes[0][1], "job_time_by_priority", "Fig. 10 right: job time by policy and priority"),
    ):
        groups: dict[str, dict[str, Any] | None] = {}
        for letter, figures in small.items():
            for key, q in figures[by].items():
                groups[f"{letter}{key}"] = {k: v / 3600 for k, v in q.items()} if q else None
        _boxes(ax, groups, list(groups), title)
        ax.tick_params(axis="x", labelsize=6, rotation=90)
    for ax, rows, vary, title in (
        (axes[0][2], result["big_q"], "qpus", "Fig. 11: drop probability, C = 1, S = 1e9"),
        (axes[1][0], result["big_c"], "workers", "Fig. 12: drop probability, Q = 4, S = 1e7"),
    ):
        xs = sorted({r[vary] for r in rows})
        loads = sorted({r["jobs_per_h"] for r in rows})
        grid = np.array(
            [
                [
                    next(
                        r["drop_probability"]
                        for r in rows
                        if r[vary] == x and r["jobs_per_h"] == load
                    )
                    for x in xs
                ]
                for load in loads
            ]
        )
        image = ax.imshow(grid, origin="lower", cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(xs)), [str(x) for x in xs])
        ax.set_yticks(range(len(loads)), [f"{load:g}" for load in loads])
        ax.set_xlabel("Q" if vary == "qpus" else "C")
        ax.set_ylabel("jobs/h")
        ax.set_title(title, fontsize=9)
        for (i, j), value in np.ndenumerate(grid):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w")
        fig.colorbar(image, ax=ax)
    rows = result["big_c"]
    for ax, metric, title in (
        (axes[1][1], "mean_classical_tasks", "Fig. 13: mean classical tasks (left) and"),
        (axes[1][2], "mean_queued_tasks", "queued quantum tasks (right), Q = 4"),
    ):
        for load in sorted({r["jobs_per_h"] for r in rows}):
            points = sorted(
                (r for r in rows if r["jobs_per_h"] == load), key=lambda r: r["workers"]
            )
            ax.plot(
                [p["workers"] for p in points],
                [p[metric] for p in points],
                marker="o",
                label=f"{load:g}/h",
            )
        ax.set_xlabel("C")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[1][1].legend(fontsize=7)
    fig.suptitle("Modelled by sfq plan --paper (not the paper's own figures)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
