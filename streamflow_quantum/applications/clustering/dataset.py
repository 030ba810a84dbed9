"""The points to cluster: the papers' synthetic blobs, or a user's CSV of x,y rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: The papers' dataset: 80000 points around 8 centres.
N_POINTS = 80_000
CENTERS = 8
SEED = 0x1337


def make_dataset(n_points: int = N_POINTS, centers: int = CENTERS, seed: int = SEED) -> np.ndarray:
    """``make_blobs`` as the papers' public code calls it, as an (n, 2) array."""
    from sklearn.datasets import make_blobs

    if n_points < 2 or centers < 1:
        raise ValueError(
            f"need at least 2 points and 1 centre, got n_points={n_points}, centers={centers}"
        )
    points, _ = make_blobs(
        n_samples=n_points, centers=centers, n_features=2, random_state=seed, center_box=(-20, 20)
    )
    return points


def read_points_csv(path: str | Path) -> np.ndarray:
    """Rows ``x,y`` (a header line is skipped; further columns are ignored) as an (n, 2) array."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as error:
        raise ValueError(f"cannot read points from {path}: {error.strerror}") from None
    if lines and not _is_numeric_row(lines[0]):
        lines = lines[1:]
    try:
        points = np.loadtxt(lines, delimiter=",", usecols=(0, 1), ndmin=2)
    except ValueError as error:
        raise ValueError(f"{path}: expected rows of x,y numbers ({error})") from None
    if len(points) < 2 or not np.isfinite(points).all():
        raise ValueError(f"{path}: expected at least 2 rows of finite x,y numbers")
    return points


def _is_numeric_row(line: str) -> bool:
    try:
        [float(value) for value in line.split(",")[:2]]
    except ValueError:
        return False
    return True
