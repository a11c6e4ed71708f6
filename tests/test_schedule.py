"""The 2020 round against a real SMTP server: right people, right days, never twice."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date, time, timedelta
from email.utils import parsedate_to_datetime

import pytest

from innspill.config.settings import Settings
from innspill.demo import run as demo
from innspill.engine import tick
from innspill.models.db import make_engine, session_scope
from innspill.outbound.outbox import dispatch
from innspill.outbound.transport import SmtpTransport
from innspill.process.loading import get_definition
from innspill.process.workdays import OSLO, is_working_day, local_datetime
from tests.conftest import SEED_ID, TEST_DATABASE, load_seed, new_database
from tests.pdf_text import pdf_text
from tests.smtp_sink import SmtpSink

TICK_HOURS = (1, 7, 9, 10, 13, 16, 19, 22)  # through nights and weekends too
REQUEST_STEPS = ("innspill-oppdrag", "innspill-retningslinjer")


def simulate(engine, settings, *, until: date = demo.END, world: bool = True) -> None:
    """Run the demo's scenario with a tick every few hours, mail to the recording server.

    `world=False` runs the ticks alone (what participants did is already recorded).
    """
    transport = SmtpTransport(settings)
    pending = demo.happenings() if world else []
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
    day = demo.START
    while day <= until:
        for hour in TICK_HOURS:
            now = local_datetime(day, time(hour))
            while pending and pending[0].at <= now:
                pending.pop(0).apply(engine, definition)
            tick(engine, now=now, outgoing=demo.DEMO_OUTGOING)
            asyncio.run(dispatch(engine, transport, now=now))
        day += timedelta(days=1)


def sent_days(
    smtp, address: str, *, steps: tuple[str, ...] = REQUEST_STEPS
) -> list[tuple[str, str]]:
    """(local date, kind) of each message to `address` about the given steps, but receipts."""
    out = []
    for r in smtp.handler.to(address):
        if r.message["X-Innspill-Step"] not in steps or r.message["X-Innspill-Kind"] == "receipt":
            continue
        when = parsedate_to_datetime(r.message["Date"]).astimezone(OSLO)
        out.append((when.date().isoformat(), str(r.message["X-Innspill-Kind"])))
    return out


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """The whole round once for this module (it takes several seconds)."""
    tmp = tmp_path_factory.mktemp("round")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    with SmtpSink() as smtp:
        settings = Settings(
            data_dir=tmp / "data",
            database_url=url,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            _env_file=None,  # type: ignore[call-arg]
        )
        load_seed(engine)
        simulate(engine, settings)
        yield smtp
    engine.dispose()
    drop()


def test_nothing_lands_on_a_weekend_holiday_or_outside_office_hours(simulated):
    assert len(simulated.received) == 102  # 86 of the round and 16 receipts
    for r in simulated.received:
        when = parsedate_to_datetime(r.message["Date"]).astimezone(OSLO)
        assert is_working_day(when.date()), (when, r.subject)
        assert time(9) <= when.time() < time(17), (when, r.subject)


def test_the_participant_who_never_answers_gets_every_reminder_on_the_right_day(simulated):
    assert sent_days(simulated, "sekretariat@tromso.byvekst.example") == [
        ("2020-03-30", "invitation"),  # one message for both steps (they open together)
        ("2020-04-20", "reminder"),  # 5 working days before Monday 27 April
        ("2020-04-23", "reminder"),  # 2 working days before
        # the first working day after the deadline, when part 1's compilation is made and the
        # step closes: the second, due 4 May, is skipped
        ("2020-04-28", "overdue"),
        ("2020-05-20", "reminder"),  # 7 working days before 2 June; 21 May is Ascension
        ("2020-05-28", "reminder"),  # 2 working days before: 29 May, then 28 May
        # 1 June was Whit Monday: the deadline runs to 2 June, so no overdue reminder that
        # morning; the first on 3 June, the day the compilation is made and the step closes
        # (`closes` by default): the second, due 8 June, is skipped
        ("2020-06-03", "overdue"),
    ]


def test_day_one_sends_each_secretariat_one_invitation_with_both_steps_and_the_assignment(
    simulated,
):
    on_day_one: dict[str, list] = defaultdict(list)
    for r in simulated.received:
        when = parsedate_to_datetime(r.message["Date"]).astimezone(OSLO)
        if when.date() == date(2020, 3, 30):
            on_day_one[r.rcpt_tos[0]].append(r)
    secretariats = {
        f"sekretariat@{who.removesuffix('-sekretariat')}.byvekst.example"
        for who in demo.ANSWERS["innspill-oppdrag"]
    }
    assert set(on_day_one) == secretariats
    assignments = set()
    for address, messages in on_day_one.items():
        assert len(messages) == 1, address
        (message,) = messages
        text = " ".join(message.text().split())
        parts = (
            ("Innspel til oppdraget", "måndag 27. april 2020"),  # Bergen writes nynorsk
            ("Innspel til retningslinjer for sekretariata", "tysdag 2. juni 2020"),
        )
        if address != "sekretariat@bergen.byvekst.example":
            parts = (
                ("Innspill til oppdraget", "mandag 27. april 2020"),
                ("Innspill til retningslinjer for sekretariatene", "tirsdag 2. juni 2020"),
            )
        for number, (title, deadline) in enumerate(parts, start=1):
            assert f"Del {number}: {title} – frist {deadline}" in text
        (attached,) = message.message.iter_attachments()
        assert attached.get_filename() == "oppdrag.pdf"  # made from oppdrag.md at load
        assert attached.get_content_type() == "application/pdf"
        assignments.add(attached.get_payload(decode=True))
    (assignment,) = assignments  # the same file to everyone
    assert "Formålet med retningslinjene" in pdf_text(assignment)


def test_nobody_is_reminded_after_answering(simulated):
    answered = {
        (step, who): local_datetime(*when)
        for step, people in demo.ANSWERS.items()
        for who, when in people.items()
        if when
    }
    by_address = {}
    for people in demo.ANSWERS.values():
        for who in people:
            by_address[who] = f"sekretariat@{who.removesuffix('-sekretariat')}.byvekst.example"
    for (step, who), at in answered.items():
        for r in simulated.handler.to(by_address[who]):
            sent = parsedate_to_datetime(r.message["Date"])
            reminder = r.message["X-Innspill-Kind"] in ("reminder", "overdue")
            if r.message["X-Innspill-Step"] == step and reminder and sent > at:
                pytest.fail(f"{who} got '{r.subject}' at {sent} after answering at {at}")


def test_an_extension_sends_a_notice_and_moves_the_reminders(simulated):
    days = sent_days(simulated, "sekretariat@grenland.byvekst.example")
    first_step = [d for d in days if d[0] < "2020-05-08"]
    assert first_step == [
        ("2020-03-30", "invitation"),
        ("2020-04-20", "reminder"),  # for the old deadline, before the extension
        (
            "2020-04-22",
            "deadline_changed",
        ),  # the extension of 22 April, 11.00, told at the next tick
        ("2020-04-30", "reminder"),  # 5 working days before 8 May (1 May is a holiday)
        ("2020-05-06", "reminder"),  # 2 working days before 8 May
    ]
    notice = next(r for r in simulated.received if "Utsatt" in r.subject)
    assert "8. mai 2020" in notice.text() and "27. april 2020" in notice.text()


def test_every_message_has_a_unique_message_id_and_the_reference(simulated):
    ids = [r.message_id for r in simulated.received]
    assert len(set(ids)) == len(ids)
    assert all("20/64758" in r.subject for r in simulated.received)


def test_running_every_tick_again_sends_nothing_more(engine, settings, smtp):
    load_seed(engine)
    simulate(engine, settings, until=date(2020, 4, 30))
    before = len(smtp.received)
    simulate(engine, settings, until=date(2020, 4, 30), world=False)
    assert len(smtp.received) == before


def test_reminders_per_day_match_the_demo_summary(simulated):
    per_day = defaultdict(int)
    for r in simulated.received:
        per_day[parsedate_to_datetime(r.message["Date"]).astimezone(OSLO).date()] += 1
    assert per_day[date(2020, 3, 30)] == 9  # one invitation per secretariat for both steps
    assert per_day[date(2020, 4, 20)] == 6  # 3 had answered by then
