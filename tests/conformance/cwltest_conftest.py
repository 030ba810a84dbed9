"""The ``conftest.py`` of the copied CWL conformance suite (see test_cwl_conformance.py).

It is not a conftest of this project: the test copies it next to the suite's
``conformance_tests.cwltest.yaml``, with a ``streamflow.yml`` that binds every step to a
``qpu`` deployment, and runs cwltest's pytest plugin there in a subprocess. Each
conformance test then runs through StreamFlow's CWL runner in that one process.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from cwltest import utils

STREAMFLOW_FILE = Path(__file__).resolve().parent / "streamflow.yml"


def pytest_cwl_execute_test(
    config: utils.CWLTestConfig, processfile: str, jobfile: str | None
) -> tuple[int, dict[str, Any] | None]:
    from streamflow.core.exception import WorkflowException
    from streamflow.cwl.runner import main

    args = ["--streamflow-file", str(STREAMFLOW_FILE), "--outdir", config.outdir, "--quiet"]
    args.append(processfile)
    if jobfile is not None:
        args.append(jobfile)
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            code = main(args)
    except WorkflowException:
        return 1, {}
    text = out.getvalue()
    return code, json.loads(text) if text else {}
