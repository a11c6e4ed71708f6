"""Run `innspill` as an operator does: a separate process, its own environment, real output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Variables of the test run's own environment that must not leak into the command's.
_DROPPED = ("SSL_CERT_FILE", "SSL_CERT_DIR", "PREFECT_API_URL")


def run_innspill(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m innspill.cli ARGS` in `cwd` (no stray .env) with only `env`'s INNSPILL_*."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith("INNSPILL_") and k not in _DROPPED
    }
    return subprocess.run(
        [sys.executable, "-m", "innspill.cli", *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error a failed command printed: non-zero exit, no traceback, one line on stderr."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]
