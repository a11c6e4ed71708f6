"""The journal pages over HTTP, as a viewer reads them, over the whole 2020 round played through
the engine: the process's journal and the public journal as a page and as CSV."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.policy import default
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlmodel import Session

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.demo import run as demo
from innspill.models import JournalEntry, OutboxMessage, Role
from innspill.models.db import make_engine, session_scope, table_of
from innspill.outbound.transport import CaptureTransport
from tests.conftest import SEED_ID, TEST_DATABASE, new_database, oslo
from tests.test_dashboard import Page, parse_csv, sign_in

VIEWER, PASSWORD = "lise.leser", "et langt passord for leseren"
AFTER = oslo(2020, 6, 30, 12)
JOURNAL = f"/processes/{SEED_ID}/journal"


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The whole 2020 round played once for this module; its mail kept as .eml files."""
    tmp = tmp_path_factory.mktemp("journal")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    demo.run(engine, CaptureTransport(tmp / "mail"))
    with session_scope(engine) as session:
        create_user(session, VIEWER, PASSWORD, now=datetime.now(UTC), role=Role.VIEWER)
    engine.dispose()
    yield url, tmp
    drop()


@pytest.fixture(scope="module")
def app(played: tuple[str, Path]) -> Iterator[FastAPI]:
    url, tmp = played
    settings = Settings(data_dir=tmp / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    application = create_app(settings)
    application.dependency_overrides[get_now] = lambda: AFTER
    yield application
    application.state.engine.dispose()


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        sign_in(c, VIEWER, PASSWORD)
        yield c


@pytest.fixture
def db(app: FastAPI) -> Iterator[Session]:
    with Session(app.state.engine) as session:
        yield session


def page(client: TestClient, url: str) -> Page:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return Page(response.text)


def test_the_process_journal_lists_every_entry_with_its_links(
    client: TestClient, db: Session
) -> None:
    p = page(client, JOURNAL)
    (table,) = p.tables
    assert table.caption == "Journalposter i saken 20/64758"
    entries = db.exec(select(func.count()).select_from(JournalEntry)).one()[0]
    letters = db.exec(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.status.in_(["sent", "failed", "pending"]),  # type: ignore[attr-defined]
            OutboxMessage.kind != "compilation",
        )
    ).one()[0]
    # every letter sent as its own mail (not the compilation's mails), 16 answers, five
    # compilation versions (three of part 1, two of part 2) and one draft
    assert entries == letters + 16 + 5 + 1 == len(table.rows)
    assert [r[0].text for r in table.rows] == [
        f"20/64758-{n}" for n in range(6, 6 + len(table.rows))
    ]
    first = table.rows[0]
    assert first[3].text == "Utgående"
    assert ("/messages/", "Brevet slik det ble sendt (20/64758-6)") in [
        (href[:10], text) for href, text in first[6].links
    ]
    answer = next(r for r in table.rows if r[3].text == "Inngående")
    (href, _text) = answer[6].links[0]
    assert href.startswith(f"/processes/{SEED_ID}/participants/") and "#svar-" in href
    made = next(r for r in table.rows if r[5].text.startswith("Sammenstilling av innspill"))
    assert made[3].text == "Organinternt" and made[6].links[0][0].startswith("/documents/")
    assert client.get(made[6].links[0][0]).status_code == 200
    process = client.get(f"/processes/{SEED_ID}").text
    assert process.count(f'href="{JOURNAL}"') == 1
    assert f"Journal</dt><dd>{entries} journalposter, siste 20/64758-{5 + entries}</dd>" in process
    assert client.get("/processes/ingen/journal").status_code == 404


def test_the_public_journal_as_page_and_csv(client: TestClient, db: Session) -> None:
    p = page(client, "/journal?from=2020-04-01&to=2020-04-30")
    (table,) = p.tables
    assert [c.text for c in table.head[-1]] == [
        "Journaldato",
        "Dokumentnr.",
        "Type",
        "Avsender eller mottaker",
        "Sak",
        "Tittel",
    ]
    e = table_of(JournalEntry)
    april = db.execute(
        select(func.count()).where(
            e.c.journal_date >= datetime(2020, 4, 1).date(),
            e.c.journal_date <= datetime(2020, 4, 30).date(),
        )
    ).scalar_one()
    assert len(table.rows) == april > 20
    assert "@" not in client.get("/journal?from=2020-04-01&to=2020-04-30").text.split("<main")[1]

    response = client.get("/journal.csv?from=2020-04-01&to=2020-04-30")
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert "offentlig-journal-2020-04-01-2020-04-30.csv" in response.headers["content-disposition"]
    rows = parse_csv(response.content)
    assert len(rows) == april
    assert list(rows[0]) == [
        "journaldato",
        "dokumentnummer",
        "type",
        "avsender/mottaker",
        "sak",
        "tittel",
    ]
    assert [r["dokumentnummer"] for r in rows] == [r[1].text for r in table.rows]
    assert rows[0]["sak"] == "Innspill til retningslinjer for sekretariatene for byvekstavtalene"
    assert not any("@" in value for r in rows for value in r.values())


