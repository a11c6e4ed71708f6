"""Deadlines on a weekend or public holiday run to the next working day (domstolloven § 149),
unless the process keeps them as written; the step closes the day the drafters' work starts.

The seed's second deadline is Monday 1 June 2020, Whit Monday: it runs to Tuesday 2 June. What
participants receive is read back from a real SMTP server (aiosmtpd) and their mailed answers go
through the intake, as in a round.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from innspill.config.settings import Settings
from innspill.dashboard.pages.progress import timeline_entry
from innspill.demo.scenario import reply_mail
from innspill.documents.store import register_draft
from innspill.errors import DefinitionError, InnspillError
from innspill.inbound.intake import import_mail
from innspill.models import Answer, InboundMessage, InboundStatus
from innspill.models.db import session_scope
from innspill.outbound.remind import ReminderRefused, remind_now
from innspill.process.deadline_rule import in_effect
from innspill.process.deadlines import change_deadline, deadline_book
from innspill.process.definition import (
    ProcessDefinition,
    RequestStep,
    date_warnings,
    load_definition,
    parse_definition,
)
from innspill.process.loading import get_definition
from innspill.status import process_status
from tests.conftest import (
    SEED,
    SEED_ID,
    Run,
    copy_seed_files,
    load_seed,
    ok,
    oslo,
    tick_and_send,
)
from tests.smtp_sink import Received, SmtpSink
from tests.test_after_deadline import draft_bytes, messages, msg, text

OPPDRAG, RETNINGSLINJER = "innspill-oppdrag", "innspill-retningslinjer"
SEED_TEXT = SEED.read_text(encoding="utf-8")
MOVED_NB = (
    "Fristen var satt til 1. juni 2020, men det er andre pinsedag, og da forlenges fristen til "
    "neste arbeidsdag."
)
MOVED_NN = (
    "Fristen var sett til 1. juni 2020, men det er andre pinsedag, og då blir fristen forlengd "
    "til neste arbeidsdag."
)


def seed_text(**process: str) -> str:
    """The seed with extra `[process]` lines (as TOML values) and, for `nn`, Grenland in it."""
    source = SEED_TEXT
    for key, value in process.items():
        source = source.replace("ends = 2020-06-30\n", f"ends = 2020-06-30\n{key} = {value}\n", 1)
    return source


def write(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "prosess.toml"
    path.write_text(source, encoding="utf-8")
    copy_seed_files(tmp_path)
    return path


def to(smtp: SmtpSink, kind: str, area: str, step: str | None = None) -> list[Received]:
    address = f"sekretariat@{area}.byvekst.example"
    return [r for r in messages(smtp, kind, step=step) if r.rcpt_tos == [address]]


def mail_answer(engine: Engine, area: str, at: datetime, step: str = RETNINGSLINJER) -> str:
    """`area`'s secretariat replies to our latest mail about `step`; the intake's verdict."""
    who = f"{area}-sekretariat"
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        request = definition.step(step)
        assert isinstance(request, RequestStep)
        texts = {
            t.id: f"Innspill fra {area} om {t.title.lower()}."
            for t in definition.themes_of(request)
        }
        raw = reply_mail(session, definition, step, who, at, texts=texts)
        result = import_mail(session, raw, source="test", uid=f"{who}/{at}", received_at=at, now=at)
        return f"{result.message.status}: {result.message.reason}"


# --- the rule ----------------------------------------------------------------------------------


def test_a_deadline_on_a_day_off_runs_to_the_next_working_day_unless_kept_as_written() -> None:
    seed = load_definition(SEED)
    assert seed.process.holiday_deadlines == "next_working_day"  # the default
    kept = parse_definition(seed_text(holiday_deadlines='"as_written"'))
    for written, effective in [
        (date(2020, 6, 1), date(2020, 6, 2)),  # Whit Monday
        (date(2020, 5, 9), date(2020, 5, 11)),  # a Saturday
        (date(2020, 4, 9), date(2020, 4, 14)),  # Maundy Thursday, then Easter to Monday
        (date(2020, 5, 17), date(2020, 5, 18)),  # Constitution Day, a Sunday
        (date(2020, 5, 20), date(2020, 5, 20)),  # a working day stays
    ]:
        assert in_effect(seed, written) == effective, written
        assert in_effect(kept, written) == written
    with pytest.raises(DefinitionError, match="holiday_deadlines"):
        parse_definition(seed_text(holiday_deadlines='"next_day"'))


def test_one_book_says_the_deadline_in_effect_as_written_and_when_each_step_closes() -> None:
    seed = load_definition(SEED)
    book = deadline_book(seed, [])
    pair = (RETNINGSLINJER, "tromso-sekretariat")
    assert (book.in_effect[pair], book.written[pair]) == (date(2020, 6, 2), date(2020, 6, 1))
    assert book.steps == {OPPDRAG: date(2020, 4, 27), RETNINGSLINJER: date(2020, 6, 2)}
    assert (OPPDRAG, "tromso-sekretariat") not in book.written  # 27 April: a working day
    # `closes` by default: the day the drafters' work starts, when each step's compilation is
    # made: the first working day after 27 April and after 2 June.
    assert book.closes[pair] == date(2020, 6, 3)
    assert book.closes[(OPPDRAG, "tromso-sekretariat")] == date(2020, 4, 28)
    # An extension (Grenland to Saturday 9 May) runs to Monday; it closes no earlier.
    changes = [(OPPDRAG, "grenland-sekretariat", date(2020, 5, 9))]
    book = deadline_book(seed, changes)
    grenland = (OPPDRAG, "grenland-sekretariat")
    assert (book.in_effect[grenland], book.written[grenland]) == (
        date(2020, 5, 11),
        date(2020, 5, 9),
    )
    # A deadline for everyone moved to 22 May: step 2's compilation, and so its closing, moves.
    book = deadline_book(seed, [(RETNINGSLINJER, None, date(2020, 5, 22))])
    assert book.closes[pair] == date(2020, 5, 25)
    assert pair not in book.written


def test_closes_defaults_to_the_compilation_or_circulation_that_follows() -> None:
    def closes_of(source: str, step: str = RETNINGSLINJER) -> date:
        definition = parse_definition(source)
        return deadline_book(definition, []).closes[(step, "tromso-sekretariat")]

    # No compilation, but the circulation follows: the drafting starts the next working day.
    compilation = 'id = "sammenstilling"\nkind = "compilation"'
    assert SEED_TEXT.count(compilation) == 1
    without = SEED_TEXT.replace(compilation, 'id = "sammenstilling"\nkind = "circulation"').replace(
        'source = "innspill-retningslinjer"\ndue = 2020-06-03', "deadline = 2020-06-12"
    )
    without = without.replace('attach_compilation = "sammenstilling"\n', "")
    assert closes_of(without) == date(2020, 6, 3)
    # Nothing follows the request steps: answers are taken until the process ends.
    alone = SEED_TEXT[: SEED_TEXT.index('[[steps]]\nid = "sammenstilling-oppdrag"')]
    assert closes_of(alone) == date(2020, 6, 30)
    assert closes_of(alone, OPPDRAG) == date(2020, 6, 30)
    # A `closes` in the file is kept.
    explicit = SEED_TEXT.replace(
        "deadline = 2020-06-01\n", "deadline = 2020-06-01\ncloses = 2020-06-12\n"
    )
    assert closes_of(explicit) == date(2020, 6, 12)


def test_validate_warns_and_says_what_will_happen(cli: Run, tmp_path: Path) -> None:
    (warning,) = date_warnings(load_definition(SEED))
    assert warning.startswith("steps[1].deadline (innspill-retningslinjer): 2020-06-01 is a ")
    assert "public holiday (Andre pinsedag), not a working day" in warning
    assert "runs to the next working day, 2020-06-02" in warning

    said = ok(cli("validate", str(write(tmp_path, SEED_TEXT))))
    assert "runs to the next working day, 2020-06-02, and the letters say so" in said
    kept = write(tmp_path, seed_text(holiday_deadlines='"as_written"'))
    said = ok(cli("validate", str(kept)))
    assert 'kept as written ([process] holiday_deadlines = "as_written")' in said
    assert "an answer on the next working day is late" in said

    # A deadline that would run past the end of the process is refused, with the field.
    late = SEED_TEXT.replace("ends = 2020-06-30", "ends = 2020-06-07").replace(
        "deadline = 2020-06-01", "deadline = 2020-06-07"
    )
    with pytest.raises(DefinitionError) as caught:
        parse_definition(late)
    (problem,) = [p for p in caught.value.problems if "runs to" in p.message]
    assert problem.field == "steps[1].deadline"
    assert "2020-06-07 is not a working day and runs to 2020-06-08" in problem.message


# --- the round ----------------------------------------------------------------------------------


def test_whit_monday_runs_to_tuesday_then_the_step_closes_the_day_the_drafters_start(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 3, 30, 9))
    (invitation,) = to(smtp, "invitation", "tromso")
    said = text(invitation)
    assert "Innspill til retningslinjer for sekretariatene – frist tirsdag 2. juni 2020" in said
    assert f"Frist for del 2 er tirsdag 2. juni 2020. {MOVED_NB}" in said
    html = " ".join(msg(invitation).get_body(("html",)).get_content().split())  # type: ignore[union-attr]
    assert f"Frist for del 2 er tirsdag 2. juni 2020. {MOVED_NB}" in html
    # 27 April is a working day: that part says nothing of the kind.
    assert said.count("Fristen var satt til") == 1

    for day in (28, 29):
        tick_and_send(engine, settings, oslo(2020, 5, day, 9))
    reminder = to(smtp, "reminder", "tromso", RETNINGSLINJER)[-1]
    assert f"fristen for innspill er tirsdag 2. juni 2020, om to arbeidsdager. {MOVED_NB}" in (
        text(reminder)
    )

    # Whit Monday sends nothing; Tuesday 2 June at 09.00 no overdue reminder: the deadline is
    # that day. Kristiansand's mailed answer at 14.45 is on time.
    tick_and_send(engine, settings, oslo(2020, 6, 1, 12))
    tick_and_send(engine, settings, oslo(2020, 6, 2, 9))
    assert not messages(smtp, "overdue", step=RETNINGSLINJER)
    assert mail_answer(engine, "kristiansand", oslo(2020, 6, 2, 14, 45)) == "accepted: "
    tick_and_send(engine, settings, oslo(2020, 6, 2, 15))
    (receipt,) = to(smtp, "receipt", "kristiansand", RETNINGSLINJER)
    assert "før fristen" in text(receipt) and "etter fristen" not in text(receipt)
    with session_scope(engine) as session:
        status = process_status(session, get_definition(session, SEED_ID), now=oslo(2020, 6, 2, 15))
    step = status.step(RETNINGSLINJER)
    assert step is not None and (step.deadline, step.written_deadline) == (
        "2020-06-02",
        "2020-06-01",
    )
    kristiansand = next(p for p in step.participants if p.participant == "kristiansand-sekretariat")
    assert not kristiansand.late and kristiansand.deadline == "2020-06-02"
    entry = timeline_entry(get_definition_of(engine), step)
    assert entry.dates == (
        "30. mars 2020 – 2. juni 2020 (satt til 1. juni 2020, som er andre pinsedag: forlenget)"
    )

    # 3 June, 09.00: the compilation, and the first overdue reminders, which welcome a late
    # answer until today, the day the step closes.
    report, _ = tick_and_send(engine, settings, oslo(2020, 6, 3, 9))
    assert [a.step_id for a in report.compiled] == ["sammenstilling"]
    (overdue,) = to(smtp, "overdue", "tromso", RETNINGSLINJER)
    assert "Fristen for innspill var 2. juni 2020" in text(overdue)
    assert "til og med i dag, 3. juni 2020" in text(overdue)
    assert not to(smtp, "overdue", "kristiansand", RETNINGSLINJER)

    # Nedre Glomma's answer that morning is late: the receipt says so, and until when.
    assert mail_answer(engine, "nedre-glomma", oslo(2020, 6, 3, 10, 10)) == "accepted: "
    tick_and_send(engine, settings, oslo(2020, 6, 3, 11))
    (late,) = to(smtp, "receipt", "nedre-glomma", RETNINGSLINJER)
    said = text(late)
    assert "Innspillet kom etter fristen, som var tirsdag 2. juni 2020" in said
    assert "registrert som mottatt etter fristen" in said
    assert "sende et nytt svar på samme måte til og med 3. juni 2020" in said
    assert "før fristen" not in said
    late_html = msg(late).get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Innspillet kom etter fristen" in late_html and "før fristen" not in late_html

    # Tromsø's answer the day after the step closed is held for a person, not taken; the
    # second overdue reminder (8 June) is not sent: the step has closed.
    assert mail_answer(engine, "tromso", oslo(2020, 6, 4, 10)).startswith(
        "held: received after the step closed (2020-06-03)"
    )
    report, _ = tick_and_send(engine, settings, oslo(2020, 6, 8, 9))
    assert ("tromso-sekretariat", "the step has closed") in {
        (a.participant_id, a.skip_reason) for a in report.skipped if a.kind == "overdue"
    }
    assert len(to(smtp, "overdue", "tromso", RETNINGSLINJER)) == 1
    with Session(engine) as session:
        assert (
            session.exec(
                select(Answer).where(col(Answer.participant_key) == "tromso-sekretariat")
            ).all()
            == []
        )
        held = session.exec(
            select(InboundMessage).where(col(InboundMessage.status) == InboundStatus.HELD)
        ).all()
    assert len(held) == 1


def get_definition_of(engine: Engine) -> ProcessDefinition:
    with Session(engine) as session:
        return get_definition(session, SEED_ID)


def test_as_written_keeps_whit_monday_and_says_nothing_of_it(
    engine: Engine, settings: Settings, smtp: SmtpSink, tmp_path: Path
) -> None:
    load_seed(engine, write(tmp_path, seed_text(holiday_deadlines='"as_written"')))
    tick_and_send(engine, settings, oslo(2020, 3, 30, 9))
    (invitation,) = to(smtp, "invitation", "tromso")
    assert "Frist for del 2 er mandag 1. juni 2020." in text(invitation)
    assert "Fristen var satt til" not in text(invitation)
    tick_and_send(engine, settings, oslo(2020, 6, 2, 9))
    overdue = to(smtp, "overdue", "tromso", RETNINGSLINJER)
    assert len(overdue) == 1 and "Fristen for innspill var 1. juni 2020" in text(overdue[0])
    assert mail_answer(engine, "kristiansand", oslo(2020, 6, 2, 14, 45)) == "accepted: "
    tick_and_send(engine, settings, oslo(2020, 6, 2, 15))
    (receipt,) = to(smtp, "receipt", "kristiansand", RETNINGSLINJER)
    assert "Innspillet kom etter fristen, som var mandag 1. juni 2020" in text(receipt)


def test_an_extension_to_a_saturday_runs_to_monday_and_the_notice_says_why_in_nynorsk(
    engine: Engine, settings: Settings, smtp: SmtpSink, tmp_path: Path
) -> None:
    source = SEED_TEXT.replace(
        'id = "grenland-sekretariat"\n', 'id = "grenland-sekretariat"\nlanguage = "nn"\n', 1
    )
    load_seed(engine, write(tmp_path, source))
    tick_and_send(engine, settings, oslo(2020, 3, 30, 9))
    (invitation,) = to(smtp, "invitation", "grenland")
    assert f"Frist for del 2 er tysdag 2. juni 2020. {MOVED_NN}" in text(invitation)

    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        change_deadline(
            session,
            definition,
            step_id=OPPDRAG,
            participant_id="grenland-sekretariat",
            deadline=date(2020, 5, 9),  # a Saturday
            at=oslo(2020, 4, 22, 11),
            reason="Saka kjem opp i styringsgruppa 6. mai.",
            by="test",
        )
    tick_and_send(engine, settings, oslo(2020, 4, 22, 12))
    (notice,) = to(smtp, "deadline_changed", "grenland")
    said = text(notice)
    assert "utsett frå 27. april 2020 til måndag 11. mai 2020." in said
    assert (
        "Fristen var sett til 9. mai 2020, men det er ein laurdag, og då blir fristen forlengd "
        "til neste arbeidsdag."
    ) in said
    assert "tirsdag" not in said and "lørdag" not in said
    # The reminders count to Monday 11 May: 2 working days before it is Thursday 7 May.
    tick_and_send(engine, settings, oslo(2020, 5, 7, 9))
    assert "måndag 11. mai 2020, om to arbeidsdagar" in text(
        to(smtp, "reminder", "grenland", OPPDRAG)[-1]
    )

    with session_scope(engine) as session, pytest.raises(InnspillError) as caught:
        change_deadline(  # Sunday 10 May also runs to Monday 11 May: nothing is extended
            session,
            definition,
            step_id=OPPDRAG,
            participant_id="grenland-sekretariat",
            deadline=date(2020, 5, 10),
            at=oslo(2020, 5, 7, 10),
        )
    assert "later than the current deadline 2020-05-11" in str(caught.value)
    assert "(2020-05-10 runs to 2020-05-11)" in str(caught.value)


def test_extend_from_the_command_line_says_what_happens_to_a_holiday(
    cli: Run, engine: Engine
) -> None:
    load_seed(engine)
    at = ("--at", "2020-04-20T10:00")
    said = ok(cli("extend", SEED_ID, RETNINGSLINJER, "2020-05-21", "--reason", "Tid.", *at))
    assert "2020-05-21 is a public holiday (Kristi himmelfartsdag), not a working day" in said
    assert "the deadline runs to the next working day, 2020-05-22" in said
    shown = ok(cli("status", "--at", "2020-04-20T11:00"))
    assert "deadline set to 2020-05-21, not a working day: it runs to 2020-05-22" in shown
    with Session(engine) as session:
        status = process_status(
            session, get_definition(session, SEED_ID), now=oslo(2020, 4, 20, 11)
        )
    step = status.step(RETNINGSLINJER)
    assert step is not None and (step.deadline, step.written_deadline) == (
        "2020-05-22",
        "2020-05-21",
    )


def test_no_overdue_reminder_asks_for_answers_once_the_draft_has_gone_out(
    engine: Engine, settings: Settings, smtp: SmtpSink, tmp_path: Path
) -> None:
    """Even with `closes` at the process's end, the overdue reminders stop when the draft built
    on the answers has been circulated, and a reminder by hand is refused."""
    source = SEED_TEXT.replace(
        "deadline = 2020-06-01\n",
        "deadline = 2020-06-01\ncloses = 2020-06-30\n",
    ).replace(
        "reminders = { before = [7, 2], overdue_every = 3, overdue_max = 2",
        "reminders = { before = [7, 2], overdue_every = 3, overdue_max = 4",
    )
    assert "overdue_max = 4" in source
    load_seed(engine, write(tmp_path, source))
    for day in ((3, 30), (6, 3), (6, 8)):
        tick_and_send(engine, settings, oslo(2020, *day, 9))
    assert len(to(smtp, "overdue", "tromso", RETNINGSLINJER)) == 2  # 3 and 8 June
    assert "til og med 30. juni 2020" in text(to(smtp, "overdue", "tromso", RETNINGSLINJER)[-1])

    draft = tmp_path / "utkast.docx"
    draft.write_bytes(draft_bytes())
    with session_scope(engine) as session:
        register_draft(
            session,
            get_definition(session, SEED_ID),
            "oversendelse",
            draft,
            now=oslo(2020, 6, 10, 10),
        )
    report, _ = tick_and_send(engine, settings, oslo(2020, 6, 11, 9))  # the third was due
    assert ("tromso-sekretariat", "the draft has been circulated") in {
        (a.participant_id, a.skip_reason) for a in report.skipped if a.kind == "overdue"
    }
    assert len(to(smtp, "overdue", "tromso", RETNINGSLINJER)) == 2
    with session_scope(engine) as session, pytest.raises(ReminderRefused) as caught:
        remind_now(
            session,
            get_definition(session, SEED_ID),
            RETNINGSLINJER,
            "tromso-sekretariat",
            now=oslo(2020, 6, 12, 10),
            by="test",
        )
    assert "has been circulated" in str(caught.value)
