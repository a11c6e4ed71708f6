"""Shared fixtures: a fresh database per test (SQLite or PostgreSQL), a recording SMTP server,
settings pointing at both, and the seed process."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from typer.testing import Result

# Prefect reads these once, at import: a throwaway home and no telemetry for the test run.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="innspill-prefect-"))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from innspill.config.settings import Settings
from innspill.engine import TickReport, tick
from innspill.models.db import make_engine, migrate, session_scope
from innspill.outbound.compose import Outgoing
from innspill.outbound.outbox import DispatchReport, dispatch
from innspill.outbound.transport import SmtpTransport
from innspill.process.loading import load_file
from tests.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "config" / "processes" / "byvekstavtaler-sekretariat-2020.toml"
SEED_ID = "byvekstavtaler-sekretariat-2020"
IN_CI = os.environ.get("CI", "").lower() == "true"

#: Which database the suite runs on: "sqlite" (default) or a PostgreSQL URL, for example
#: postgresql+psycopg://postgres@127.0.0.1:5432/test (each test gets its own schema in it).
TEST_DATABASE = os.environ.get("INNSPILL_TEST_DATABASE", "sqlite")
POSTGRES_URL = os.environ.get(
    "INNSPILL_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def oslo(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An instant given in Oslo wall-clock time, as aware UTC."""
    from zoneinfo import ZoneInfo

    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("Europe/Oslo")).astimezone(UTC)


def _postgres_available(url: str) -> str | None:
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: not usable here
        return str(exc).splitlines()[0]


