"""A combined invitation (both request steps open on 30 March) that the relay refused, and what
touches its rows until it is sent again: the planner, `remind`, deadline notices, reloading the
process file with the corrected address, `innspill resend` and the dashboard's "Send på nytt".

The mail is read back from the recording SMTP server (aiosmtpd); replies go through the inbound
import, so the resent message's reply addresses are shown to work.
"""

from __future__ import annotations

import asyncio
import email.message
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.engine import tick
from innspill.inbound.intake import import_mail
from innspill.models import Answer, MessageStatus, OutboxMessage, Role
from innspill.models.db import session_scope
from innspill.outbound.compose import Outgoing
from innspill.outbound.outbox import dispatch
from innspill.outbound.remind import ReminderRefused, remind_now
from innspill.outbound.resend import ResendRefused, resend
from innspill.outbound.transport import SmtpTransport
from innspill.process.deadlines import change_deadline
from innspill.process.loading import get_definition, load_file
from innspill.status import process_status
from tests.conftest import SEED, SEED_ID, copy_seed_files, oslo
from tests.smtp_sink import SmtpSink
from tests.test_dashboard import Page, csrf_of
from tests.test_failures import BERGEN, BERGEN_MAIL, OPPDRAG

RETNINGSLINJER = "innspill-retningslinjer"
FIXED = "post@bergen.byvekst.example"
OUTGOING = Outgoing(
    reply_to="byvekst-innspill@vegvesen.example",
    secret="test-secret-key-for-resends",
    public_url="https://innspill.example",
)
DAY_ONE = oslo(2020, 3, 30, 9, 5)
PLUS = re.compile(r"byvekst-innspill\+[a-z2-7]{32}@vegvesen\.example")
FORM = re.compile(r"https://innspill\.example/svar/[A-Za-z0-9_-]+")


def send(engine: Engine, settings: Settings, now: datetime) -> None:
    asyncio.run(dispatch(engine, SmtpTransport(settings), now=now))


def bergen_rows(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.participant_key == BERGEN)
                .order_by(col(OutboxMessage.id))
            ).all()
        )


def bergen_status(engine: Engine, now: datetime) -> dict[str, Any]:
    """Bergen's position in each request step: invited, and the failures listed there."""
    with Session(engine) as session:
        status = process_status(session, get_definition(session, SEED_ID), now=now)
    out: dict[str, Any] = {}
    for step_id in (OPPDRAG, RETNINGSLINJER):
        step = status.step(step_id)
        assert step is not None
        (bergen,) = [p for p in step.participants if p.participant == BERGEN]
        out[step_id] = (bergen.invited, [f.id for f in bergen.failed])
    return out


def load_corrected(engine: Engine, folder: Path, at: datetime) -> None:
    """The process file with Bergen's address corrected, loaded again as `innspill load` does."""
    text = SEED.read_text("utf-8")
    assert text.count(BERGEN_MAIL) == 1
    path = folder / "prosess.toml"
    path.write_text(text.replace(BERGEN_MAIL, FIXED), encoding="utf-8")
    copy_seed_files(folder)
    with session_scope(engine) as session:
        load_file(session, path, now=at)


@pytest.fixture
def refused(engine: Engine, settings: Settings, smtp: SmtpSink) -> Iterator[None]:
    """Day one: the seed loaded, Bergen's combined invitation refused by the relay (550)."""
    with session_scope(engine) as session:
        load_file(session, SEED, now=DAY_ONE)
    tick(engine, now=DAY_ONE, outgoing=OUTGOING)
    smtp.handler.refuse[BERGEN_MAIL] = "550 5.1.1 No such user"
    send(engine, settings, DAY_ONE)
    yield


def test_a_refused_combined_invitation_leaves_both_parts_uninvited_and_unreminded(
    refused: None, engine: Engine, settings: Settings, smtp: SmtpSink, tmp_path: Path
) -> None:
    carrier, part = bergen_rows(engine)
    assert (carrier.step_key, carrier.status) == (OPPDRAG, MessageStatus.FAILED)
    assert (part.step_key, part.status, part.carried_by) == (
        RETNINGSLINJER,
        MessageStatus.COMBINED,
        carrier.key,
    )
    # Neither part reached Bergen, and each step says so with the relay's reason.
    shown = bergen_status(engine, DAY_ONE)
    assert shown == {OPPDRAG: (False, [carrier.id]), RETNINGSLINJER: (False, [part.id])}

    # The address is corrected and loaded: nothing is planned to Bergen until the invitation
    # is sent again: no reminder (20 April is 5 working days before 27 April), no notice of
    # the deadline moved for everyone, no overdue reminder (28 April, the day part 1 closes).
    load_corrected(engine, tmp_path, DAY_ONE + timedelta(hours=2))
    with session_scope(engine) as session:
        change_deadline(
            session,
            get_definition(session, SEED_ID),
            step_id=RETNINGSLINJER,
            deadline=date(2020, 6, 8),
            at=oslo(2020, 4, 15, 12),
            reason="Flere har bedt om mer tid",
            by="kari",
        )
    for day in (oslo(2020, 4, 20, 9, 5), oslo(2020, 4, 28, 9, 5)):
        report = tick(engine, now=day, outgoing=OUTGOING)
        assert BERGEN not in {a.participant_id for a in report.queued}, day
        assert len(report.queued) >= 8  # the others are reminded, or told of the new deadline
        reasons = {a.skip_reason for a in report.skipped if a.participant_id == BERGEN}
        assert reasons <= {"the invitation did not reach them (failed; resend it)"}, reasons
    with session_scope(engine) as session, pytest.raises(ReminderRefused) as caught:
        remind_now(
            session,
            get_definition(session, SEED_ID),
            RETNINGSLINJER,
            BERGEN,
            now=oslo(2020, 5, 4, 10),
            by="kari",
        )
    assert caught.value.code == "invitation_failed"
    assert len(bergen_rows(engine)) == 2


