"""A message that cannot be rendered fails alone; a failed message is sent again once fixed;
one participant is reminded by hand, and the schedule does not remind them twice that day."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from innspill.config.settings import Settings
from innspill.engine import tick
from innspill.inbound.answers import register_answer
from innspill.models import Event, MessageStatus, OutboxMessage, Participant
from innspill.models.db import session_scope
from innspill.outbound.compose import Outgoing
from innspill.outbound.outbox import dispatch
from innspill.outbound.remind import ReminderRefused, remind_now
from innspill.outbound.resend import ResendRefused, resend
from innspill.outbound.transport import SmtpTransport
from innspill.process.definition import ProcessDefinition
from innspill.process.loading import get_definition, load_definition, store_definition
from innspill.status import process_status
from tests.conftest import SEED, SEED_ID, Run, failed, ok, oslo, tick_and_send
from tests.smtp_sink import SmtpSink

NOW = oslo(2020, 3, 30, 9, 5)  # the seed's 18 invitations are due from 09:00 Oslo
BERGEN = "bergen-sekretariat"
BERGEN_MAIL = "sekretariat@bergen.byvekst.example"
OPPDRAG = "innspill-oppdrag"


def seed_with(**changes: Any) -> ProcessDefinition:
    """The seed with Bergen's secretariat changed, bypassing validation (as an old load could)."""
    seed = load_definition(SEED)
    people = [p.model_copy(update=changes) if p.id == BERGEN else p for p in seed.participants]
    return seed.model_copy(update={"participants": people})


def store(engine: Engine, definition: ProcessDefinition, at: datetime) -> None:
    with session_scope(engine) as session:
        store_definition(session, definition, source="test", now=at)


def outbox(engine: Engine, **where: Any) -> list[dict[str, Any]]:
    t = OutboxMessage.__table__  # type: ignore[attr-defined]
    query = select(t).order_by(t.c.id)
    for name, value in where.items():
        query = query.where(t.c[name] == value)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def events(engine: Engine, kind: str) -> list[dict[str, Any]]:
    e = Event.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(select(e).where(e.c.kind == kind).order_by(e.c.id))
        return [dict(r._mapping) for r in rows]


def send(engine: Engine, settings: Settings, now: datetime) -> None:
    asyncio.run(dispatch(engine, SmtpTransport(settings), now=now))


