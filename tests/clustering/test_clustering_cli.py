from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streamflow_quantum.applications.clustering.cli import main
from streamflow_quantum.applications.clustering.methods import METHODS


def run_round(work: Path, round_number: int, best: Path | None = None) -> Path:
    """One round of steps as the workflow chains them; returns the score step's directory."""
    for method in METHODS:
        assert (
            main(
                [
                    "cluster",
                    "--method",
                    method,
                    "--round",
                    str(round_number),
                    "--points",
                    str(work / "points.npz"),
                    "--out",
                    str(work / f"{method}.npz"),
                ]
            )
            == 0
        )
    assert (
        main(
            [
                "qubo",
                "--labels",
                *(str(work / f"{m}.npz") for m in METHODS),
                "--out",
                str(work / "qubo.npz"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "mis",
                "--qubo",
                str(work / "qubo.npz"),
                "--round",
                str(round_number),
                "--out",
                str(work / "mis.json"),
            ]
        )
        == 0
    )
    out = work / f"round{round_number}"
    previous = (
        [
            "--best-score",
            str(best / "score.json"),
            "--best-clustering",
            str(best / "clustering.csv"),
        ]
        if best
        else []
    )
    args = [
        "score",
        "--points",
        str(work / "points.npz"),
        "--qubo",
        str(work / "qubo.npz"),
        "--mis",
        str(work / "mis.json"),
    ]
    assert main([*args, "--round", str(round_number), *previous, "--out-dir", str(out)]) == 0
    return out


def read_clustering(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path) as file:
        rows = list(csv.reader(file))
    return rows[0], np.array(rows[1:], dtype=float)


def test_steps_chain_into_a_scored_clustering_that_keeps_the_best(tmp_path: Path) -> None:
    assert (
        main(
            [
                "dataset",
                "--n-points",
                "1500",
                "--centers",
                "4",
                "--seed",
                "5",
                "--out",
                str(tmp_path / "points.npz"),
            ]
        )
        == 0
    )
    first = run_round(tmp_path, 1)
    header, table = read_clustering(first / "clustering.csv")
    score = json.loads((first / "score.json").read_text())
    assert header == ["x", "y", "label"]
    assert len(table) == 1500
    assert score["clusters"] == len(np.unique(table[:, 2])) >= 2
    assert -1 <= score["silhouette"] <= 1
    assert score["rounds"] == score["best_round"] == 1

    mis = json.loads((tmp_path / "mis.json").read_text())
    assert mis["solver"] == "sa"
    assert len(mis["selected"]) >= 1
    assert mis["batches"] == [] and 0 <= mis["from_sampler"] <= len(mis["selected"])

    second = run_round(tmp_path, 2, best=first)
    again = json.loads((second / "score.json").read_text())
    assert again["rounds"] == 2
    assert again["silhouette"] >= score["silhouette"]
    if again["best_round"] == 1:
        assert (second / "clustering.csv").read_text() == (first / "clustering.csv").read_text()


#: What a step's Slurm job would pay for and not use: each costs 0.2-0.9 s of imports
#: (the annealer's own dimod brings networkx to the MIS step).
HEAVY = {
    "qubo": {"sklearn", "qiskit", "networkx", "pandas"},
    "mis": {"sklearn", "qiskit"},
    "score": {"sklearn", "qiskit", "networkx", "pandas"},
}


def test_the_qubo_mis_and_score_steps_import_no_heavy_library(tmp_path: Path) -> None:
    """Every step is a Slurm job of its own, so its imports are paid once a round."""
    points = str(tmp_path / "points.npz")
    assert main(["dataset", "--n-points", "600", "--centers", "3", "--out", points]) == 0
    run_round(tmp_path, 1)
    labels = [str(tmp_path / f"{m}.npz") for m in METHODS]
    steps = [
        ["qubo", "--labels", *labels, "--out", str(tmp_path / "q.npz")],
        [
            "mis",
            "--qubo",
            str(tmp_path / "q.npz"),
            "--round",
            "1",
            "--out",
            str(tmp_path / "m.json"),
        ],
        [
            "score",
            "--points",
            points,
            "--qubo",
            str(tmp_path / "q.npz"),
            "--mis",
            str(tmp_path / "m.json"),
            "--round",
            "1",
            "--out-dir",
            str(tmp_path / "scored"),
        ],
    ]
    for step in steps:
        heavy = sorted(HEAVY[step[0]])
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys\n"
                "from streamflow_quantum.cli.main import main\n"
                f"code = main(['clustering', *{step!r}])\n"
                f"print(code, sorted(set({heavy!r}) & {{m.split('.')[0] for m in sys.modules}}))",
            ],
            capture_output=True,
            check=False,
            text=True,
            timeout=120,
        )
        assert done.stdout.splitlines()[-1] == "0 []", (step[0], done.stdout, done.stderr)
    assert json.loads((tmp_path / "m.json").read_text())["selected"]


def test_a_user_csv_replaces_the_blobs(tmp_path: Path) -> None:
    (tmp_path / "points.csv").write_text("x,y\n0,0\n1,1\n2,2.5\n")
    assert (
        main(
            [
                "dataset",
                "--points",
                str(tmp_path / "points.csv"),
                "--out",
                str(tmp_path / "points.npz"),
            ]
        )
        == 0
    )
    assert np.load(tmp_path / "points.npz")["points"].tolist() == [[0, 0], [1, 1], [2, 2.5]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read points from"),
        ("x,y\n1,2\n3,oops\n", "expected rows of x,y numbers"),
        ("1,2\n", "at least 2 rows"),
    ],
)
def test_bad_input_gives_one_line_that_says_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "points.csv"
    if content is not None:
        path.write_text(content)
    assert main(["dataset", "--points", str(path), "--out", str(tmp_path / "points.npz")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("sfq clustering dataset: ")
    assert message in error
    assert error.count("\n") == 1


def test_a_file_from_the_wrong_step_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.savez(tmp_path / "points.npz", points=np.zeros((3, 2)))
    assert main(["mis", "--qubo", str(tmp_path / "points.npz"), "--round", "1"]) == 2
    assert "lacks qubo: is it the output of the right step?" in capsys.readouterr().err
