"""The command line starts fast: `--help` and the import of the CLI leave the heavy libraries
(Prefect, FastAPI, uvicorn, SQLAlchemy, Jinja2, pydantic-settings) to the commands that use
them. Each check runs in a fresh interpreter, so nothing this test session imported counts."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

#: Top-level packages no command needs before it runs (each is imported inside the command).
HEAVY = (
    "prefect",
    "fastapi",
    "uvicorn",
    "starlette",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "jinja2",
    "pydantic_settings",
    "holidays",
    "aiosmtplib",
    "asyncio",
)


def _imported_after(code: str) -> list[str]:
    """The heavy packages in sys.modules after running `code` in a new interpreter."""
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(result.stdout.splitlines()[-1]))


def test_importing_the_cli_imports_no_heavy_library():
    assert _imported_after("import innspill.cli") == []


def test_help_imports_no_heavy_library():
    code = (
        "import contextlib, io\n"
        "from innspill.cli import app\n"
        "sys.argv = ['innspill', '--help']\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        "        app()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'dashboard' in out.getvalue(), out.getvalue()\n"
    )
    assert _imported_after(code) == []


def test_a_command_still_finds_its_settings(tmp_path):
    # The settings are read when a command runs, not when the CLI is imported: a command that
    # needs them (here init, through the lazy get_settings) still gets the environment's.
    env = {"INNSPILL_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "innspill.cli", "init"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert str((tmp_path / "innspill.db").resolve()) in result.stdout