def test_resend_sends_every_part_again_and_the_parts_follow_the_new_message(
    refused: None, engine: Engine, settings: Settings, smtp: SmtpSink, tmp_path: Path
) -> None:
    carrier, part = bergen_rows(engine)
    load_corrected(engine, tmp_path, DAY_ONE + timedelta(hours=2))
    at = DAY_ONE + timedelta(hours=3)
    # Asked for the carried part (the second step's row), the message that carried it goes
    # again, with both parts.
    with session_scope(engine) as session:
        old, new = resend(session, part.id or 0, now=at, by="kari", outgoing=OUTGOING)
        old_id, new_key = old.id, new.key
    assert old_id == carrier.id
    rows = bergen_rows(engine)
    assert [(r.step_key, r.sequence, r.status) for r in rows] == [
        (OPPDRAG, "1", MessageStatus.FAILED),
        (RETNINGSLINJER, "1", MessageStatus.COMBINED),
        (OPPDRAG, "1-r1", MessageStatus.PENDING),
    ]
    assert rows[1].carried_by == new_key == rows[2].key
    # Not counted as invited while it waits; the failures are resolved.
    assert bergen_status(engine, at) == {OPPDRAG: (False, []), RETNINGSLINJER: (False, [])}
    with session_scope(engine) as session, pytest.raises(ResendRefused) as caught:
        resend(session, carrier.id or 0, now=at, by="kari")
    assert caught.value.code == "already_resent"

    before = len(smtp.received)
    send(engine, settings, at)
    (mail,) = smtp.received[before:]
    assert mail.rcpt_tos == [FIXED]
    assert bergen_status(engine, at) == {OPPDRAG: (True, []), RETNINGSLINJER: (True, [])}

    # Everything the failed message carried: both parts with their intros, themes, files,
    # deadlines, each part's reply address and form link.
    message = mail.message
    text = " ".join(message.get_body(preferencelist=("plain",)).get_content().split())
    html = message.get_body(preferencelist=("html",)).get_content()
    # (in nynorsk: Bergen writes nynorsk)
    assert "innspel i to delar" in text
    for title in (
        "Del 1: Innspel til oppdraget",
        "Del 2: Innspel til retningslinjer for sekretariata",
    ):
        assert title in text
    assert "blir teke opp som sak i styringsgruppa" in text  # part 1's intro
    assert "Retningslinjene bør vere omforeinte" in text  # part 2's intro
    assert "måndag 27. april 2020" in text and "tysdag 2. juni 2020" in text  # 1 June: Whit Monday
    second = text.rindex("Del 2: Innspel til retningslinjer for sekretariata")
    assert "Økonomi og kostnadsstyring" in text[second:]  # the second part's own themes
    assert [p.get_filename() for p in message.iter_attachments()] == [
        "oppdrag.pdf"
    ]  # made from oppdrag.md
    body = message.get_body(preferencelist=("plain",)).get_content()
    # One reply address for both parts (a reply says which part on its first line), and a
    # form per part.
    assert list(dict.fromkeys(PLUS.findall(body))) == [str(message["Reply-To"])]
    assert len(set(FORM.findall(body))) == 2 and len(set(FORM.findall(html))) == 2

    # A reply that starts "Del 2" is an answer to the second step.
    reply = email.message.EmailMessage()
    reply["From"] = f"Sekretariatet i Bergen <{FIXED}>"
    reply["To"] = str(message["Reply-To"])
    reply["Subject"] = f"SV: {message['Subject']}"
    reply["Message-ID"] = "<svar-2@bergen.byvekst.example>"
    reply.set_content("Del 2\n\nVi meiner sekretariatet bør vere partsnøytralt.")
    answered = at + timedelta(days=3)
    with session_scope(engine) as session:
        result = import_mail(
            session,
            reply.as_bytes(policy=default),
            source="t",
            uid="1",
            received_at=answered,
            now=answered,
        )
        assert result.message.status == "accepted"
    with Session(engine) as session:
        (step_key,) = session.exec(
            select(Answer.step_key).where(Answer.participant_key == BERGEN)
        ).all()
    assert step_key == RETNINGSLINJER

    # From now on Bergen is reminded of the part it has not answered, like everybody else.
    report = tick(engine, now=oslo(2020, 4, 20, 9, 5), outgoing=OUTGOING)
    assert (OPPDRAG, BERGEN) in {(a.step_id, a.participant_id) for a in report.queued}


