"""Calendar replies to the meeting invitation: read from mail as Outlook, Google Calendar and
Apple Calendar send them, recorded per participant (latest wins), counted in the status and in
the reminder the day before; what cannot be tied to a meeting and a participant is held."""

from __future__ import annotations

import json
from datetime import datetime, time
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from innspill.config.settings import Settings
from innspill.inbound.fetching import fetch_into
from innspill.inbound.intake import import_mail
from innspill.inbound.parse import InboundKind, parse_mail
from innspill.models import Answer, CalendarReply, Event, InboundMessage, TokenPurpose
from innspill.models.db import session_scope
from innspill.process.loading import get_definition
from innspill.rsvp import ReplyCounts, count_replies
from innspill.status import process_status
from innspill.tokens import derive
from tests.calendar_clients import reply_ics, reply_mail
from tests.conftest import SEED_ID, Run, load_seed, ok, oslo, tick_and_send
from tests.dovecot import Dovecot, dovecot_server, dovecot_session  # noqa: F401  (fixtures)
from tests.smtp_sink import SmtpSink
from tests.test_after_deadline import (
    MEETING,
    MEETING_AUDIENCE,
    definition_of,
    messages,
    msg,
    read_ics,
    store,
    text,
    the_event,
    with_meeting,
)

BERGEN, TROMSO, GRENLAND = "bergen-sekretariat", "tromso-sekretariat", "grenland-sekretariat"
NAMES = {
    BERGEN: "Sekretariatet for byvekstavtalen i Bergen",
    TROMSO: "Sekretariatet for byvekstavtalen i Tromsø",
    GRENLAND: "Sekretariatet for byvekstavtalen i Grenland",
}


def address(who: str) -> str:
    return f"sekretariat@{who.removesuffix('-sekretariat')}.byvekst.example"


@pytest.fixture
def invited(engine: Engine, settings: Settings, smtp: SmtpSink) -> dict[str, str]:
    """The seed loaded and the meeting invitations sent: participant -> the UID in their .ics."""
    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 5, 25, 9))
    uids = {}
    for r in messages(smtp, "meeting_invitation", step=MEETING):
        calendar, method = read_ics(r)
        assert method == "REQUEST"
        (to,) = r.rcpt_tos
        uids[to] = str(the_event(calendar)["UID"])
    assert set(uids) == MEETING_AUDIENCE
    return {who: uids[address(who)] for who in NAMES}


def importing(engine: Engine, raw: bytes, at: datetime, uid: str) -> InboundMessage:
    with session_scope(engine) as session:
        result = import_mail(session, raw, source="test", uid=uid, received_at=at, now=at)
        session.expunge(result.message)
        return result.message


def reply(client: str, uid: str, who: str, partstat: str, stamp: datetime, **kw: Any) -> bytes:
    return reply_mail(
        client,
        uid=uid,
        attendee=kw.pop("attendee", address(who)),
        name=NAMES.get(who, who),
        partstat=partstat,
        stamp=stamp,
        **kw,
    )


