"""Assigning held mail: what it would replace is shown first; an auto-reply, a bounce or a
message that came after the step closed needs an explicit confirmation, else it is refused with
a reason in bokmål; versions count by when they were received, never by when they were
assigned (status, compilation, receipts, the form); an answer registered after the step closed
is marked so and the case officer warned.

Mail goes through the real import (tokens, auto-reply detection), receipts through the recording
SMTP server, the compilation is read back with python-docx, the dashboard over HTTP."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage

import docx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.demo.scenario import reply_mail
from innspill.documents.store import make_compilation
from innspill.inbound.assignment import AssignRefused
from innspill.inbound.intake import assign, import_mail
from innspill.models import Answer, Event, InboundMessage, InboundStatus, Role
from innspill.models.db import session_scope
from innspill.process.loading import get_definition
from innspill.status import process_status
from tests.conftest import SEED_ID, Run, failed, load_seed, ok, oslo, tick_and_send
from tests.smtp_sink import SmtpSink
from tests.test_dashboard import Page, csrf_of

STEP = "innspill-retningslinjer"
TRONDHEIM = "trondheim-sekretariat"
BERGEN = "bergen-sekretariat"
AWAY = "Jeg er på ferie til 14. april og leser ikke e-post."
REAL = "Trondheim mener sekretariatet skal være partsnøytralt."


def imported(engine: Engine, raw: bytes, at: datetime, uid: str) -> InboundMessage:
    with session_scope(engine) as session:
        row = import_mail(session, raw, source="t", uid=uid, received_at=at, now=at).message
        session.expunge(row)
        return row


def mailed(engine: Engine, who: str, at: datetime, uid: str, **kwargs: object) -> InboundMessage:
    with session_scope(engine) as session:
        raw = reply_mail(session, get_definition(session, SEED_ID), STEP, who, at, **kwargs)  # type: ignore[arg-type]
    return imported(engine, raw, at, uid)


def versions(engine: Engine, who: str) -> list[tuple[int, datetime, datetime | None, str]]:
    with Session(engine) as session:
        return [
            (a.version, a.received_at, a.registered_at, a.text_json)
            for a in session.exec(
                select(Answer).where(Answer.participant_key == who).order_by(col(Answer.version))
            ).all()
        ]


@pytest.fixture
def trondheim(engine: Engine, settings: Settings) -> InboundMessage:
    """Day one sent; Trondheim's out-of-office of 30 March held; its real answer of 27 May."""
    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 3, 30, 9, 0))
    away = mailed(
        engine,
        TRONDHEIM,
        oslo(2020, 3, 30, 9, 5),
        "ooo",
        texts={},
        auto_submitted="auto-replied",
        body=AWAY,
    )
    assert (away.status, away.kind) == (InboundStatus.HELD, "auto_reply")
    real = mailed(engine, TRONDHEIM, oslo(2020, 5, 27, 9, 30), "real", texts={"rolle": REAL})
    assert real.status == InboundStatus.ACCEPTED
    tick_and_send(engine, settings, oslo(2020, 6, 3, 9, 5))  # the compilation, version 1
    return away


