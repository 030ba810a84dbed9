"""The files the workflow steps exchange: NumPy archives, the clustering CSV and the score JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def load_arrays(path: str | Path, *names: str) -> list[np.ndarray]:
    """The named arrays of an ``.npz`` file written by an earlier step."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in names if name not in archive]
            if missing:
                raise ValueError(
                    f"{path} lacks {', '.join(missing)}: is it the output of the right step?"
                )
            return [archive[name] for name in names]
    except (OSError, EOFError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None


def save_arrays(path: str | Path, **arrays: np.ndarray) -> None:
    with open(path, "wb") as file:
        # numpy's stub lets **arrays reach its keyword-only allow_pickle: bool
        np.savez_compressed(file, **arrays)  # type: ignore[arg-type]


def write_clustering(path: str | Path, points: np.ndarray, labels: np.ndarray) -> None:
    table = np.column_stack([points, labels]).astype(object)
    np.savetxt(
        path, table, delimiter=",", header="x,y,label", comments="", fmt=["%.10g", "%.10g", "%d"]
    )
