"""The Alembic migrations: they build exactly the schema the models describe, on SQLite and on
PostgreSQL, and upgrade, re-upgrade and downgrade cleanly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, Table, inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from innspill import models
from innspill.models.db import alembic_config, make_engine, migrate
from tests.conftest import POSTGRES_URL, new_database

TABLES = set(SQLModel.metadata.tables)


def head() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = script.get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


def revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)


def schema_of(engine: Engine) -> dict[str, Any]:
    """Tables, columns (name, type, nullable), indexes and unique constraints, as reflected."""
    with engine.connect() as conn:
        inspector = inspect(conn)
        out: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            out[table] = (
                [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)),
                sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            )
        return out


def run_alembic(url: str, action: Callable[..., None], target: str) -> None:
    """Run an Alembic command in one transaction, as models.db.migrate does."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            action(config, target)
    finally:
        engine.dispose()


def a_process() -> models.Process:
    return models.Process(
        id="p",
        title="t",
        reference="20/1",
        source_path="x.toml",
        definition_json="{}",
        definition_hash="0" * 64,
        loaded_at=datetime(2020, 3, 30, 6, tzinfo=UTC),
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated(request, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A fresh database upgraded to head: a SQLite file, or a new PostgreSQL schema."""
    kind = "sqlite" if request.param == "sqlite" else POSTGRES_URL
    url, drop = new_database(kind, tmp_path)  # skips (fails in CI) if PostgreSQL is down
    drop = cast(Callable[[], None], drop)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()
    drop()


# --- the migrated schema is the models' schema --------------------------------------------


def test_sqlite_upgrade_from_empty_creates_every_table(tmp_path):
    path = tmp_path / "empty.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        assert inspect(engine).get_table_names() == []
        assert revision(engine) is None
        migrate(url)
        tables = set(inspect(engine).get_table_names())
        assert tables == TABLES | {"alembic_version"}
        assert revision(engine) == head()
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_postgres_fresh_schema_matches_the_models(tmp_path):
    url, drop = new_database(POSTGRES_URL, tmp_path)
    drop = cast(Callable[[], None], drop)
    schema = url.rsplit("search_path%3D", 1)[1]
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            # compare_metadata reflects the default schema: it must be the fresh one.
            assert conn.dialect.default_schema_name == schema
            inspector = inspect(conn)
            assert set(inspector.get_table_names(schema=schema)) == TABLES | {"alembic_version"}
        assert revision(engine) == head()
        assert differences(engine) == []
    finally:
        engine.dispose()
        drop()


def test_the_comparison_would_see_a_difference(migrated):
    """Guards the tests above: compare_metadata on this connection does notice a change."""
    _url, engine = migrated
    changed = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(changed)
    Table("not_migrated", changed, Column("id", Integer, primary_key=True))
    changed.tables["step"].append_column(Column("extra", Integer, nullable=True))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), changed)
    kinds = sorted((d[0], d[-1].name if d[0] == "add_column" else d[1].name) for d in diff)
    assert kinds == [("add_column", "extra"), ("add_table", "not_migrated")]


def test_typed_columns_survive_a_round_trip(migrated):
    """The migrated column types hold what the models put in: aware UTC, bytes, dates."""
    _url, engine = migrated
    with Session(engine) as session:
        session.add(a_process())
        session.commit()
        session.expire_all()
        row = session.get(models.Process, "p")
        assert row is not None
        assert row.loaded_at == datetime(2020, 3, 30, 6, tzinfo=UTC)
        assert row.loaded_at.tzinfo is not None


# --- upgrading again, downgrading ----------------------------------------------------------


def test_upgrading_twice_is_a_no_op(migrated):
    url, engine = migrated
    before = schema_of(engine)
    with Session(engine) as session:
        session.add(a_process())
        session.commit()
    migrate(url)
    assert revision(engine) == head()
    assert schema_of(engine) == before
    assert differences(engine) == []
    with Session(engine) as session:
        assert session.get(models.Process, "p") is not None  # data kept


def test_downgrade_to_base_then_upgrade_again(migrated):
    url, engine = migrated
    before = schema_of(engine)
    run_alembic(url, command.downgrade, "base")
    assert revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    run_alembic(url, command.upgrade, "head")
    assert revision(engine) == head()
    assert schema_of(engine) == before
    assert differences(engine) == []
