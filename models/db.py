"""Database engine, sessions and migrations (Alembic, run from code)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Table, event, insert, inspect
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, create_engine

from innspill.errors import DatabaseLocked, DatabaseUnavailable, SchemaTooNew

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Seconds a SQLite write waits for another process's lock, and PostgreSQL for a connection.
DEFAULT_WAIT = 10.0


def make_engine(url: str, *, lock_timeout: float = DEFAULT_WAIT) -> Engine:
    """An engine for any SQLAlchemy URL; creates the SQLite file's folder when needed.

    `lock_timeout` bounds the wait for SQLite's lock (another tick writing) and for a
    PostgreSQL connection, so a busy or absent database ends in an error, not a hang.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        busy_ms = max(int(lock_timeout * 1000), 0)

        def pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the dashboard read while a tick writes; NORMAL is durable across a
            # process crash (not a power cut), which is the failure the outbox must survive.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()

        event.listen(engine, "connect", pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(int(lock_timeout), 1)
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest schema revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision (None when it has none yet)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_known(revision: str | None) -> None:
    """Refuse a schema this code does not know: it was made by a newer innspill."""
    if revision is None:
        return
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    if revision not in {s.revision for s in script.walk_revisions()}:
        raise SchemaTooNew(
            f"the database's schema (revision {revision}) is newer than this innspill knows "
            f"(up to {script.get_current_head()}): another machine upgraded it; install the same "
            "innspill version here"
        )


def migrate(url: str, *, lock_timeout: float = DEFAULT_WAIT) -> None:
    """Create or upgrade the database to the newest schema."""
    engine = make_engine(url, lock_timeout=lock_timeout)
    try:
        with engine.begin() as connection:
            check_known(MigrationContext.configure(connection).get_current_revision())
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except DBAPIError as exc:
        raise database_error(exc, url, lock_timeout=lock_timeout) from exc
    finally:
        engine.dispose()


def database_error(
    exc: DBAPIError, url: str, *, lock_timeout: float = DEFAULT_WAIT
) -> DatabaseUnavailable:
    """What a driver's connection or lock error means, in one line for the operator."""
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    reason = " ".join(str(exc.orig).split()) if exc.orig is not None else str(exc)
    if parsed.get_backend_name() == "sqlite" and "locked" in reason:
        return DatabaseLocked(
            f"the database {parsed.database} is locked: another process (a tick or send?) has "
            f"been writing to it for more than {lock_timeout:g} s; try again when it has finished"
        )
    return DatabaseUnavailable(
        f"cannot use the database {shown}: {reason[:300]}; check INNSPILL_DATABASE_URL and that "
        "the database server is running"
    )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A write transaction; on SQLite it takes the write lock at once (BEGIN IMMEDIATE).

    A deferred SQLite transaction that reads first and writes later can fail with "database
    is locked" without waiting when another writer committed in between; an immediate one
    waits its turn (busy timeout) before it reads anything.
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel class, for bulk statements (typed, unlike `__table__`)."""
    return cast(Table, inspect(model).local_table)


def insert_rows(
    db: Session | Connection, model: type[SQLModel], rows: Sequence[dict[str, Any]]
) -> None:
    """Insert plain rows in order with Core executemany, not the ORM's bulk insert (which
    costs a large tick a third more). Core takes the first row's keys for all the rows of
    a statement, so each run of rows with the same keys is a statement of its own."""
    table = table_of(model)
    start = 0
    for end in range(1, len(rows) + 1):
        if end == len(rows) or rows[end].keys() != rows[start].keys():
            db.execute(insert(table), list(rows[start:end]))
            start = end
