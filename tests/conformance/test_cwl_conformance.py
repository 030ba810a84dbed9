"""The CWL v1.2 conformance suite with every step bound to a ``qpu`` deployment.

A ``qpu`` deployment must be a faithful StreamFlow location: the suite must give it
the results StreamFlow's own ``local`` connector gets. ../shared/conformance holds the
suite and the tests that fail with ``local`` on this machine; any other failure here is a
fault of the ``qpu`` deployment. The whole suite runs in one subprocess, as cwltest's
pytest plugin runs it: many workflows one after another in one Python process (which is
how issue 9's segfault showed up). Its JUnit report gives the failing test ids.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from cwltest.utils import load_and_validate_tests

from tests.conftest import tool_env

pytestmark = pytest.mark.slow

CONFORMANCE = Path(
    os.environ.get(
        "SFQ_CONFORMANCE_DIR", Path(__file__).resolve().parents[3] / "shared" / "conformance"
    )
)
SUITE = CONFORMANCE / "cwl-v1.2"
LOCAL_FAILURES = SUITE / "streamflow-local-failures.txt"
# Left out, as in StreamFlow's own conformance runs. The README calls them tags, but in
# conformance_tests.yaml they are test ids (no test has such a tag), so they are excluded
# by id: `--cwl-exclude-tags` with them would run (and fail) both.
EXCLUDED = ("docker_entrypoint", "modify_file_content")
# Name cwltest's plugin collects (`*.cwltest.yaml`) and the ids in LOCAL_FAILURES start with.
SUITE_FILE = "conformance_tests.cwltest.yaml"
HERE = Path(__file__).resolve().parent

STREAMFLOW = {
    "version": "v1.0",
    "workflows": {
        "conformance": {
            "type": "cwl",
            "bindings": [{"step": "/", "target": {"deployment": "qpu"}}],
        }
    },
    "deployments": {
        "qpu": {"type": "qpu", "config": {"backend": "aer", "packing": "serial"}},
    },
}


def prepare(directory: Path) -> Path:
    """A writable copy of the suite in ``directory``, ready for cwltest; returns its yaml."""
    shutil.copytree(SUITE / "tests", directory / "tests", symlinks=True)
    shutil.copyfile(SUITE / "conformance_tests.yaml", directory / SUITE_FILE)
    shutil.copyfile(HERE / "cwltest_conftest.py", directory / "conftest.py")
    config = {**STREAMFLOW, "database": {"type": "default", "config": {}}}
    config["database"]["config"]["connection"] = str(directory / "sqlite.db")
    (directory / "streamflow.yml").write_text(yaml.safe_dump(config))
    # An ini file of its own, so that this project's pytest settings do not apply there.
    (directory / "pytest.ini").write_text("[pytest]\n")
    return directory / SUITE_FILE


def failed_ids(junit: Path) -> tuple[set[str], int, int]:
    """The ids of the failed tests, in LOCAL_FAILURES' form, and the numbers passed and skipped."""
    failed: set[str] = set()
    passed = skipped = 0
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(f"{SUITE_FILE}::{case.get('name')}")
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return failed, passed, skipped


def local_failures() -> set[str]:
    return {
        line.removeprefix("FAILED ").strip()
        for line in LOCAL_FAILURES.read_text().splitlines()
        if line.strip()
    }


@pytest.mark.skipif(not SUITE.is_dir(), reason=f"no CWL conformance suite at {SUITE}")
def test_cwl_v12_conformance_on_qpu(tmp_path: Path) -> None:
    suite = prepare(tmp_path)
    junit = tmp_path / "junit.xml"
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            suite.name,
            "-p",
            "no:cacheprovider",
            "-q",
            "-rN",
            f"--cwl-exclude={','.join(EXCLUDED)}",
            f"--junitxml={junit}",
        ],
        cwd=tmp_path,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    elapsed = time.monotonic() - started
    tail = done.stdout[-3000:] + done.stderr[-3000:]
    # 0: all passed, 1: some failed; a signal (issue 9) or a usage error is neither.
    assert done.returncode in (0, 1), f"exit {done.returncode}\n{tail}"
    failed, passed, skipped = failed_ids(junit)
    print(
        f"conformance on qpu: {passed} passed, {len(failed)} failed, {skipped} skipped in {elapsed:.0f} s"
    )
    # Every test of the suite ran (or was excluded): none lost to a crash or a collection error.
    tests, _ = load_and_validate_tests(str(suite))
    assert passed + len(failed) + skipped == len(tests), tail
    assert skipped == len(EXCLUDED), tail
    assert sorted(failed - local_failures()) == [], tail