def test_a_message_that_cannot_be_rendered_fails_alone_and_is_resent_once_fixed(
    engine: Engine, settings: Settings, smtp: SmtpSink, cli: Run
) -> None:
    # A line break hidden in an encoded word: the stored definition is read back leniently.
    store(engine, seed_with(name="=?utf-8?q?Bergen=0ABcc:_x@evil.example?="), NOW)

    planned, sent = tick_and_send(engine, settings, NOW)

    # The 16 other invitations went out, two to a mail (both steps open on 30 March); Bergen's
    # failed with the reason, no bytes: the one that was to carry the other is failed, and the
    # carried one stays recorded as carried by it, so it shares its fate.
    assert len(planned.queued) == 16 and sent.sent == 8
    assert len(smtp.received) == 8
    assert all(BERGEN_MAIL not in r.rcpt_tos for r in smtp.received)
    bad = outbox(engine, participant_key=BERGEN)
    assert [r["status"] for r in bad] == [MessageStatus.FAILED.value, MessageStatus.COMBINED.value]
    assert bad[1]["carried_by"] == bad[0]["key"]
    assert all(r["raw"] == b"" and r["attempts"] == 0 for r in bad)
    assert "HeaderInjection" in bad[0]["last_error"] and "\n" not in bad[0]["last_error"]
    assert {a.participant_id for a, _ in planned.failed} == {BERGEN}
    assert len(events(engine, "message_failed")) == 2

    # Not tried again every tick: its natural key is recorded.
    again = tick(engine, now=NOW + timedelta(minutes=30))
    assert again.queued == [] and again.failed == []

    # The status model shows it per participant; the CLI says it and how to resend.
    with session_scope(engine) as session:
        status = process_status(session, get_definition(session, SEED_ID), now=NOW)
    oppdrag = status.step(OPPDRAG)
    assert oppdrag is not None
    bergen = next(p for p in oppdrag.participants if p.participant == BERGEN)
    assert len(bergen.failed) == 1 and "line break" in bergen.failed[0].error
    assert not bergen.invited
    # The carried invitation is listed too, with the carrier's reason; one message failed.
    assert len(status.failures) == 2 and status.failed == 1
    assert status.failures[1].carried_by == status.failures[0].id
    assert "line break" in status.failures[1].error
    assert "sent inside message" in str(status.failures[1])
    text = ok(cli("status", SEED_ID, "--at", "2020-03-30T09:40"))
    assert "MESSAGE FAILED" in text
    failed_id = next(r["id"] for r in bad if r["step_key"] == OPPDRAG)
    assert f"innspill resend {failed_id}" in text

    # Resending before the name is fixed is refused, and nothing is queued.
    refused = failed(cli("resend", str(failed_id), "--at", "2020-03-30T10:00"))
    assert "still could not be rendered" in refused and "line break" in refused
    assert len(outbox(engine)) == 18

    # Fixed in the process file and loaded again: resent under a new Message-ID.
    store(engine, load_definition(SEED), NOW + timedelta(minutes=50))
    said = ok(cli("resend", str(failed_id), "--at", "2020-03-30T10:00"))
    assert f"#{failed_id}" in said and BERGEN_MAIL in said
    rows = outbox(engine, participant_key=BERGEN, step_key=OPPDRAG)
    assert [(r["status"], r["sequence"]) for r in rows] == [("failed", "1"), ("pending", "1-r1")]
    assert rows[0]["message_id"] != rows[1]["message_id"]
    resent = events(engine, "message_resent")
    assert len(resent) == 1 and resent[0]["actor"] and f"#{failed_id}" in resent[0]["detail"]

    ok(cli("send", "--at", "2020-03-30T10:01"))
    arrived = [r for r in smtp.received if BERGEN_MAIL in r.rcpt_tos]
    assert len(arrived) == 1
    assert arrived[0].message_id == rows[1]["message_id"]
    assert "Bcc" not in str(arrived[0].message["To"])
    assert arrived[0].message["Bcc"] is None

    # The failure is resolved in the status; resending it (or a sent one) again is refused.
    with session_scope(engine) as session:
        status = process_status(session, get_definition(session, SEED_ID), now=NOW)
    oppdrag = status.step(OPPDRAG)
    assert oppdrag is not None
    assert next(p for p in oppdrag.participants if p.participant == BERGEN).failed == []
    assert [f.resent for f in status.failures if f.id == failed_id] == [True]
    assert "sent again already" in failed(cli("resend", str(failed_id)))
    assert "not failed" in failed(cli("resend", str(rows[1]["id"])))
    assert "no message" in failed(cli("resend", "999999"))