def need_postgres(url: str = POSTGRES_URL) -> None:
    """Fail in CI, skip elsewhere, when PostgreSQL cannot be reached."""
    problem = _postgres_available(url)
    if problem:
        message = f"PostgreSQL at {url} is not reachable: {problem}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def postgres_schema_url(base: str, schema: str) -> str:
    """The URL of `base` with its search_path set to `schema`."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


_SQLITE_TEMPLATE: list[Path] = []  # this test process's migrated empty database, made once


def _sqlite_template() -> Path:
    """An empty SQLite database migrated to head, once per test process: each test gets a copy
    (a file copy takes a millisecond; running the migrations, about 100 ms)."""
    if not _SQLITE_TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="innspill-template-"))
        atexit.register(shutil.rmtree, folder, True)
        migrate(f"sqlite:///{folder / 'innspill.db'}")  # closes its connections: no -wal left
        _SQLITE_TEMPLATE.append(folder / "innspill.db")
    return _SQLITE_TEMPLATE[0]


_POSTGRES_SCRIPT: dict[str, list[tuple[str, Any, bool]]] = {}  # per server: what migrate ran


def _migrate_postgres(kind: str, url: str) -> None:
    """Migrate a new schema to head: the first time in this test process by running the
    migrations (and recording every statement they sent), then by sending those statements
    again in one transaction (about 60 ms instead of 400; the tables are made unqualified,
    in the schema that the URL's search_path names)."""
    script = _POSTGRES_SCRIPT.get(kind)
    if script is None:
        recorded: list[tuple[str, Any, bool]] = []

        def record(*args: Any) -> None:  # conn, cursor, statement, parameters, context, many
            recorded.append((args[2], args[3], args[5]))

        event.listen(Engine, "before_cursor_execute", record)
        try:
            migrate(url)
        finally:
            event.remove(Engine, "before_cursor_execute", record)
        _POSTGRES_SCRIPT[kind] = recorded
        return
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement, parameters, _many in script:
                conn.exec_driver_sql(statement, parameters)
    finally:
        engine.dispose()


def new_database(kind: str, tmp_path: Path) -> tuple[str, callable]:  # type: ignore[valid-type]
    """Create an empty, migrated database; returns its URL and a function that drops it."""
    if kind == "sqlite":
        path = tmp_path / "innspill.db"
        if path.exists():  # asked again for the same folder: bring it to head, keep its rows
            migrate(f"sqlite:///{path}")
        else:
            shutil.copyfile(_sqlite_template(), path)
        return f"sqlite:///{path}", lambda: None
    need_postgres(kind)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(kind)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = postgres_schema_url(kind, schema)
    _migrate_postgres(kind, url)

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return url, drop


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for this test, on the backend the suite runs on."""
    url, drop = new_database(TEST_DATABASE, tmp_path)
    yield url
    drop()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on loopback that records every message it accepts."""
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def settings(tmp_path: Path, database_url: str, smtp: SmtpSink) -> Settings:
    """Settings for this test: its own database and data dir, mail to the recording server."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_timeout=5,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the whole session (it costs about 15 s to start)."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


#: The files the seed's steps attach, beside it (paths in the seed are relative to it).
SEED_FILES = SEED.parent
SEED_ATTACHMENTS = ("oppdrag.md",)


def copy_seed_files(folder: Path) -> None:
    """Put the seed's attachments beside an edited copy of the seed written to `folder`."""
    for name in SEED_ATTACHMENTS:
        shutil.copyfile(SEED_FILES / name, folder / name)


def load_seed(engine: Engine, path: Path = SEED) -> None:
    """Load a process file (the seed by default) as of the morning it opens."""
    with session_scope(engine) as session:
        load_file(session, path, now=oslo(2020, 3, 30, 8))


def tick_and_send(
    engine: Engine, settings: Settings, now: datetime
) -> tuple[TickReport, DispatchReport]:
    """One tick at `now` and a dispatch to the settings' SMTP server, as production runs it."""
    planned = tick(engine, now=now, outgoing=Outgoing.from_settings(settings))
    sent = asyncio.run(
        dispatch(engine, SmtpTransport(settings), now=now, max_attempts=settings.smtp_max_attempts)
    )
    return planned, sent


Run = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path, database_url: str, smtp: SmtpSink, monkeypatch) -> Iterator[Run]:  # type: ignore[no-untyped-def]
    """Invoke the CLI with settings for this test's database, data dir and SMTP server.

    `run(*args, smtp_on=False)` leaves INNSPILL_SMTP_HOST unset (mail is captured as .eml);
    `input=` is typed at prompts.
    """
    from typer.testing import CliRunner

    from innspill.cli import app
    from innspill.config.settings import get_settings

    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name in ("INNSPILL_SMTP_HOST", "INNSPILL_SMTP_PORT", "INNSPILL_REPLY_TO"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(
        *args: str,
        smtp_on: bool = True,
        database: str | None = database_url,
        input: str | None = None,
    ) -> Result:
        env: dict[str, str | None] = {
            "INNSPILL_DATABASE_URL": database,
            "INNSPILL_DATA_DIR": str(tmp_path / "data"),
            "INNSPILL_SMTP_HOST": "127.0.0.1" if smtp_on else None,
            "INNSPILL_SMTP_PORT": str(smtp.port) if smtp_on else None,
            "INNSPILL_SMTP_TIMEOUT": "5",
        }
        get_settings.cache_clear()
        try:
            result = runner.invoke(app, list(args), env=env, input=input)
        finally:
            get_settings.cache_clear()
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback is a bug: show it
        return result

    yield run
    get_settings.cache_clear()


def ok(result: Result) -> str:
    """The output of a command that must have succeeded."""
    assert result.exit_code == 0, result.output
    return result.output


def failed(result: Result) -> str:
    """The output of a command that must have failed."""
    assert result.exit_code != 0, result.output
    return result.output


#: Names a test module imports when it makes databases of its own on the suite's backend.
_OWN_DATABASES = ("TEST_DATABASE", "new_database")


def _uses_database(item: pytest.Item) -> bool:
    if "database_url" in getattr(item, "fixturenames", ()):
        return True
    module = getattr(item, "module", None)
    return any(name in vars(module) for name in _OWN_DATABASES) if module else False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark single_pass what gives the same result on every backend, so that the PostgreSQL
    pass of scripts/check (`-m "not single_pass"`) runs only what touches the database:

    - a test that reaches no database (no `database_url` fixture, no database of its own);
    - the browser tests (tests/browser): they check what pages look like and how they behave;
      the queries behind those pages run on PostgreSQL in the dashboard's TestClient tests.
    """
    for item in items:
        if item.get_closest_marker("browser") or not _uses_database(item):
            item.add_marker(pytest.mark.single_pass)
