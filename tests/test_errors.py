"""What an operator sees when something outside innspill is wrong: one line, non-zero exit.

Every command runs as its own process, as from a shell; `--debug` brings the traceback back.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from innspill.errors import SecretKeyMismatch
from innspill.keys import ensure_key, fingerprint, recorded
from tests.conftest import SEED, oslo
from tests.smtp_sink import free_port
from tests.subprocess_cli import one_line_error, run_innspill

KEY_A = "a" * 40
KEY_B = "b" * 40


def _env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    return {"INNSPILL_DATA_DIR": str(tmp_path / "data"), "INNSPILL_DATABASE_URL": url, **extra}


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'innspill.db'}"


@pytest.mark.parametrize("command", [["tick"], ["status"], ["send"], ["serve"]])
def test_an_unreachable_database_is_one_line(tmp_path, command):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/innspill"
    # serve asks for a Prefect server first; give it one (unreachable too: the database is
    # checked before Prefect is ever called)
    prefect = {"PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api"}
    result = run_innspill(*command, env=_env(tmp_path, url, **prefect), cwd=tmp_path)
    error = one_line_error(result)
    assert error.startswith("cannot use the database postgresql+psycopg://"), error
    assert "Connection refused" in error and "INNSPILL_DATABASE_URL" in error


def test_debug_shows_the_traceback(tmp_path):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/innspill"
    result = run_innspill("--debug", "tick", env=_env(tmp_path, url), cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "OperationalError" in result.stderr


def test_a_locked_sqlite_database_waits_then_says_who_holds_it(tmp_path):
    url = _sqlite(tmp_path)
    env = _env(tmp_path, url, INNSPILL_DATABASE_LOCK_TIMEOUT="1.5")
    assert run_innspill("init", env=env, cwd=tmp_path).returncode == 0
    holder = sqlite3.connect(tmp_path / "data" / "innspill.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # what a tick does while it writes
        started = time.monotonic()
        result = run_innspill("load", str(SEED), "--at", "2020-03-30T08:00", env=env, cwd=tmp_path)
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    error = one_line_error(result)
    assert "is locked: another process (a tick or send?)" in error, error
    assert "1.5 s" in error
    assert waited >= 1.5
    # Once the other process is done, the same command goes through.
    assert (
        run_innspill(
            "load", str(SEED), "--at", "2020-03-30T08:00", env=env, cwd=tmp_path
        ).returncode
        == 0
    )


def test_a_schema_newer_than_the_code_is_refused(tmp_path, database_url, engine):
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    for command in (["status"], ["tick"], ["init"]):
        result = run_innspill(*command, env=_env(tmp_path, database_url), cwd=tmp_path)
        error = one_line_error(result)
        assert "schema (revision 0099) is newer than this innspill knows" in error, error
    with engine.connect() as connection:  # and nothing was touched
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == "0099"


def test_a_second_machine_with_its_own_key_file_refuses_to_start(tmp_path, database_url):
    first, second = tmp_path / "first", tmp_path / "second"
    for machine in (first, second):
        machine.mkdir()
    env_first = _env(first, database_url)
    env_second = _env(second, database_url)
    assert run_innspill("init", env=env_first, cwd=first).returncode == 0
    assert (
        run_innspill(
            "load", str(SEED), "--at", "2020-03-30T08:00", env=env_first, cwd=first
        ).returncode
        == 0
    )
    for command in (["status"], ["tick", "--no-send"], ["init"], ["dashboard", "--port", "1"]):
        result = run_innspill(*command, env=env_second, cwd=second)
        error = one_line_error(result)
        assert "secret key differs from the one the database was set up with" in error, error
        assert "INNSPILL_SECRET_KEY" in error
    # The fix the message names: the first machine's key on the second one.
    key = (first / "data" / "secret_key").read_text().strip()
    fixed = run_innspill("status", env={**env_second, "INNSPILL_SECRET_KEY": key}, cwd=second)
    assert fixed.returncode == 0, fixed.stderr


def test_the_key_is_recorded_once_and_only_as_a_fingerprint(engine: Engine):
    assert recorded(engine) is None
    ensure_key(engine, KEY_A, now=oslo(2020, 3, 30, 8))
    ensure_key(engine, KEY_A, now=oslo(2020, 3, 31, 8))  # the same key: nothing to say
    assert recorded(engine) == fingerprint(KEY_A)
    assert KEY_A not in fingerprint(KEY_A) and fingerprint(KEY_A) != fingerprint(KEY_B)
    with pytest.raises(SecretKeyMismatch):
        ensure_key(engine, KEY_B, now=oslo(2020, 4, 1, 8))
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, key_fingerprint FROM installation")).all()
    assert rows == [(1, fingerprint(KEY_A))]


def test_an_unexpected_error_keeps_its_traceback(tmp_path):
    # A bug is not an operator's mistake: it is not dressed up as one.
    from innspill.cli.common import explain

    assert explain(ZeroDivisionError("division by zero")) is None
    assert explain(SecretKeyMismatch("x")) == "x"
