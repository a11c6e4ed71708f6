"""`innspill doctor` against real servers: every line ok, or the one that is wrong says so."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import SEED
from tests.dovecot import Dovecot, dovecot_tls_fixture  # noqa: F401  (fixture dovecot_tls)
from tests.smtp_sink import free_port
from tests.subprocess_cli import run_innspill
from tests.tls_ca import (  # noqa: F401  (fixture authority)
    PASSWORD,
    USER,
    TlsAuthority,
    authority_fixture,
    smtp_server,
)

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _lines(output: str) -> dict[str, str]:
    """{check name: its line} from doctor's output."""
    names = ("database", "secret key", "processes", "smtp", "imap", "prefect", "archive")
    found = {}
    for line in output.splitlines():
        for name in names:
            if line[6:].startswith(name + " "):
                found[name] = line
    assert set(found) == set(names), output
    return found


def _env(tmp_path: Path, authority: TlsAuthority, url: str, **settings: Any) -> dict[str, str]:
    env = {
        "INNSPILL_DATA_DIR": str(tmp_path / "data"),
        "INNSPILL_DATABASE_URL": url,
        "SSL_CERT_FILE": str(authority.ca_file),
    }
    env.update({k if k.isupper() else f"INNSPILL_{k.upper()}": str(v) for k, v in settings.items()})
    return env


@pytest.fixture
def mailbox(dovecot_tls: Dovecot) -> Dovecot:
    box = copy.copy(dovecot_tls)
    box.user = "doctor"
    box.append(b"From: a@example.org\r\nSubject: x\r\n\r\nx\r\n")  # makes the mailbox
    return box


def _production(tmp_path, authority, database_url, mailbox, smtp_port, **more) -> dict[str, str]:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_tls": "starttls",
        "smtp_username": USER,
        "smtp_password": PASSWORD,
        "smtp_timeout": 10,
        "imap_host": "127.0.0.1",
        "imap_port": mailbox.tls_port,
        "imap_tls": "tls",
        "imap_username": mailbox.user,
        "imap_password": mailbox.password,
        "imap_timeout": 10,
    }
    values.update(more)
    return _env(tmp_path, authority, database_url, **values)


@pytest.mark.prefect
def test_everything_ok_against_real_servers(
    tmp_path, authority, database_url, mailbox, prefect_harness
):
    from prefect.settings import PREFECT_API_URL

    api = PREFECT_API_URL.value()
    assert api
    with smtp_server(authority, "starttls") as (port, recorder):
        env = _production(tmp_path, authority, database_url, mailbox, port, PREFECT_API_URL=api)
        loaded = run_innspill("load", str(SEED), "--at", "2020-03-30T08:00", env=env, cwd=tmp_path)
        assert loaded.returncode == 0, loaded.stderr
        result = run_innspill("doctor", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = _lines(result.stdout)
    assert all(line.startswith("ok  ") for line in lines.values()), result.stdout
    assert "schema" in lines["database"] and "(current)" in lines["database"]
    assert "matches the database's" in lines["secret key"]
    assert "1 loaded, valid: byvekstavtaler-sekretariat-2020" in lines["processes"]
    assert "TLS, AUTH as innspill, pipelining, NOOP answered; nothing sent" in lines["smtp"]
    assert "logged in as 'doctor', folder exists" in lines["imap"]
    assert "reachable" in lines["prefect"]
    assert (
        "converters found: LibreOffice /" in lines["archive"]
        and "Ghostscript /" in lines["archive"]
    )
    assert recorder.sessions == []  # nothing was sent
    assert "All checks passed." in result.stdout


def test_each_wrong_setting_fails_its_own_line(tmp_path, authority, database_url, mailbox):
    with smtp_server(authority, "tls") as (port, recorder):
        env = _production(
            tmp_path,
            authority,
            database_url,
            mailbox,
            port,
            smtp_tls="tls",
            smtp_password="not-the-password",
            imap_folder="Nowhere",
            PREFECT_API_URL=f"http://127.0.0.1:{free_port()}/api",
            INNSPILL_ARCHIVE_SOFFICE=str(tmp_path / "no-soffice"),
        )
        assert run_innspill("init", env=env, cwd=tmp_path).returncode == 0
        result = run_innspill("doctor", env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = _lines(result.stdout)
    assert lines["database"].startswith("ok  ")
    assert lines["processes"].startswith("ok  ") and "none loaded" in lines["processes"]
    assert lines["smtp"].startswith("FAIL") and "login as 'innspill' refused (535" in lines["smtp"]
    assert lines["imap"].startswith("FAIL") and "no such folder" in lines["imap"]
    assert lines["prefect"].startswith("FAIL") and "PREFECT_API_URL" in lines["prefect"]
    assert lines["archive"].startswith("FAIL") and "not found: LibreOffice" in lines["archive"]
    assert "4 check(s) failed: smtp, imap, prefect, archive." in result.stdout
    assert recorder.sessions == []


def test_another_key_an_old_schema_and_no_database(tmp_path, authority, database_url, engine):
    env = _env(tmp_path, authority, database_url)
    assert run_innspill("init", env=env, cwd=tmp_path).returncode == 0
    other = run_innspill("doctor", env={**env, "INNSPILL_SECRET_KEY": "x" * 40}, cwd=tmp_path)
    assert other.returncode == 1
    assert _lines(other.stdout)["secret key"].startswith("FAIL  secret key  INNSPILL_SECRET_KEY")
    # A database left at an older revision: doctor says to run init, and migrates nothing.
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    old = run_innspill("doctor", env=env, cwd=tmp_path)
    assert "schema 0004, this innspill needs" in _lines(old.stdout)["database"]
    with engine.connect() as connection:
        assert (
            connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
        )
    gone = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/innspill"
    down = run_innspill("doctor", env={**env, "INNSPILL_DATABASE_URL": gone}, cwd=tmp_path)
    assert down.returncode == 1 and "Traceback" not in down.stdout + down.stderr
    lines = _lines(down.stdout)
    assert lines["database"].startswith("FAIL") and "Connection refused" in lines["database"]
    assert lines["smtp"].startswith("ok  ") and "not set" in lines["smtp"]