def test_resend_is_refused_while_the_address_still_fails_and_goes_to_the_new_one(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    store(engine, load_definition(SEED), NOW)
    tick(engine, now=NOW)
    smtp.handler.refuse[BERGEN_MAIL] = "550 5.1.1 No such user"
    send(engine, settings, NOW)
    (bounced,) = [r for r in outbox(engine, participant_key=BERGEN) if r["step_key"] == OPPDRAG]
    assert bounced["status"] == MessageStatus.FAILED.value

    with session_scope(engine) as session, pytest.raises(ResendRefused) as caught:
        resend(session, bounced["id"], now=NOW, by="kari")
    assert "still fails" in str(caught.value) and "innspill load" in str(caught.value)

    # A corrected address: loading it clears the failing flag, and the resend goes there.
    fixed = "post@bergen.byvekst.example"
    store(engine, seed_with(email=fixed), NOW + timedelta(hours=1))
    with engine.connect() as conn:
        flag = conn.execute(
            select(Participant.address_failing).where(  # type: ignore[call-overload]
                Participant.key == BERGEN  # type: ignore[arg-type]
            )
        ).scalar_one()
    assert flag is False
    later = NOW + timedelta(hours=1, minutes=5)
    with session_scope(engine) as session:
        old, new = resend(session, bounced["message_id"], now=later, by="kari", outgoing=Outgoing())
        new_id = new.message_id
    assert new.recipient == fixed and old.recipient == BERGEN_MAIL
    send(engine, settings, later)
    arrived = [r for r in smtp.received if fixed in r.rcpt_tos]
    assert [r.message_id for r in arrived] == [new_id]
    assert events(engine, "message_resent")[0]["actor"] == "kari"


def test_remind_now_queues_one_reminder_and_the_schedule_skips_that_day(
    engine: Engine, settings: Settings, smtp: SmtpSink, cli: Run
) -> None:
    store(engine, load_definition(SEED), NOW)
    tick_and_send(engine, settings, NOW)
    before = len(smtp.received)

    # 20 April, 08:00: before the scheduled reminders (09:00) a case officer reminds Bergen.
    said = ok(cli("remind", SEED_ID, OPPDRAG, BERGEN, "--at", "2020-04-20T08:00"))
    assert "queued" in said
    (manual,) = [r for r in outbox(engine, participant_key=BERGEN) if r["sequence"] == "manual-1"]
    assert manual["kind"] == "reminder" and manual["status"] == "pending"
    assert "waiting to be sent" in failed(
        cli("remind", SEED_ID, OPPDRAG, BERGEN, "--at", "2020-04-20T08:01")
    )
    (event,) = events(engine, "reminder_queued")
    assert event["actor"] and event["participant_key"] == BERGEN

    ok(cli("send", "--at", "2020-04-20T08:02"))
    (reminder,) = smtp.received[before:]
    assert reminder.rcpt_tos == [BERGEN_MAIL]
    # Bergen writes nynorsk; five working days in words.
    assert reminder.subject.startswith("Påminning: Innspel til oppdraget")
    assert "om fem arbeidsdagar" in " ".join(reminder.text().split())
    # Sent, a second one the same day is refused, with the reason: one per participant and day.
    again = " ".join(
        failed(cli("remind", SEED_ID, OPPDRAG, BERGEN, "--at", "2020-04-20T15:00")).split()
    )
    assert (
        "was sent a reminder today already (08.00): one reminder per participant and day" in again
    )

    # At 09:00 the others get their scheduled reminder; Bergen's is skipped: one a day.
    report = tick(engine, now=oslo(2020, 4, 20, 9, 5))
    assert BERGEN not in {a.participant_id for a in report.queued}
    assert len(report.queued) == 8
    assert any(
        a.participant_id == BERGEN and a.skip_reason == "a reminder was sent by hand today"
        for a in report.skipped
    )
    # Trondheim got the scheduled one at 09.00: a reminder by hand that day is refused too;
    # the next day it is queued.
    said = " ".join(
        failed(
            cli("remind", SEED_ID, OPPDRAG, "trondheim-sekretariat", "--at", "2020-04-20T10:00")
        ).split()
    )
    assert "was sent a reminder today already (09.05)" in said
    assert "queued" in ok(
        cli("remind", SEED_ID, OPPDRAG, "trondheim-sekretariat", "--at", "2020-04-21T10:00")
    )


def test_remind_now_is_refused_with_the_reason(engine: Engine) -> None:
    store(engine, load_definition(SEED), NOW)
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)

        def refused(step: str, who: str, at: datetime) -> str:
            with pytest.raises(ReminderRefused) as caught:
                remind_now(session, definition, step, who, now=at, by="kari")
            return str(caught.value)

        assert "not open yet" in refused(OPPDRAG, BERGEN, oslo(2020, 3, 30, 8))
        assert "not been invited" in refused(OPPDRAG, BERGEN, oslo(2020, 3, 30, 10))
        assert "only a request" in refused("sammenstilling", BERGEN, NOW)
        assert "no step" in refused("nope", BERGEN, NOW)
        assert "not asked" in refused(OPPDRAG, "nobody", NOW)
    tick(engine, now=NOW)
    with session_scope(engine) as session:
        register_answer(
            session,
            definition,
            step_id=OPPDRAG,
            participant_id=BERGEN,
            texts={"": "Vi har ingen merknader."},
            at=oslo(2020, 4, 1, 12),
        )
    with session_scope(engine) as session:
        assert "answered already" in refused(OPPDRAG, BERGEN, oslo(2020, 4, 2, 12))
        assert "closed" in refused(OPPDRAG, "trondheim-sekretariat", oslo(2021, 1, 5, 12))