def test_an_out_of_office_reply_needs_a_confirmation_and_never_becomes_the_latest_answer(
    trondheim: InboundMessage, engine: Engine, settings: Settings, cli: Run
) -> None:
    held = str(trondheim.id)
    args = ("inbox", "assign", held, SEED_ID, STEP, TRONDHEIM, "--at", "2020-07-02T10:00")
    # Shown first: what it would replace, that the process has ended; nothing changes.
    shown = " ".join(ok(cli(*args, "--dry-run")).split())
    assert "Meldingen er et automatisk svar (for eksempel et fraværsvarsel)" in shown
    assert (
        "Meldingen ble mottatt 30. mars 2020 kl. 09.05, før versjon 1 (mottatt 27. mai 2020 "
        "kl. 09.30), som fortsatt er gjeldende svar." in shown
    )
    assert "Prosessen er avsluttet" in shown and "nothing was changed" in shown
    # Without --confirm: refused, in bokmål, and nothing is written.
    refused = " ".join(failed(cli(*args)).split())
    assert "Meldingen er et automatisk svar" in refused
    assert "Bekreft at den likevel skal bli svaret. (--confirm)" in refused
    assert len(versions(engine, TRONDHEIM)) == 1

    said = " ".join(ok(cli(*args, "--confirm")).split())
    assert f"Message {held} is now the answer of {TRONDHEIM}" in said
    assert "før versjon 1" in said
    (real, away) = versions(engine, TRONDHEIM)
    # Numbered in the order registered; received 30 March, registered 2 July.
    assert (real[0], away[0]) == (1, 2)
    assert away[1] == oslo(2020, 3, 30, 9, 5) and away[2] == oslo(2020, 7, 2, 10)
    assert AWAY in away[3]
    with Session(engine) as session:
        (event,) = session.exec(select(Event).where(Event.kind == "inbound_assigned")).all()
        assert "received before version 1, which still counts" in event.detail
        assert "confirmed (auto_reply)" in event.detail

        # The status counts the answer received last as the one that counts.
        status = process_status(session, get_definition(session, SEED_ID), now=oslo(2020, 7, 2, 11))
    step = status.step(STEP)
    assert step is not None
    (mine,) = [p for p in step.participants if p.participant == TRONDHEIM]
    assert mine.answer_versions == 2
    assert mine.latest_at == "2020-05-27T09:30:00+02:00"

    # Nothing new to compile: the out-of-office changes nothing the drafters see; a
    # compilation made anyway shows the real answer.
    compiled = ok(cli("compile", SEED_ID, "sammenstilling", "--at", "2020-07-02T11:00"))
    assert "already has every answer" in compiled
    with session_scope(engine) as session:
        made = make_compilation(
            session, get_definition(session, SEED_ID), "sammenstilling", now=oslo(2020, 7, 2, 12)
        )
        content = made.content
    text = "\n".join(
        cell.text
        for table in docx.Document(io.BytesIO(content)).tables
        for row in table.rows
        for cell in row.cells
    )
    assert REAL in text and "ferie" not in text


def test_an_older_message_gets_a_receipt_that_says_the_later_answer_counts(
    engine: Engine, settings: Settings, smtp: SmtpSink, cli: Run
) -> None:
    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 3, 30, 9, 0))
    # Bergen's first mail came from a private address, without our token: held.
    first = EmailMessage()
    first["From"] = "Kari i Bergen <kari@privat.example>"
    first["To"] = "byvekst-innspill@vegvesen.example"
    first["Subject"] = "Innspill til retningslinjene"
    first["Message-ID"] = "<forste@privat.example>"
    first.set_content("Hei!\n\nVårt første innspill om rollen.\n\nHilsen Kari")
    held = imported(engine, first.as_bytes(), oslo(2020, 5, 20, 12), "first")
    assert held.status == InboundStatus.HELD
    mailed(engine, BERGEN, oslo(2020, 5, 25, 16, 5), "real", texts={"rolle": "Det endelige."})

    said = ok(
        cli("inbox", "assign", str(held.id), SEED_ID, STEP, BERGEN, "--at", "2020-05-28T08:00")
    )
    assert "før versjon 1" in " ".join(said.split())  # no confirmation needed: a person's mail
    tick_and_send(engine, settings, oslo(2020, 5, 28, 9, 5))
    receipts = [r for r in smtp.handler.to("sekretariat@bergen.byvekst.example")]
    (receipt,) = [
        r for r in receipts if r.subject.startswith("Kvittering") and "versjon 2" in r.subject
    ]
    text = " ".join(receipt.text().split())
    # Bergen writes nynorsk.
    assert "Motteke: 20. mai 2020 kl. 12.00" in text
    assert (
        "Dette innspelet kom inn før det de sende 25. mai 2020 kl. 16.05. Det er "
        "innspelet frå 25. mai 2020 som gjeld; vi tek vare på begge." in text
    )
    assert "Vårt første innspill om rollen." in text