def test_a_deadline_moved_while_the_part_was_undelivered_is_told_once_it_arrives(
    refused: None, engine: Engine, settings: Settings, smtp: SmtpSink, tmp_path: Path
) -> None:
    _carrier, part = bergen_rows(engine)
    with session_scope(engine) as session:
        change_deadline(
            session,
            get_definition(session, SEED_ID),
            step_id=RETNINGSLINJER,
            participant_id=BERGEN,
            deadline=date(2020, 6, 12),
            at=oslo(2020, 4, 1, 12),
            reason="Styringsgruppen i Bergen møtes først 11. juni",
            by="kari",
        )
    load_corrected(engine, tmp_path, oslo(2020, 4, 1, 13))
    assert BERGEN not in {a.participant_id for a in tick(engine, now=oslo(2020, 4, 2, 9, 5)).queued}
    with session_scope(engine) as session:
        resend(session, part.id or 0, now=oslo(2020, 4, 2, 10), by="kari", outgoing=OUTGOING)
    send(engine, settings, oslo(2020, 4, 2, 10))
    # The resent invitation repeats what the failed one said (2 June, where 1 June runs to);
    # the notice follows.
    report = tick(engine, now=oslo(2020, 4, 3, 9, 5), outgoing=OUTGOING)
    notices = [a for a in report.queued if a.participant_id == BERGEN]
    assert [(a.step_id, a.kind.value) for a in notices] == [(RETNINGSLINJER, "deadline_changed")]
    send(engine, settings, oslo(2020, 4, 3, 9, 5))
    notice = smtp.handler.to(FIXED)[-1]
    said = " ".join(notice.text().split())
    assert "utsett frå 2. juni 2020 til fredag 12. juni 2020" in said  # from the day in effect
    assert "Styringsgruppen i Bergen møtes først 11. juni" in said


ADMIN, PASSWORD = "kari", "riktig hest batteri stift"


@pytest.fixture
def dashboard(refused: None, engine: Engine, settings: Settings) -> Iterator[TestClient]:
    with session_scope(engine) as session:
        create_user(session, ADMIN, PASSWORD, now=datetime.now(UTC), role=Role.ADMIN)
    app: FastAPI = create_app(
        settings.model_copy(
            update={
                "secret_key": SecretStr(OUTGOING.secret or ""),
                "reply_to": OUTGOING.reply_to,
                "public_url": OUTGOING.public_url,
            }
        )
    )
    app.dependency_overrides[get_now] = lambda: DAY_ONE + timedelta(hours=3)
    with TestClient(app) as client:
        token = csrf_of(client.get("/login").text)
        signed = client.post(
            "/login",
            data={"username": ADMIN, "password": PASSWORD, "csrf_token": token, "next": "/"},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        yield client
    app.state.engine.dispose()


def test_send_again_on_the_dashboard_sends_both_parts(
    dashboard: TestClient, engine: Engine, settings: Settings, smtp: SmtpSink, tmp_path: Path
) -> None:
    page_url = f"/processes/{SEED_ID}/participants/{BERGEN}"
    page = Page(dashboard.get(page_url).text)
    table = page.table("Meldinger til")
    assert len(table.rows) == 2  # a line per part that did not arrive
    assert any("Sendt inne i melding nr." in r[table.column("Årsak")].text for r in table.rows)
    _carrier, part = bergen_rows(engine)
    load_corrected(engine, tmp_path, DAY_ONE + timedelta(hours=2))
    token = csrf_of(dashboard.get(page_url).text)
    done = dashboard.post(f"/messages/{part.id}/resend", data={"csrf_token": token})
    assert done.status_code == 200
    notice = " ".join(" ".join(Page(done.text).texts["p"]).split())
    assert "Innspill til retningslinjer for sekretariatene" in notice  # it says both go
    send(engine, settings, DAY_ONE + timedelta(hours=3))
    (mail,) = smtp.handler.to(FIXED)
    assert "innspel i to delar" in " ".join(mail.text().split())  # Bergen writes nynorsk
    # The failed message stays in the log as sent again; the part it carried arrived with it.
    rows = Page(dashboard.get(page_url).text).table("Meldinger til").rows
    assert [row[-1].text.strip() for row in rows] == ["Sendt på nytt"]