def test_a_screened_title_and_a_formula_are_shown_safely(client: TestClient, app: FastAPI) -> None:
    e = table_of(JournalEntry)
    with app.state.engine.begin() as conn:
        target = conn.execute(
            select(e.c.id, e.c.title).where(e.c.source == "answer").order_by(e.c.id).limit(1)
        ).one()
        conn.execute(
            update(e)
            .where(e.c.id == target.id)
            .values(public_title="Innspill fra *****", correspondent_name="=HYPERLINK(1)")
        )
    try:
        day = "2020-04-02"
        public = client.get(f"/journal?from={day}&to={day}").text
        assert "Innspill fra *****" in public and target.title not in public
        (row,) = [
            r
            for r in parse_csv(client.get(f"/journal.csv?from={day}&to={day}").content)
            if r["tittel"] == "Innspill fra *****"
        ]
        assert row["avsender/mottaker"] == "'=HYPERLINK(1)"
        # the case officer's journal shows both
        own = client.get(JOURNAL).text
        assert target.title in own and "Offentlig tittel: Innspill fra *****" in own
    finally:
        with app.state.engine.begin() as conn:
            conn.execute(update(e).where(e.c.id == target.id).values(public_title=None))


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("from=30.03.2020", "ikke en gyldig fra-dato"),
        ("from=2020-05-02&to=2020-05-01", "Fra-datoen er etter til-datoen"),
        ("from=2019-01-01&to=2020-06-30", "høyst 366 dager"),
        ("to=" + "9" * 20, "Ugyldig forespørsel"),
    ],
)
def test_a_wrong_range_is_refused_with_what_to_do(
    client: TestClient, query: str, words: str
) -> None:
    for path in ("/journal", "/journal.csv"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400
        assert words in response.text


def test_by_default_the_last_week(client: TestClient) -> None:
    p = page(client, "/journal")
    assert ("f-from", "2020-06-24") in [(f.get("id"), f.get("value")) for f in p.fields]
    assert ("f-to", "2020-06-30") in [(f.get("id"), f.get("value")) for f in p.fields]


def test_the_journal_needs_a_sign_in(app: FastAPI) -> None:
    with TestClient(app) as anonymous:
        for path in (JOURNAL, "/journal", "/journal.csv"):
            response = anonymous.get(path, follow_redirects=False)
            assert response.status_code == 303 and "/login" in response.headers["location"]


def test_every_letter_of_the_round_and_every_receipt_shows_its_number(
    played: tuple[str, Path], db: Session
) -> None:
    """The .eml files as the demo writes them: each letter's letterhead (text and HTML) has the
    number of its own entry, or for a compilation's mail the compilation's; each receipt names
    the number of the answer it confirms."""
    _, tmp = played
    e = table_of(JournalEntry)
    o = table_of(OutboxMessage)
    numbers = {
        (r.source, r.source_key): f"{r.case_reference}-{r.document_number}"
        for r in db.execute(
            select(e.c.source, e.c.source_key, e.c.case_reference, e.c.document_number)
        )
    }
    rows = {
        r.message_id: r
        for r in db.execute(
            select(
                o.c.message_id, o.c.key, o.c.kind, o.c.sequence, o.c.step_key, o.c.participant_key
            )
        )
    }
    files = sorted((tmp / "mail").glob("*.eml"))
    assert len(files) >= 90  # the whole round: 100 letters when this was written
    receipts = 0
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        row = rows[str(message["Message-ID"])]
        if row.kind == "compilation":
            expected = numbers[
                ("compilation", f"{SEED_ID}/{row.step_key}/compilation/{row.sequence}")
            ]
        else:
            expected = numbers[("letter", row.key)]
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert text is not None and html is not None
        for body in (text.get_content(), html.get_content()):
            assert re.findall(r"Vår referanse: ([^\s<]+)", body) == [expected], path.name
        if row.kind == "receipt":
            answer = numbers[
                ("answer", f"{SEED_ID}/{row.step_key}/{row.participant_key}/{row.sequence}")
            ]
            answer_word = "Innspelet" if row.participant_key.startswith("bergen-") else "Innspillet"
            sentence = f"{answer_word} er journalført med vår referanse {answer}."  # Bergen: nn
            assert sentence in " ".join(text.get_content().split()), path.name
            assert sentence in html.get_content(), path.name
            receipts += 1
    assert receipts == 16
