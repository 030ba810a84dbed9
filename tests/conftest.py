from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for `sfq`, `streamflow` and `cwltool` from this interpreter's venv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFQ_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def run_tool(
    *args: str | Path, cwd: Path | None = None, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=tool_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


#: A broker secret of the 32 bytes `sfq serve` asks for at least.
BROKER_SECRET = "test-secret-0123456789-0123456789-abcdef"


def serve_broker(
    *args: str | Path, secret: str | None = BROKER_SECRET
) -> tuple[subprocess.Popen[str], str]:
    """`sfq serve --port 0 ARGS...` with ``secret`` (None: none), and the URL it prints."""
    server = subprocess.Popen(
        ["sfq", "serve", "--port", "0", *map(str, args)],
        env=tool_env(**({} if secret is None else {"SFQ_BROKER_SECRET": secret})),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    assert " at http" in line, line
    return server, line.rsplit(" at ", 1)[1].strip()
