"""Resend from a failed message's own page (/messages/ID): the "Send på nytt" action there is
the log's and the participant page's (POST, CSRF, administrators only), refused with the reason
until the cause is fixed, then queued, and the page goes on to the new message.

Bergen's name hides a line break, so its invitations failed (tests/test_dashboard_mail.py); this
module gets a fresh copy of that database."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from innspill.models import OutboxMessage
from innspill.process.loading import load_definition
from tests.conftest import SEED
from tests.test_dashboard import Page, csrf_of
from tests.test_dashboard_mail import ADMIN, BERGEN, LATER, admin, app, events, viewer
from tests.test_failures import store

__all__ = ["admin", "app", "viewer"]


def _failed(app: FastAPI) -> int:
    """The failed message that carried Bergen's invitations (the other went inside it)."""
    with Session(app.state.engine) as db:
        rows = db.exec(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.participant_key == BERGEN,
                OutboxMessage.status == "failed",
                col(OutboxMessage.carried_by).is_(None),
            )
            .order_by(col(OutboxMessage.id))
        ).all()
    assert len(rows) == 1, rows
    return int(rows[0])


def test_only_an_administrator_sees_and_may_use_the_button(
    app: FastAPI, admin: TestClient, viewer: TestClient
) -> None:
    url = f"/messages/{_failed(app)}"
    html = admin.get(url).text
    assert len(re.findall(rf'action="{url}/resend"', html)) == 1
    page = Page(html)
    assert "Meldingen feilet" in [h for _, h in page.headings]
    assert [f.get("value") for f in page.fields if f.get("name") == "back"] == ["message"]
    # to and process by name, with the keys on hover
    assert re.search(rf'title="{BERGEN}">[^<]*Bergen', html)
    seen = viewer.get(url).text
    assert "/resend" not in seen and "Send på nytt" not in seen
    token = csrf_of(viewer.get("/").text)
    forged = viewer.post(f"{url}/resend", data={"csrf_token": token, "back": "message"})
    assert forged.status_code == 403
    assert admin.post(f"{url}/resend", data={"back": "message"}).status_code == 403  # no token
    assert events(app, "message_resent") == []


def test_refused_until_fixed_then_resent_and_the_page_goes_on_to_the_new_one(
    app: FastAPI, admin: TestClient
) -> None:
    failed = _failed(app)
    url = f"/messages/{failed}"
    token = csrf_of(admin.get(url).text)
    refused = admin.post(f"{url}/resend", data={"csrf_token": token, "back": "message"})
    assert refused.status_code == 400
    page = Page(refused.text)
    assert page.h1() == "Meldingen ble ikke sendt på nytt"
    assert any("kan fortsatt ikke lages" in a for a in page.alerts)
    assert (url, "Tilbake") in page.links  # back to the message, not the participant

    store(app.state.engine, load_definition(SEED), LATER)  # the name fixed and loaded
    done = admin.post(
        f"{url}/resend", data={"csrf_token": token, "back": "message"}, follow_redirects=False
    )
    assert done.status_code == 303, done.text[:500]
    new = int(done.headers["location"].removeprefix("/messages/"))
    assert new > failed
    shown = Page(admin.get(done.headers["location"]).text)
    assert any(f"den som feilet, nr. {failed}, står igjen i loggen" in p for p in shown.texts["p"])
    with Session(app.state.engine) as db:
        row = db.get(OutboxMessage, new)
        assert row is not None and (row.status, row.participant_key) == ("pending", BERGEN)
    (event,) = events(app, "message_resent")
    assert event.actor == ADMIN and f"#{failed}" in event.detail
    # the failed one's page now points to the new one, and offers no second resend
    old = admin.get(url).text
    assert f'href="/messages/{new}"' in old and f"{url}/resend" not in old
    again = admin.post(f"{url}/resend", data={"csrf_token": token, "back": "message"})
    assert again.status_code == 400 and "allerede sendt på nytt" in again.text
    assert (url, "Tilbake") in Page(again.text).links
