"""Figures 7-8 of "Three ways to share a QPU", redrawn from `sfq bench vqpu` results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STYLES = {"exclusive": ":", "vqpu": "--", "vqpu+packing": "-"}


def _series(results: list[dict[str, Any]], policy: str, k: float, key: str):
    rows = sorted(
        (r for r in results if r["policy"] == policy and r["k"] == k), key=lambda r: r["n"]
    )
    return [r["n"] for r in rows], [r[key] for r in rows]


def draw(results: list[dict[str, Any]], folder: Path) -> list[Path]:
    """``vqpu-fig7.png`` (occupancy, quantum time, mean queue time against N) and
    ``vqpu-fig8.png`` (total time against N x t1, and per-job runtimes), one colour per k."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    folder.mkdir(parents=True, exist_ok=True)
    ks = sorted({r["k"] for r in results})
    policies = [p for p in STYLES if any(r["policy"] == p for r in results)]
    colours = {k: f"C{i}" for i, k in enumerate(ks)}

    fig7, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    panels = [
        ("qpu_occupancy", "(a) QPU occupancy"),
        ("qpu_busy_s", "(b) quantum time [s]"),
        ("mean_queue_s", "(c) mean queue time per job [s]"),
    ]
    for ax, (key, title) in zip(axes, panels, strict=True):
        for policy in policies:
            for k in ks:
                ax.plot(
                    *_series(results, policy, k, key),
                    STYLES[policy],
                    marker="o",
                    color=colours[k],
                    label=f"{policy}, k={k:g}",
                )
        ax.set(title=title, xlabel="N concurrent jobs", xticks=sorted({r["n"] for r in results}))
    axes[0].yaxis.set_major_formatter(PercentFormatter(1.0))
    axes[0].legend(fontsize=7)
    fig7.tight_layout()

    fig8, grid = plt.subplots(2, len(ks), figsize=(5 * len(ks), 8), squeeze=False)
    for column, k in enumerate(ks):
        top, bottom = grid[0][column], grid[1][column]
        for i, policy in enumerate(policies):
            top.plot(
                *_series(results, policy, k, "total_s"),
                STYLES[policy],
                marker="o",
                color=f"C{i}",
                label=policy,
            )
        exclusive = {r["n"]: r["exclusive_total_s"] for r in results if r["k"] == k}
        ns, baseline = sorted(exclusive), [exclusive[n] for n in sorted(exclusive)]
        top.plot(ns, baseline, color="grey", linestyle=(0, (6, 3)), label="N x t1")
        top.set(title=f"(d) total time, k={k:g}", xlabel="N", ylabel="s", yscale="log")
        top.legend(fontsize=7)
        shared = [r for r in results if r["k"] == k and r["policy"] != "exclusive"]
        for i, policy in enumerate(p for p in policies if p != "exclusive"):
            rows = sorted((r for r in shared if r["policy"] == policy), key=lambda r: r["n"])
            positions = [r["n"] + (i - 0.5) * 0.35 for r in rows]
            parts = bottom.violinplot(
                [r["runtimes_s"] for r in rows], positions, widths=0.3, showextrema=False
            )
            for body in parts["bodies"]:
                body.set_facecolor(f"C{i + 3}")
            for position, row in zip(positions, rows, strict=True):
                bottom.scatter(
                    [position] * len(row["runtimes_s"]), row["runtimes_s"], s=8, color="k"
                )
            bottom.plot([], [], color=f"C{i + 3}", label=policy)
        bottom.plot(ns, baseline, color="grey", linestyle=(0, (6, 3)), label="N x t1")
        bottom.set(title=f"(e) per-job runtimes, k={k:g}", xlabel="N", ylabel="s", xticks=ns)
        top.set_xticks(ns)
        bottom.legend(fontsize=7)
    fig8.tight_layout()

    paths = [folder / "vqpu-fig7.png", folder / "vqpu-fig8.png"]
    for figure, path in zip((fig7, fig8), paths, strict=True):
        figure.savefig(path, dpi=110)
        plt.close(figure)
    return paths
