"""Odd input that used to give a 500 or slip through: a process file nested 1,000 levels deep,
and CSV cells that a spreadsheet would run as a formula once it skips their leading blanks."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.engine import tick
from innspill.errors import DefinitionError
from innspill.models import OutboxMessage, Process
from innspill.models.db import session_scope
from innspill.process.definition import parse_definition
from tests.conftest import SEED, SEED_ATTACHMENTS, SEED_FILES, load_seed, oslo

NOW = oslo(2020, 4, 14, 10)
ADMIN, PASSWORD = "saksbehandler", "riktig hest batteri stift"
SEED_TEXT = SEED.read_text("utf-8")
DEEP = {
    "arrays": "x = " + "[" * 1000 + "]" * 1000 + "\n",
    "inline tables": "x = " + "{a = " * 1000 + "1" + "}" * 1000 + "\n",
    "100,000 arrays": "x = " + "[" * 100_000 + "\n",
}


@pytest.fixture
def app(database_url: str, engine, tmp_path: Path) -> FastAPI:  # type: ignore[no-untyped-def]
    load_seed(engine)
    tick(engine, now=oslo(2020, 3, 30, 9))
    with session_scope(engine) as session:
        create_user(session, ADMIN, PASSWORD, now=NOW)
    application = create_app(
        Settings(data_dir=tmp_path / "data", database_url=database_url, _env_file=None)  # type: ignore[call-arg]
    )
    application.dependency_overrides[get_now] = lambda: NOW
    return application


@pytest.fixture
def admin(app: FastAPI) -> Iterator[tuple[TestClient, str]]:
    with TestClient(app) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        data = {"username": ADMIN, "password": PASSWORD, "next": "/", "csrf_token": token[1]}
        assert client.post("/login", data=data, follow_redirects=False).status_code == 303
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/load").text)
        assert csrf
        yield client, csrf[1]


@pytest.mark.parametrize("nested", DEEP.values(), ids=DEEP.keys())
def test_a_process_file_nested_too_deeply_is_a_problem_not_a_crash(
    nested: str, tmp_path: Path, cli
) -> None:  # type: ignore[no-untyped-def]
    text = SEED_TEXT.replace("[process]\n", "[process]\n" + nested, 1)
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, file="dyp.toml")
    (problem,) = caught.value.problems
    assert "nested too deeply" in problem.message
    path = tmp_path / "dyp.toml"
    path.write_text(text, "utf-8")
    result = cli("validate", str(path))
    assert result.exit_code == 1
    assert "nested too deeply" in result.output and "Traceback" not in result.output


def test_the_dashboard_refuses_a_deeply_nested_file_with_a_400(
    admin: tuple[TestClient, str], engine
) -> None:  # type: ignore[no-untyped-def]
    client, csrf = admin
    text = SEED_TEXT.replace("[process]\n", "[process]\n" + DEEP["arrays"], 1)
    files = [("process_file", ("dyp.toml", text.encode(), "application/toml"))]
    files += [
        ("attachments", (n, (SEED_FILES / n).read_bytes(), "text/markdown"))
        for n in SEED_ATTACHMENTS
    ]
    response = client.post("/load", data={"csrf_token": csrf}, files=files)
    assert response.status_code == 400
    assert "nested too deeply" in response.text and "Ingenting er lastet inn" in response.text
    with Session(engine) as session:
        assert len(session.exec(select(Process)).all()) == 1  # the seed, unchanged


#: Subjects a spreadsheet would run once it skips the blanks (or reads full-width signs).
FORMULAS = [" =1+1", "\t=1+1", "  +1+1", "\u00a0-1+1", "\u3000@SUM(1)", "\uff1d1+1", "=1+1"]


def test_csv_cells_with_blanks_before_a_formula_are_prefixed(
    admin: tuple[TestClient, str], app: FastAPI
) -> None:
    client, _csrf = admin
    with Session(app.state.engine) as session:
        ids = session.exec(select(OutboxMessage.id).order_by(col(OutboxMessage.id))).all()
        subjects = dict(zip(ids, [*FORMULAS, " 1 + 1 = 2"], strict=False))
        for message_id, subject in subjects.items():
            session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == message_id)
                .values(subject=subject)
            )
        session.commit()
    response = client.get("/messages.csv")
    assert response.status_code == 200
    rows = {
        int(r["id"]): r["emne"]
        for r in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";")
    }
    for message_id, subject in subjects.items():
        expected = subject if subject == " 1 + 1 = 2" else "'" + subject
        assert rows[message_id] == expected, subject
