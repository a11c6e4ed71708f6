"""Mail actions in the browser over HTTP: send a failed message again, remind one participant.

Each is a POST with CSRF from an administrator, recorded with the user's name, with its effect
visible in the status model; a viewer sees no form and gets 403; a refusal is a 400 page."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.engine import tick
from innspill.models import Event, OutboxMessage, Role
from innspill.models.db import make_engine, session_scope
from innspill.outbound.outbox import dispatch
from innspill.outbound.transport import CaptureTransport
from innspill.process.loading import get_definition, load_definition
from innspill.status import process_status
from tests.conftest import SEED, SEED_ID, TEST_DATABASE, new_database, oslo
from tests.test_dashboard import Page, csrf_of
from tests.test_failures import BERGEN, OPPDRAG, seed_with, store

NOW = oslo(2020, 3, 30, 9, 5)
LATER = oslo(2020, 4, 14, 10)  # two weeks on: reminders by hand make sense
ADMIN, VIEWER, PASSWORD = "kari", "ola", "riktig hest batteri stift"
TRONDHEIM = "trondheim-sekretariat"
BERGEN_NAME = "=?utf-8?q?Bergen=0ABcc:_x@evil.example?="
BERGEN_PAGE = f"/processes/{SEED_ID}/participants/{BERGEN}"
TRONDHEIM_PAGE = f"/processes/{SEED_ID}/participants/{TRONDHEIM}"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """Bergen's name hides a line break: its two invitations failed, the others were sent."""
    tmp = tmp_path_factory.mktemp("mail-actions")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    store(engine, seed_with(name=BERGEN_NAME), NOW)
    assert len(tick(engine, now=NOW).failed) == 2
    asyncio.run(dispatch(engine, CaptureTransport(tmp / "mail"), now=NOW))
    with session_scope(engine) as session:
        create_user(session, ADMIN, PASSWORD, now=datetime.now(UTC), role=Role.ADMIN)
        create_user(session, VIEWER, PASSWORD, now=datetime.now(UTC), role=Role.VIEWER)
    engine.dispose()
    settings = Settings(data_dir=tmp / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    application = create_app(settings)
    application.dependency_overrides[get_now] = lambda: LATER
    yield application
    application.state.engine.dispose()
    drop()


def tmp_mail(app: FastAPI) -> Path:
    return Path(app.state.settings.data_dir) / "mail"


def signed_in(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


@pytest.fixture(scope="module")
def admin(app: FastAPI) -> Iterator[TestClient]:
    with signed_in(app, ADMIN) as client:
        yield client


@pytest.fixture(scope="module")
def viewer(app: FastAPI) -> Iterator[TestClient]:
    with signed_in(app, VIEWER) as client:
        yield client


def forms(page: Page) -> list[str]:
    """The hidden action inputs of the page's forms (what a user can do there)."""
    return [str(f.get("value")) for f in page.fields if f.get("name") in ("back", "step")]


def failed_ids(app: FastAPI) -> list[int]:
    with Session(app.state.engine) as db:
        return list(
            db.exec(
                select(OutboxMessage.id)
                .where(OutboxMessage.participant_key == BERGEN, OutboxMessage.status == "failed")
                .order_by(col(OutboxMessage.id))
            ).all()
        )


def failed_ids_of(client: TestClient) -> list[int]:
    return failed_ids(client.app)  # type: ignore[arg-type]


def events(app: FastAPI, kind: str) -> list[Event]:
    with Session(app.state.engine) as db:
        return list(db.exec(select(Event).where(Event.kind == kind)).all())


def status_of(app: FastAPI, participant: str, step: str = OPPDRAG):  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as db:
        status = process_status(db, get_definition(db, SEED_ID), now=LATER)
    found = status.step(step)
    assert found is not None
    return status, next(p for p in found.participants if p.participant == participant)


def test_the_failed_messages_show_with_their_reason_and_a_button_for_admins_only(
    admin: TestClient, viewer: TestClient
) -> None:
    html = admin.get(BERGEN_PAGE).text
    page = Page(html)
    table = page.table("Meldinger til")
    assert len(table.rows) == 2
    assert all("line break" in row[table.column("Årsak")].text for row in table.rows)
    # a resend button per failed message (the page has other forms: the actions on steps)
    assert len(re.findall(r'action="/messages/\d+/resend"', html)) == 2
    assert "Send påminnelse nå" not in [h for _, h in page.headings]  # invitation failed

    for failed_id in failed_ids_of(viewer):
        shown = viewer.get(f"/messages/{failed_id}")  # the message as stored: no bytes
        assert shown.status_code == 200, shown.text[:300]

    process = Page(viewer.get(f"/processes/{SEED_ID}").text)
    assert "Meldinger som feilet (2)" in [h for _, h in process.headings]
    # by name (here the odd one the fixture gave Bergen), with the key on hover (dashfeat)
    assert (f"{BERGEN_PAGE}#feilet", BERGEN_NAME) in process.links

    seen = Page(viewer.get(BERGEN_PAGE).text)
    assert len(seen.table("Meldinger til").rows) == 2
    assert forms(seen) == []
    messages = Page(viewer.get("/messages?status=failed").text)
    assert forms(messages) == [] and "Handling" not in messages.table("Meldingslogg").columns
    # The log lists messages: one failed (it carried the other invitation inside it).
    assert forms(Page(admin.get("/messages?status=failed").text)) == ["messages"]


def test_viewer_and_forged_posts_are_refused(
    app: FastAPI, admin: TestClient, viewer: TestClient
) -> None:
    first = failed_ids(app)[0]
    token = csrf_of(viewer.get("/").text)
    for url, data in [
        (f"/messages/{first}/resend", {}),
        (f"{TRONDHEIM_PAGE}/remind", {"step": OPPDRAG}),
    ]:
        assert viewer.post(url, data=data | {"csrf_token": token}).status_code == 403
        assert admin.post(url, data=data).status_code == 403  # no token
        assert admin.post(url, data=data | {"csrf_token": "forged"}).status_code == 403
    assert events(app, "message_resent") == [] and events(app, "reminder_queued") == []


def test_resend_is_refused_until_fixed_then_queued_and_recorded(
    app: FastAPI, admin: TestClient
) -> None:
    first = failed_ids(app)[0]
    token = csrf_of(admin.get(BERGEN_PAGE).text)
    refused = admin.post(f"/messages/{first}/resend", data={"csrf_token": token})
    assert refused.status_code == 400
    page = Page(refused.text)
    assert page.h1() == "Meldingen ble ikke sendt på nytt"
    assert any("kan fortsatt ikke lages" in a for a in page.alerts)
    assert (f"{BERGEN_PAGE}#feilet", "Tilbake") in page.links

    store(app.state.engine, load_definition(SEED), LATER)  # the name fixed and loaded
    done = admin.post(
        f"/messages/{first}/resend", data={"csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == f"{BERGEN_PAGE}#feilet"
    shown = Page(admin.get(done.headers["location"]).text)
    assert any("lagt i utboksen på nytt" in p for p in shown.texts["p"])
    (event,) = events(app, "message_resent")
    assert event.actor == ADMIN and f"#{first}" in event.detail
    status, bergen = status_of(app, BERGEN)
    assert [f.resent for f in status.failures if f.id == first] == [True]
    assert bergen.failed == []
    assert "Sendt på nytt" in [row[-1].text for row in shown.table("Meldinger til").rows]

    again = admin.post(f"/messages/{first}/resend", data={"csrf_token": token})
    assert again.status_code == 400 and "allerede sendt på nytt" in again.text
    assert admin.post("/messages/999999/resend", data={"csrf_token": token}).status_code == 404


def test_remind_now_queues_a_reminder_recorded_with_the_user(
    app: FastAPI, admin: TestClient
) -> None:
    page = Page(admin.get(TRONDHEIM_PAGE).text)
    assert OPPDRAG in forms(page)
    token = csrf_of(admin.get(TRONDHEIM_PAGE).text)
    done = admin.post(
        f"{TRONDHEIM_PAGE}/remind",
        data={"csrf_token": token, "step": OPPDRAG},
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = Page(admin.get(done.headers["location"]).text)
    assert any("påminnelse" in p and "utboksen" in p for p in shown.texts["p"])
    (event,) = events(app, "reminder_queued")
    assert event.actor == ADMIN and event.participant_key == TRONDHEIM
    with Session(app.state.engine) as db:
        row = db.exec(
            select(OutboxMessage).where(
                OutboxMessage.participant_key == TRONDHEIM, OutboxMessage.sequence == "manual-1"
            )
        ).one()
    assert (row.kind, row.status, row.step_key) == ("reminder", "pending", OPPDRAG)
    _, trondheim = status_of(app, TRONDHEIM)
    assert trondheim.reminders == 1  # the status model counts it

    twice = admin.post(f"{TRONDHEIM_PAGE}/remind", data={"csrf_token": token, "step": OPPDRAG})
    assert twice.status_code == 400 and "venter allerede" in twice.text
    # Once it is sent, a second one the same day is refused: one per participant and day.
    asyncio.run(dispatch(app.state.engine, CaptureTransport(tmp_mail(app)), now=LATER))
    third = admin.post(f"{TRONDHEIM_PAGE}/remind", data={"csrf_token": token, "step": OPPDRAG})
    assert third.status_code == 400
    assert "Det sendes høyst én påminnelse per deltaker og dag" in " ".join(third.text.split())
    bad = admin.post(f"{TRONDHEIM_PAGE}/remind", data={"csrf_token": token, "step": "nope"})
    assert bad.status_code == 400 and "Steget finnes ikke" in bad.text
    unknown = admin.post(
        f"/processes/nope/participants/{TRONDHEIM}/remind",
        data={"csrf_token": token, "step": OPPDRAG},
    )
    assert unknown.status_code == 404