def replies(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.exec(select(CalendarReply).where(CalendarReply.step_key == MEETING)).all()
        return {r.participant_key: r.partstat for r in rows}


def events(engine: Engine) -> list[Event]:
    with Session(engine) as session:
        query = select(Event).where(Event.kind == "calendar_reply").order_by(col(Event.id))
        return list(session.exec(query).all())


def meeting_status(engine: Engine, at: datetime):  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        status = process_status(session, get_definition(session, SEED_ID), now=at)
    return next(s for s in status.steps if s.step == MEETING)


# --------------------------------------------------------------------------- recorded


def test_outlook_google_and_apple_replies_are_recorded_never_answers(
    engine: Engine, invited: dict[str, str]
) -> None:
    at = oslo(2020, 5, 26, 10)
    for n, (client, who, partstat) in enumerate(
        [
            ("outlook", BERGEN, "ACCEPTED"),
            ("google", TROMSO, "DECLINED"),
            ("apple", GRENLAND, "TENTATIVE"),
        ]
    ):
        raw = reply(client, invited[who], who, partstat, at)
        row = importing(engine, raw, at, uid=f"u{n}")
        assert (row.status, row.kind) == ("calendar", "calendar"), row.reason
        assert (row.process_id, row.step_key, row.participant_key) == (SEED_ID, MEETING, who)
        assert row.reason == f"calendar reply: {partstat.lower()}"
    assert replies(engine) == {BERGEN: "accepted", TROMSO: "declined", GRENLAND: "tentative"}
    with Session(engine) as session:
        assert session.exec(select(Answer)).all() == []  # "Godtatt: ..." is no answer
    assert [(e.participant_key, e.detail.split()[0]) for e in events(engine)] == [
        (BERGEN, "accepted"),
        (TROMSO, "declined"),
        (GRENLAND, "tentative"),
    ]

    step = meeting_status(engine, oslo(2020, 5, 27, 9))
    assert step.calendar_replies == {"accepted": 1, "declined": 1, "tentative": 1, "no_reply": 7}
    assert step.replies[BERGEN] == "accepted the calendar invitation"
    assert step.replies[TROMSO] == "declined the calendar invitation"
    assert "oslo-akershus-sekretariat" not in step.replies  # counted as no_reply
    # Attendance stays what happened, registered by hand: a reply does not set it.
    assert step.bodies[BERGEN] == "invited"


def test_a_changed_mind_latest_dtstamp_wins_even_when_the_older_arrives_last(
    engine: Engine, invited: dict[str, str]
) -> None:
    uid = invited[BERGEN]
    first, second = oslo(2020, 5, 26, 10), oslo(2020, 6, 2, 14)
    importing(engine, reply("outlook", uid, BERGEN, "ACCEPTED", first), first, "1")
    importing(engine, reply("outlook", uid, BERGEN, "DECLINED", second), second, "2")
    assert replies(engine) == {BERGEN: "declined"}
    # A copy of the first reply delivered late (a client resending it) does not undo that.
    late = importing(engine, reply("google", uid, BERGEN, "ACCEPTED", first), second, "3")
    assert late.status == "calendar"
    assert "older than the reply already recorded" in late.reason
    assert replies(engine) == {BERGEN: "declined"}
    assert [e.detail.split()[0] for e in events(engine)] == ["accepted", "declined", "accepted"]
    assert "which stands" in events(engine)[-1].detail
    step = meeting_status(engine, oslo(2020, 6, 3, 9))
    assert step.calendar_replies["declined"] == 1 and step.calendar_replies["accepted"] == 0


def test_a_reply_to_the_old_time_no_longer_counts_once_the_meeting_moves(
    engine: Engine, settings: Settings, smtp: SmtpSink, invited: dict[str, str]
) -> None:
    at = oslo(2020, 5, 26, 10)
    importing(engine, reply("outlook", invited[BERGEN], BERGEN, "ACCEPTED", at), at, "1")
    importing(engine, reply("google", invited[TROMSO], TROMSO, "DECLINED", at), at, "2")
    assert meeting_status(engine, oslo(2020, 6, 1, 9)).calendar_replies["accepted"] == 1

    # The meeting is moved an hour: everyone gets the update, SEQUENCE 1.
    moved = oslo(2020, 6, 3, 12)
    store(engine, with_meeting(definition_of(engine), start=time(10), end=time(13, 30)), moved)
    tick_and_send(engine, settings, oslo(2020, 6, 3, 13))
    updates = messages(smtp, "meeting_invitation", step=MEETING)[len(MEETING_AUDIENCE) :]
    assert {int(the_event(read_ics(r)[0])["SEQUENCE"]) for r in updates} == {1}
    step = meeting_status(engine, oslo(2020, 6, 3, 14))
    assert step.calendar_replies == {"accepted": 0, "declined": 0, "tentative": 0, "no_reply": 10}
    assert step.replies == {}
    stale = importing(
        engine, reply("outlook", invited[GRENLAND], GRENLAND, "ACCEPTED", at), at, "s"
    )
    assert stale.reason == (
        "calendar reply: accepted to an earlier version of the invitation (SEQUENCE 0, now 1): "
        "kept, not counted"
    )

    # Bergen accepts the new time; Tromsø's old "no" is still only history.
    later = oslo(2020, 6, 3, 15)
    raw = reply("apple", invited[BERGEN], BERGEN, "ACCEPTED", later, sequence=1)
    importing(engine, raw, later, "3")
    step = meeting_status(engine, oslo(2020, 6, 3, 16))
    assert step.calendar_replies["accepted"] == 1 and step.calendar_replies["declined"] == 0
    assert list(step.replies) == [BERGEN]


def test_the_participant_is_found_by_token_when_the_attendee_address_is_personal(
    engine: Engine, invited: dict[str, str], settings: Settings
) -> None:
    # Kari answers from her own calendar: the ATTENDEE is her, not the secretariat's box;
    # the [ref:TOKEN] of an earlier message to the secretariat ties it to them.
    token = derive(
        settings.resolved_secret_key(),
        TokenPurpose.REPLY,
        SEED_ID,
        "innspill-retningslinjer",
        BERGEN,
    )
    at = oslo(2020, 5, 27, 8)
    raw = reply(
        "outlook",
        invited[BERGEN],
        BERGEN,
        "ACCEPTED",
        at,
        attendee="kari.nordmann@bergen.kommune.example",
        subject=f"Godtatt: Halvdagsmøte om innspillene [ref:{token}]",
    )
    row = importing(engine, raw, at, "t")
    assert row.status == "calendar", row.reason
    assert row.participant_key == BERGEN and replies(engine) == {BERGEN: "accepted"}


# --------------------------------------------------------------------------- held


def test_unknown_uid_unknown_attendee_and_counter_are_held_with_the_reason(
    engine: Engine, invited: dict[str, str]
) -> None:
    at = oslo(2020, 5, 26, 11)
    stranger = "ola@example.org"
    cases = {
        "unknown uid": reply(
            "outlook", "040000008200E00074C5B7101A82E008@example.org", BERGEN, "ACCEPTED", at
        ),
        "other process": reply(
            "google", invited[BERGEN].replace(SEED_ID, "et-annet-prosjekt"), BERGEN, "ACCEPTED", at
        ),
        "unknown attendee": reply(
            "apple", invited[BERGEN], "ola", "ACCEPTED", at, attendee=stranger
        ),
        "counter": reply("outlook", invited[TROMSO], TROMSO, "TENTATIVE", at, method="COUNTER"),
        "needs action": reply("google", invited[GRENLAND], GRENLAND, "NEEDS-ACTION", at),
    }
    rows = {name: importing(engine, raw, at, name) for name, raw in cases.items()}
    for name, row in rows.items():
        assert row.status == "held", (name, row.reason)
        assert row.kind == "calendar"
    assert "not one of our meetings" in rows["unknown uid"].reason
    assert "040000008200E00074C5B7101A82E008@example.org" in rows["unknown uid"].reason
    assert "not one of our meetings" in rows["other process"].reason
    assert f"the attendee ({stranger}) is not a participant" in rows["unknown attendee"].reason
    assert "calendar COUNTER (a proposal of another time)" in rows["counter"].reason
    assert rows["counter"].participant_key == TROMSO  # whose it is, for the person sorting it
    assert "PARTSTAT=NEEDS-ACTION" in rows["needs action"].reason
    assert replies(engine) == {} and events(engine) == []


def test_a_steering_group_is_no_attendee_of_the_secretariats_meeting(
    engine: Engine, invited: dict[str, str]
) -> None:
    at = oslo(2020, 5, 26, 11)
    raw = reply(
        "outlook",
        invited[BERGEN],
        "bergen-styringsgruppe",
        "ACCEPTED",
        at,
        attendee="styringsgruppe@bergen.byvekst.example",
    )
    row = importing(engine, raw, at, "s")
    assert row.status == "held"
    assert "is not a participant of the meeting 'halvdagsmote'" in row.reason
    # Held, it still is no answer: assigning it to a request step is refused.
    from innspill.errors import InnspillError
    from innspill.inbound.intake import assign

    with session_scope(engine) as session, pytest.raises(InnspillError, match="calendar reply"):
        assign(
            session,
            row.id or 0,
            process_id=SEED_ID,
            step_id="innspill-retningslinjer",
            participant_id=BERGEN,
            by="test",
            now=at,
        )


def test_calendar_parts_are_read_bounded() -> None:
    huge = reply_ics(
        "apple",
        uid="x@vegvesen.example",
        attendee="a@example.org",
        name="A",
        partstat="ACCEPTED",
        stamp=oslo(2020, 5, 26),
    ).replace("SUMMARY:", "DESCRIPTION:" + "x" * 300_000 + "\r\nSUMMARY:")
    raw = reply_mail(
        "outlook",
        uid="x@vegvesen.example",
        attendee="a@example.org",
        name="A",
        partstat="ACCEPTED",
        stamp=oslo(2020, 5, 26),
        ics=huge,
    )
    parsed = parse_mail(raw)
    assert parsed.kind is InboundKind.CALENDAR
    assert parsed.calendar is not None
    assert "not read (at most 262,144)" in parsed.calendar.problem
    broken = reply_mail(
        "apple",
        uid="x",
        attendee="a@example.org",
        name="A",
        partstat="ACCEPTED",
        stamp=oslo(2020, 5, 26),
        ics="BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nDTSTAMP:nonsense\r\n",
    )
    parsed = parse_mail(broken)
    assert parsed.kind is InboundKind.CALENDAR
    assert parsed.calendar is not None and parsed.calendar.problem


def test_counts_are_over_the_audience() -> None:
    replies_ = {"a": "accepted", "b": "declined", "x": "accepted"}  # x: not in the audience
    assert count_replies(replies_, ["a", "b", "c"]) == ReplyCounts(1, 1, 0, 1)


# --------------------------------------------------------------------------- shown


def test_status_cli_and_the_reminder_the_day_before_tell_the_replies(
    cli: Run, engine: Engine, settings: Settings, smtp: SmtpSink, invited: dict[str, str]
) -> None:
    at = oslo(2020, 5, 27, 9)
    others = sorted(a for a in MEETING_AUDIENCE if a.startswith("sekretariat@"))
    accepting = [a for a in others if a != address(TROMSO)][:7]
    for n, attendee in enumerate(accepting):
        who = attendee.split("@")[1].split(".")[0] + "-sekretariat"
        uid = f"{SEED_ID}.{MEETING}.{who}@vegvesen.example"
        importing(engine, reply("outlook", uid, who, "ACCEPTED", at), at, f"a{n}")
    importing(engine, reply("google", invited[TROMSO], TROMSO, "DECLINED", at), at, "d")

    (status,) = json.loads(ok(cli("status", SEED_ID, "--json", "--at", "2020-05-28T09:00")))
    meeting = next(s for s in status["steps"] if s["step"] == MEETING)
    assert meeting["calendar_replies"] == {
        "accepted": 7,
        "declined": 1,
        "tentative": 0,
        "no_reply": 2,
    }
    assert meeting["replies"][TROMSO] == "declined the calendar invitation"
    out = ok(cli("status", SEED_ID, "--at", "2020-05-28T09:00"))
    assert "calendar replies: 7 accepted, 1 declined, 0 tentative, 2 no reply" in out
    assert f"{TROMSO:<32} invited; declined the calendar invitation" in out

    tick_and_send(engine, settings, oslo(2020, 6, 8, 9))  # the working day before
    reminders = messages(smtp, "meeting_reminder", step=MEETING)
    assert len(reminders) == len(MEETING_AUDIENCE)
    for r in reminders:
        # Numbers under 13 in words; Bergen reads nynorsk.
        sentence = (
            "Så langt har sju deltakarar takka ja og ein har takka nei."
            if r.rcpt_tos == ["sekretariat@bergen.byvekst.example"]
            else "Så langt har sju deltakere takket ja og én har takket nei."
        )
        assert sentence in text(r)
        html = msg(r).get_body(preferencelist=("html",))
        assert html is not None
        assert f"<p>{sentence}</p>" in str(html.get_content())


def test_the_reminder_says_nothing_of_replies_when_there_are_none(
    engine: Engine, settings: Settings, smtp: SmtpSink, invited: dict[str, str]
) -> None:
    tick_and_send(engine, settings, oslo(2020, 6, 8, 9))
    reminders = messages(smtp, "meeting_reminder", step=MEETING)
    assert reminders and not any("Så langt har" in text(r) for r in reminders)


# --------------------------------------------------------------------------- through IMAP


def test_a_reply_through_the_real_mailbox(
    engine: Engine, settings: Settings, dovecot: Dovecot, invited: dict[str, str]
) -> None:
    values = {**settings.model_dump(), **dovecot.imap_settings()}
    mailbox = Settings(**values, _env_file=None)  # type: ignore[call-arg]
    at = oslo(2020, 5, 26, 12)
    dovecot.append(reply("google", invited[BERGEN], BERGEN, "ACCEPTED", at))
    dovecot.append(reply("apple", invited[TROMSO], TROMSO, "ACCEPTED", at, method="COUNTER"))
    report, counts = fetch_into(engine, mailbox, clock=lambda: at)
    assert report.handled == 2 and not report.failed
    assert counts == {"calendar": 1, "held": 1}
    assert replies(engine) == {BERGEN: "accepted"}
    with Session(engine) as session:
        held = session.exec(select(InboundMessage).where(InboundMessage.status == "held")).one()
    assert held.participant_key == TROMSO and "COUNTER" in held.reason


def test_the_dashboard_shows_each_participants_reply(
    engine: Engine, settings: Settings, invited: dict[str, str]
) -> None:
    from fastapi.testclient import TestClient

    from innspill.dashboard.app import create_app
    from innspill.dashboard.auth import create_user
    from innspill.dashboard.deps import get_now
    from tests.test_dashboard import PASSWORD, PROCESS, USER, page, sign_in

    at = oslo(2020, 5, 26, 10)
    importing(engine, reply("outlook", invited[BERGEN], BERGEN, "ACCEPTED", at), at, "1")
    importing(engine, reply("apple", invited[TROMSO], TROMSO, "TENTATIVE", at), at, "2")
    with session_scope(engine) as session:
        create_user(session, USER, PASSWORD, now=at)
    app = create_app(settings)
    app.dependency_overrides[get_now] = lambda: oslo(2020, 5, 27, 9)
    with TestClient(app) as client:
        sign_in(client)
        matrix = page(client, PROCESS).table("Sekretariater")
        meeting = matrix.column("Halvdagsmøte")
        bergen = matrix.row(NAMES[BERGEN])[meeting].text
        assert bergen == "Invitert Har takket ja i kalenderen"
        assert matrix.row(NAMES[TROMSO])[meeting].text.endswith("Har svart kanskje i kalenderen")
        assert matrix.row(NAMES[GRENLAND])[meeting].text == "Invitert"
        details = page(client, f"{PROCESS}/participants/{BERGEN}")
        row = next(r for r in details.table("Hvor").rows if r[0].text.startswith("Halvdagsmøte"))
        assert "Har takket ja i kalenderen" in row[-1].text