def test_registered_after_the_step_closed_is_marked_and_a_late_message_needs_confirming(
    engine: Engine, settings: Settings, cli: Run
) -> None:
    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 3, 30, 9, 0))
    in_time = EmailMessage()
    in_time["From"] = "Bergen <sekretariat@bergen.byvekst.example>"
    in_time["To"] = "byvekst-innspill@vegvesen.example"
    in_time["Subject"] = "Innspill"
    in_time["Message-ID"] = "<i-tide@bergen.example>"
    in_time.set_content("Innspill som kom i tide, men uten nøkkel.")
    held = imported(engine, in_time.as_bytes(), oslo(2020, 6, 2, 12), "a")
    late = imported(
        engine,
        in_time.as_bytes().replace(b"i-tide@", b"sent@").replace(b"kom i tide", b"kom sent"),
        oslo(2020, 6, 5, 12),
        "b",
    )
    # Assigned on 5 June: the step closed on 3 June, the day its compilation is made.
    said = " ".join(
        ok(
            cli("inbox", "assign", str(held.id), SEED_ID, STEP, BERGEN, "--at", "2020-06-05T13:00")
        ).split()
    )
    assert "Steget ble stengt 3. juni 2020. Svaret registreres etter det, og blir merket slik." in (
        said
    )
    with session_scope(engine) as session, pytest.raises(AssignRefused) as caught:
        assign(
            session,
            late.id or 0,
            process_id=SEED_ID,
            step_id=STEP,
            participant_id=BERGEN,
            by="kari",
            now=oslo(2020, 6, 5, 13),
        )
    assert caught.value.code == "confirm_after_close"
    assert "etter at steget ble stengt (3. juni 2020)" in caught.value.norwegian

    with session_scope(engine) as session:
        made = make_compilation(
            session, get_definition(session, SEED_ID), "sammenstilling", now=oslo(2020, 6, 5, 14)
        )
        content = made.content
    cells = [
        cell.text
        for table in docx.Document(io.BytesIO(content)).tables
        for row in table.rows
        for cell in row.cells
    ]
    assert any("registrert etter at innspillsrunden ble stengt 3. juni 2020" in c for c in cells)

    # By hand after the step closed: registered, marked, and the case officer warned.
    out = cli(
        "answer",
        "add",
        SEED_ID,
        STEP,
        "tromso-sekretariat",
        "--text",
        "rolle=Et brev som kom i posten.",
        "--at",
        "2020-06-08T10:00",
    )
    assert "warning: Steget ble stengt 3. juni 2020" in " ".join(ok(out).split())


ADMIN, PASSWORD = "kari", "riktig hest batteri stift"


@pytest.fixture
def admin(trondheim: InboundMessage, engine: Engine, settings: Settings) -> Iterator[TestClient]:
    with session_scope(engine) as session:
        create_user(session, ADMIN, PASSWORD, now=datetime.now(UTC), role=Role.ADMIN)
    app = create_app(settings)
    app.dependency_overrides[get_now] = lambda: oslo(2020, 6, 4, 10)
    with TestClient(app) as client:
        token = csrf_of(client.get("/login").text)
        assert (
            client.post(
                "/login",
                data={"username": ADMIN, "password": PASSWORD, "csrf_token": token, "next": "/"},
                follow_redirects=False,
            ).status_code
            == 303
        )
        yield client
    app.state.engine.dispose()


def test_the_dashboard_shows_what_it_replaces_and_asks_for_a_confirmation(
    admin: TestClient, trondheim: InboundMessage, engine: Engine
) -> None:
    url = f"/inbox/{trondheim.id}"
    page = admin.get(url)
    # The out-of-office is tied to Trondheim's first step by its token: choose the second.
    choice = {"step": f"{SEED_ID}/{STEP}", "participant": TRONDHEIM}
    token = csrf_of(page.text)
    shown = admin.post(f"{url}/assign", data=choice | {"csrf_token": token})
    assert shown.status_code == 200
    view = Page(shown.text)
    assert "Hva tildelingen gjør" in [h for _, h in view.headings]
    text = " ".join(shown.text.split())
    assert "Gjeldende svar nå" in text and "Versjon 1, mottatt" in text
    assert REAL in text  # the first lines of what it would replace
    assert "Meldingen er et automatisk svar" in text
    assert 'name="confirm"' in shown.text
    previewed = choice | {"csrf_token": token, "previewed": f"{SEED_ID}/{STEP}|{TRONDHEIM}"}

    refused = admin.post(f"{url}/assign", data=previewed)
    assert refused.status_code == 400
    assert any("Kryss av i boksen" in a for a in Page(refused.text).alerts)
    assert len(versions(engine, TRONDHEIM)) == 1

    done = admin.post(f"{url}/assign", data=previewed | {"confirm": "1"}, follow_redirects=False)
    assert done.status_code == 303
    notice = " ".join(Page(admin.get("/inbox").text).texts["p"])
    assert "som fortsatt er gjeldende svar" in notice
    assert len(versions(engine, TRONDHEIM)) == 2
    participant = admin.get(f"/processes/{SEED_ID}/participants/{TRONDHEIM}").text
    assert "(gjeldende)" in participant and "En senere mottatt versjon gjelder" in participant
    assert json.loads(versions(engine, TRONDHEIM)[0][3]) == {"rolle": REAL}
