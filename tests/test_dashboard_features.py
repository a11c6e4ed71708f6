"""The dashboard's readable ids, participant select, explained counts, ended processes, and the
actions "Lag sammenstilling nå" and "Avlys møtet", over HTTP against the 2020 round played
through the engine until 28 May (seen the next morning, as the browser tests see it).

The action tests change the round: they come last, compilation before cancellation."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import func, select
from sqlmodel import Session, col

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.demo import run as demo
from innspill.engine import tick
from innspill.models import Document, Event, OutboxMessage, Role
from innspill.models.db import make_engine, session_scope
from innspill.outbound.outbox import dispatch
from innspill.outbound.transport import CaptureTransport
from innspill.process.definition import MeetingStep
from innspill.process.loading import get_definition
from innspill.status import process_status
from tests.conftest import SEED_ID, TEST_DATABASE, new_database, oslo
from tests.test_dashboard import Page, csrf_of

PLAYED_UNTIL = (2020, 5, 28)
NOW = oslo(2020, 5, 29, 8)
ADMIN, VIEWER, PASSWORD = "kari", "ola", "riktig hest batteri stift"
PROCESS = f"/processes/{SEED_ID}"
MEETING, COMPILATION = "halvdagsmote", "sammenstilling"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    tmp = tmp_path_factory.mktemp("dashfeat")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    transport = CaptureTransport(tmp / "mail")
    demo.setup(engine)
    for day in demo.days():
        if (day.year, day.month, day.day) > PLAYED_UNTIL:
            break
        demo.run_day(engine, transport, day)
    with session_scope(engine) as session:
        create_user(session, ADMIN, PASSWORD, now=datetime.now(UTC), role=Role.ADMIN)
        create_user(session, VIEWER, PASSWORD, now=datetime.now(UTC), role=Role.VIEWER)
    engine.dispose()
    settings = Settings(
        data_dir=tmp / "data",
        database_url=url,
        secret_key=demo.DEMO_SECRET,
        _env_file=None,  # type: ignore[call-arg]
    )
    application = create_app(settings)
    application.dependency_overrides[get_now] = lambda: NOW
    yield application
    application.state.engine.dispose()
    drop()


def _signed_in(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


# Per test: signing in at a later clock (2026) ends every session that expired by then.
@pytest.fixture
def admin(app: FastAPI) -> Iterator[TestClient]:
    with _signed_in(app, ADMIN) as client:
        yield client


@pytest.fixture
def viewer(app: FastAPI) -> Iterator[TestClient]:
    with _signed_in(app, VIEWER) as client:
        yield client


@pytest.fixture
def db(app: FastAPI) -> Iterator[Session]:
    with Session(app.state.engine) as session:
        yield session


@pytest.fixture
def at(app: FastAPI) -> Iterator[object]:
    def set_clock(instant: datetime) -> None:
        app.dependency_overrides[get_now] = lambda: instant

    yield set_clock
    app.dependency_overrides[get_now] = lambda: NOW


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- readable ids ---------------------------------------------------------------------------

CELL = re.compile(
    r'<td class="name">(?:<a href="[^"]*"|<span) title="([^"]+)">([^<]+)</(?:a|span)>'
)


def test_the_message_log_shows_names_with_the_keys_on_hover(admin: TestClient, db: Session) -> None:
    html = admin.get(f"/messages?process={SEED_ID}").text
    definition = get_definition(db, SEED_ID)
    rows = db.exec(
        select(OutboxMessage.step_key, OutboxMessage.participant_key)
        .where(OutboxMessage.process_id == SEED_ID)
        .order_by(col(OutboxMessage.id).desc())
        .limit(50)
    ).all()
    cells = CELL.findall(html)
    assert len(cells) == 3 * len(rows) == 150
    for (step, who), index in zip(rows, range(0, len(cells), 3), strict=True):
        process_cell, step_cell, person_cell = cells[index : index + 3]
        assert process_cell == (SEED_ID, "Retningslinjer for sekretariatene")
        assert step_cell == (step, definition.step(step).title)
        assert person_cell == (who, definition.participant(who).name)
    assert 'class="id"' not in html  # no key shown as text in the log any more
    # the participant's page too: each message's step by its title, the key on hover
    mine = admin.get(f"{PROCESS}/participants/tromso-sekretariat").text
    sent = Page(mine).table("Meldinger sendt til")
    titles = {s.title for s in definition.steps}
    assert sent.rows and {r[sent.column("Steg")].text for r in sent.rows} <= titles
    assert re.search(r'<td class="name"><span title="innspill-oppdrag">Innspill til', mine)
    assert "word-break: break-all" not in admin.get("/static/style.css").text


def test_the_participant_filter_is_a_select_of_names(admin: TestClient, db: Session) -> None:
    html = admin.get("/messages").text
    page = Page(html)
    field = next(f for f in page.fields if f.get("name") == "participant")
    assert field["tag"] == "select" and page.labels["f-participant"] == "Deltaker"
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', html)
    definition = get_definition(db, SEED_ID)
    people = [(o, n) for o, n in options if o in {p.id for p in definition.participants}]
    assert sorted(people, key=lambda p: p[1].casefold()) == people  # by name
    assert set(people) == {(p.id, p.name) for p in definition.participants}
    assert ("", "Alle deltakere") in options
    # choosing one filters by its key, and the select keeps the choice
    tromso = "tromso-sekretariat"
    chosen = admin.get(f"/messages?participant={tromso}").text
    assert f'<option value="{tromso}" selected>Sekretariatet for byvekstavtalen i Tromsø' in chosen
    log = Page(chosen).table("Meldingslogg")
    names = {row[log.column("Deltaker")].text for row in log.rows}
    assert names == {"Sekretariatet for byvekstavtalen i Tromsø"}


def test_the_log_says_what_it_counts_and_agrees_with_the_process_page(
    admin: TestClient, db: Session
) -> None:
    by_status = dict(
        db.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.process_id == SEED_ID)
            .group_by(OutboxMessage.status)
        ).all()
    )
    receipts = db.execute(select(func.count()).where(OutboxMessage.kind == "receipt")).scalar_one()
    total, sent, combined = sum(by_status.values()), by_status["sent"], by_status["combined"]
    assert combined > 0 and receipts > 0
    html = admin.get(f"/messages?process={SEED_ID}").text
    counts = _text(re.search(r'<p class="counts" id="telling">(.*?)</p>', html, re.S)[1])  # type: ignore[index]
    assert counts.startswith(
        f"{total} meldinger i alt, av dem {receipts} kvitteringer på svar: {sent} sendt og "
        f"{combined} sendt sammen med en annen invitasjon."
    ), counts
    failed, pending = by_status.get("failed", 0), by_status.get("pending", 0)
    mails = f"{sent} sendt, {pending} venter og {failed} feilet"
    assert f"Prosessiden teller bare egne e-poster ({mails}): De {combined} som" in counts
    # the process page's own count is those same numbers
    process = Page(admin.get(PROCESS).text)
    facts = dict(zip(process.texts["dt"], process.texts["dd"], strict=False))
    assert facts["Meldinger"] == f"{sent} sendt, {pending} venter, {failed} feilet"


# --- ended processes ------------------------------------------------------------------------


def test_an_ended_process_is_avsluttet_not_open(admin: TestClient, at, db: Session) -> None:
    row = re.compile(r'<tr data-process="[^"]+"[^>]*data-ended="(true|false)"')
    overview = admin.get("/").text
    assert row.findall(overview) == ["false"]
    assert "Pågår" in _text(admin.get(PROCESS).text)

    later = oslo(2026, 12, 7, 12)
    at(later)
    admin = _signed_in(admin.app, ADMIN)  # type: ignore[arg-type]  # the 2020 sign-in expired
    overview = admin.get("/").text
    assert row.findall(overview) == ["true"]
    table = Page(overview).table("Alle prosesser")
    current = table.rows[0][table.column("Nåværende steg")].text
    assert current == "Avsluttet Siste dag var 30. juni 2020"
    process = admin.get(PROCESS).text
    status = re.search(r'<dd id="prosess-status">(.*?)</dd>', process, re.S)
    assert status and _text(status[1]) == "Avsluttet Siste dag var 30. juni 2020"
    timeline = Page(process).table("Stegene i prosessen")
    states = [r[timeline.column("Tilstand")].text for r in timeline.rows]
    # played to May only: the draft was never circulated, so that step is over its deadline
    assert set(states) <= {"Over fristen", "Ferdig", "Avsluttet"}, states
    # as innspill.status computes it (the CLI and JSON say "closed" and ended)
    computed = process_status(db, get_definition(db, SEED_ID), now=later)
    assert computed.ended and computed.ends == "2020-06-30"
    assert {s.state for s in computed.steps} <= {"done", "overdue", "closed"}
    # the last day itself is not over yet
    before = process_status(db, get_definition(db, SEED_ID), now=oslo(2020, 6, 30, 23))
    assert not before.ended and "closed" not in {s.state for s in before.steps}


# --- Lag sammenstilling nå ------------------------------------------------------------------


def _versions(db: Session, step: str) -> list[Document]:
    return list(
        db.exec(
            select(Document)
            .where(Document.step_key == step, Document.kind == "compilation")
            .order_by(col(Document.version))
        ).scalars()
    )


def _events(db: Session, kind: str) -> list[Event]:
    return list(db.exec(select(Event).where(Event.kind == kind)).scalars())


def test_make_a_compilation_now(
    app: FastAPI, admin: TestClient, viewer: TestClient, at, db: Session
) -> None:
    url = f"{PROCESS}/steps/{COMPILATION}/compile"
    page = admin.get(PROCESS).text
    assert f'action="{url}"' in page
    assert f'action="{url}"' not in viewer.get(PROCESS).text
    token = csrf_of(page)
    before = len(_versions(db, COMPILATION))
    made_before = len(_events(db, "compilation_made"))
    assert viewer.post(url, data={"csrf_token": csrf_of(viewer.get("/").text)}).status_code == 403
    assert admin.post(url, data={}).status_code == 403  # no CSRF token
    assert admin.post(url, data={"csrf_token": "forged"}).status_code == 403
    assert (
        admin.post(f"{PROCESS}/steps/{MEETING}/compile", data={"csrf_token": token}).status_code
        == 404
    )

    # before anyone has answered the source step: refused, with why
    at(oslo(2020, 3, 30, 8, 30))
    early = admin.post(url, data={"csrf_token": token})
    assert early.status_code == 400
    assert Page(early.text).h1() == "Sammenstillingen ble ikke laget"
    assert "Ingen har svart på «Innspill til retningslinjer" in _text(early.text)
    at(NOW)

    done = admin.post(url, data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{PROCESS}#dok-{COMPILATION}"
    db.expire_all()
    versions = _versions(db, COMPILATION)
    assert len(versions) == before + 1
    new = versions[-1]
    assert new.created_by == ADMIN
    events = _events(db, "compilation_made")
    assert len(events) == made_before + 1 and events[-1].actor == ADMIN
    assert events[-1].step_key == COMPILATION
    shown = _text(admin.get(done.headers["location"]).text)
    title = "Sammenstilling av innspill til retningslinjene"
    assert f"Sammenstillingen «{title}» er laget: Versjon {new.version}" in shown
    assert "Den sendes til utrederne ved neste utsending" in shown
    # the process page lists the new version, made by the user
    tables = Page(admin.get(PROCESS).text).tables
    listed = [r for t in tables for r in t.rows if r and r[0].text.startswith(new.filename)]
    assert len(listed) == 1 and listed[0][-1].text == ADMIN

    # nothing new since: refused, nothing made
    again = admin.post(url, data={"csrf_token": token})
    assert again.status_code == 400 and Page(again.text).h1() == "Ingen ny sammenstilling"
    assert f"Versjon {new.version} av" in _text(again.text)
    db.expire_all()
    assert len(_versions(db, COMPILATION)) == before + 1


# --- Avlys møtet ----------------------------------------------------------------------------


def _calendar(raw: bytes) -> Calendar:
    message: Message = message_from_bytes(raw)
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return Calendar.from_ical(payload)


def _event_fields(raw: bytes) -> tuple[str, str, int]:
    calendar = _calendar(raw)
    (event,) = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])


def test_cancel_the_meeting_sends_the_cancellation_with_the_same_uid(
    app: FastAPI, admin: TestClient, viewer: TestClient, db: Session, tmp_path: Path, at
) -> None:
    url = f"{PROCESS}/steps/{MEETING}/cancel"
    page = admin.get(PROCESS).text
    assert f'action="{url}"' in page and "Avlys møtet" in page
    assert f'action="{url}"' not in viewer.get(PROCESS).text
    token = csrf_of(page)
    invited = {
        r.participant_key: r.raw
        for r in db.exec(
            select(OutboxMessage).where(
                OutboxMessage.step_key == MEETING,
                OutboxMessage.kind == "meeting_invitation",
                OutboxMessage.status == "sent",
            )
        ).scalars()
    }
    assert len(invited) >= 9  # the secretariats and the drafter
    viewer_token = csrf_of(viewer.get("/").text)
    assert viewer.post(url, data={"csrf_token": viewer_token, "confirm": "yes"}).status_code == 403
    assert admin.post(url, data={"confirm": "yes"}).status_code == 403  # no CSRF token
    not_meeting = admin.post(f"{PROCESS}/steps/{COMPILATION}/cancel", data={"csrf_token": token})
    assert not_meeting.status_code == 404
    unconfirmed = admin.post(url, data={"csrf_token": token})
    assert unconfirmed.status_code == 400 and "Kryss av" in unconfirmed.text
    # too late: the meeting has begun, or the process has ended
    for instant, why in [
        (oslo(2020, 6, 9, 9, 30), "Møtet har allerede begynt"),
        (oslo(2026, 12, 7, 12), "Prosessen er avsluttet"),
    ]:
        at(instant)
        admin = _signed_in(app, ADMIN)  # the earlier sign-in may have expired by then
        token = csrf_of(admin.get("/").text)
        late = admin.post(url, data={"csrf_token": token, "confirm": "yes"})
        assert late.status_code == 400 and why in _text(late.text), _text(late.text)[:300]
        assert "Avlys møtet" not in admin.get(PROCESS).text  # no form offered then
    at(NOW)
    admin = _signed_in(app, ADMIN)
    token = csrf_of(admin.get(PROCESS).text)
    db.expire_all()
    assert not _meeting(db).cancelled and _events(db, "process_updated") == []

    done = admin.post(url, data={"csrf_token": token, "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303, done.text[:300]
    shown = _text(admin.get(done.headers["location"]).text)
    assert "«Halvdagsmøte om innspillene» 9. juni 2020 er avlyst" in shown
    db.expire_all()
    assert _meeting(db).cancelled
    (event,) = _events(db, "process_updated")
    assert event.actor == ADMIN and "cancelled of halvdagsmote: False -> True" in event.detail
    assert "Avlys møtet" not in admin.get(PROCESS).text  # nothing left to cancel
    twice = admin.post(url, data={"csrf_token": token, "confirm": "yes"})
    assert twice.status_code == 400 and "allerede avlyst" in twice.text

    # the next tick sends every invited participant the CANCEL of the same calendar entry
    engine = app.state.engine
    at_nine = oslo(2020, 5, 29, 9, 5)
    tick(engine, now=at_nine, outgoing=demo.DEMO_OUTGOING)
    asyncio.run(dispatch(engine, CaptureTransport(tmp_path / "mail"), now=at_nine))
    db.expire_all()
    cancels = {
        r.participant_key: r
        for r in db.exec(
            select(OutboxMessage).where(
                OutboxMessage.step_key == MEETING, OutboxMessage.kind == "meeting_cancel"
            )
        ).scalars()
    }
    assert set(cancels) == set(invited)
    for who, row in cancels.items():
        assert row.status == "sent"
        method, uid, sequence = _event_fields(row.raw)
        first_method, first_uid, first_sequence = _event_fields(invited[who])
        assert (method, first_method) == ("CANCEL", "REQUEST")
        assert uid == first_uid and sequence > first_sequence
    assert len(list((tmp_path / "mail").glob("*.eml"))) >= len(cancels)


def _meeting(db: Session) -> MeetingStep:
    step = get_definition(db, SEED_ID).step(MEETING)
    assert isinstance(step, MeetingStep)
    return step
