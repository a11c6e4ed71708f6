"""The demo: the 2020 round on a simulated clock, with simulated participants."""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from innspill.answers import register_answer
from innspill.deadlines import change_deadline
from innspill.definition import ProcessDefinition
from innspill.engine import tick
from innspill.outbox import dispatch
from innspill.processes import get_definition, load_file
from innspill.transport import Transport
from innspill.workdays import OSLO, local_datetime
from models import Answer, Event, OutboxMessage
from models.db import session_scope

SEED = (
    Path(__file__).resolve().parent.parent
    / "config"
    / "processes"
    / ("byvekstavtaler-sekretariat-2020.toml")
)
START, END = date(2020, 3, 30), date(2020, 6, 30)
TICK_TIMES = (time(9, 0), time(14, 0))

# Who answers when (local time), per request step; None never answers.
ANSWERS: dict[str, dict[str, tuple[date, time] | None]] = {
    "innspill-oppdrag": {
        "oslo-akershus-sekretariat": (date(2020, 4, 2), time(10, 15)),
        "bergen-sekretariat": (date(2020, 4, 8), time(13, 40)),
        "nedre-glomma-sekretariat": (date(2020, 4, 16), time(11, 5)),
        "trondheim-sekretariat": (date(2020, 4, 21), time(15, 30)),
        "nord-jaeren-sekretariat": (date(2020, 4, 24), time(9, 45)),
        "kristiansand-sekretariat": (date(2020, 4, 27), time(15, 10)),
        "buskerudbyen-sekretariat": (date(2020, 4, 29), time(12, 0)),
        "grenland-sekretariat": (date(2020, 5, 7), time(10, 30)),
        "tromso-sekretariat": None,
    },
    "innspill-retningslinjer": {
        "oslo-akershus-sekretariat": (date(2020, 5, 14), time(14, 20)),
        "buskerudbyen-sekretariat": (date(2020, 5, 20), time(10, 0)),
        "bergen-sekretariat": (date(2020, 5, 25), time(16, 5)),
        "trondheim-sekretariat": (date(2020, 5, 27), time(9, 30)),
        "grenland-sekretariat": (date(2020, 5, 28), time(13, 15)),
        "nord-jaeren-sekretariat": (date(2020, 5, 29), time(11, 50)),
        "kristiansand-sekretariat": (date(2020, 6, 2), time(14, 45)),
        "nedre-glomma-sekretariat": (date(2020, 6, 4), time(10, 10)),
        "tromso-sekretariat": None,
    },
}
# Grenland asks for more time on the first step; the case officer grants a week and a half.
EXTENSION_ASKED = local_datetime(date(2020, 4, 22), time(11, 0))
EXTENSION_STEP, EXTENSION_PARTICIPANT = "innspill-oppdrag", "grenland-sekretariat"
EXTENSION_DEADLINE = date(2020, 5, 8)
EXTENSION_REASON = "Saken kommer først opp i styringsgruppen 6. mai"


@dataclass
class Happening:
    """Something the simulated world does at a moment: an answer or an extension."""

    at: datetime
    label: str
    apply: Callable[[Engine, ProcessDefinition], None]


@dataclass
class DemoResult:
    process_id: str
    mail: str
    timeline: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def happenings() -> list[Happening]:
    """The scenario's answers and extension, in time order."""
    out: list[Happening] = []
    for step_id, people in ANSWERS.items():
        for participant_id, when in people.items():
            if when is None:
                continue
            moment = local_datetime(*when)

            def answer(
                engine: Engine,
                d: ProcessDefinition,
                *,
                s: str = step_id,
                p: str = participant_id,
                at: datetime = moment,
            ) -> None:
                with session_scope(engine) as session:
                    texts = {
                        t.id: f"Innspill fra {d.participant(p).area} om {t.title.lower()}."
                        for t in d.themes_of(d.step(s))  # type: ignore[arg-type]
                    }
                    register_answer(
                        session,
                        d,
                        step_id=s,
                        participant_id=p,
                        texts=texts,
                        at=at,
                        channel="registered",
                        registered_by="demo",
                    )

            out.append(
                Happening(local_datetime(*when), f"answer {participant_id} {step_id}", answer)
            )

    def extend(engine: Engine, d: ProcessDefinition) -> None:
        with session_scope(engine) as session:
            change_deadline(
                session,
                d,
                step_id=EXTENSION_STEP,
                participant_id=EXTENSION_PARTICIPANT,
                deadline=EXTENSION_DEADLINE,
                at=EXTENSION_ASKED,
                reason=EXTENSION_REASON,
                by="demo",
            )

    out.append(Happening(EXTENSION_ASKED, "extension", extend))
    return sorted(out, key=lambda h: h.at)


def days() -> Iterator[date]:
    day = START
    while day <= END:
        yield day
        day += timedelta(days=1)


def setup(engine: Engine) -> ProcessDefinition:
    """Load the seed process as of the morning of 30 March 2020."""
    with session_scope(engine) as session:
        load_file(session, SEED, now=local_datetime(START, time(8, 0)), by="demo")
        return get_definition(session, "byvekstavtaler-sekretariat-2020")


def run_day(engine: Engine, transport: Transport, day: date) -> int:
    """Run one simulated day: what participants do, and the engine's ticks. Returns messages."""
    with session_scope(engine) as session:
        definition = get_definition(session, "byvekstavtaler-sekretariat-2020")
    start = local_datetime(day, time(0, 0))
    end = local_datetime(day + timedelta(days=1), time(0, 0))
    pending = [h for h in happenings() if start <= h.at < end]
    sent = 0
    for at_time in TICK_TIMES:
        now = local_datetime(day, at_time)
        while pending and pending[0].at <= now:
            pending.pop(0).apply(engine, definition)
        tick(engine, now=now)
        sent += asyncio.run(dispatch(engine, transport, now=now)).sent
    for happening in pending:  # after the last tick: seen by tomorrow's
        happening.apply(engine, definition)
    return sent


def run(engine: Engine, transport: Transport) -> int:
    """The whole round without Prefect (the same functions the flow calls)."""
    setup(engine)
    return sum(run_day(engine, transport, day) for day in days())


def report(engine: Engine, mail: str) -> DemoResult:
    """The readable timeline and the summary, read back from the database."""
    with session_scope(engine) as session:
        definition = get_definition(session, "byvekstavtaler-sekretariat-2020")
        messages = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        answers = session.exec(select(Answer).order_by(col(Answer.received_at))).all()
        events = session.exec(select(Event).order_by(col(Event.id))).all()
    names = {p.id: p.area or p.name for p in definition.participants}
    rows: list[tuple[datetime, str]] = []
    for m in messages:
        rows.append(
            (
                m.sent_at or m.created_at,
                f"{m.kind:<17} -> {names[m.participant_key]:<17} ({m.step_key}) [{m.status}]",
            )
        )
    for a in answers:
        rows.append(
            (a.received_at, f"{'ANSWER':<17} <- {names[a.participant_key]:<17} ({a.step_key})")
        )
    for e in events:
        if e.kind == "deadline_changed":
            rows.append(
                (
                    e.at,
                    f"{'EXTENSION':<17}    {names.get(e.participant_key or '', 'all'):<17} "
                    f"({e.step_key}): {e.detail}",
                )
            )
    rows.sort(key=lambda r: r[0])
    timeline = [f"{at.astimezone(OSLO):%a %d.%m.%Y %H.%M}  {text}" for at, text in rows]

    skipped = Counter(e.detail for e in events if e.kind.endswith("_skipped"))
    by_day: dict[str, int] = defaultdict(int)
    for m in messages:
        by_day[(m.sent_at or m.created_at).astimezone(OSLO).date().isoformat()] += 1
    deadlines = {}
    late = []
    from innspill.state import effective_deadlines
    from innspill.workdays import end_of_day

    with session_scope(engine) as session:
        deadlines = effective_deadlines(session, definition)
    for a in answers:
        if a.received_at >= end_of_day(deadlines[(a.step_key, a.participant_key)]):
            late.append(f"{a.participant_key} ({a.step_key})")
    summary = {
        "process": definition.id,
        "simulated": {"from": START.isoformat(), "to": END.isoformat()},
        "messages": {
            "total": len(messages),
            "by_kind": dict(Counter(m.kind for m in messages)),
            "by_status": dict(Counter(str(m.status) for m in messages)),
            "by_participant": dict(Counter(m.participant_key for m in messages)),
            "by_day": dict(sorted(by_day.items())),
            "on_weekend_or_holiday": _off_days(messages),
        },
        "answers": {
            "total": len(answers),
            "late": late,
            "never": [
                f"{p} ({s})" for s, ppl in ANSWERS.items() for p, w in ppl.items() if w is None
            ],
        },
        "reminders_skipped": dict(skipped),
        "mail": mail,
    }
    return DemoResult(definition.id, mail, timeline, summary)


def _off_days(messages: Sequence[OutboxMessage]) -> int:
    from innspill.workdays import is_working_day

    return sum(
        1
        for m in messages
        if not is_working_day((m.sent_at or m.created_at).astimezone(OSLO).date())
    )


def summary_text(result: DemoResult) -> str:
    s = result.summary
    lines = [
        f"Simulated {s['simulated']['from']} to {s['simulated']['to']}: "
        f"{s['messages']['total']} messages, {s['answers']['total']} answers.",
        "Messages by kind: " + ", ".join(f"{k} {v}" for k, v in s["messages"]["by_kind"].items()),
        "Late answers: " + (", ".join(s["answers"]["late"]) or "none"),
        "Never answered: " + (", ".join(s["answers"]["never"]) or "none"),
        f"Messages on a weekend or public holiday: {s['messages']['on_weekend_or_holiday']}",
        "Reminders skipped, and why:",
        *[
            f"  {n:3d}  {why}"
            for why, n in sorted(s["reminders_skipped"].items(), key=lambda kv: -kv[1])
        ],
        f"Mail: {result.mail}",
    ]
    return "\n".join(lines)


def as_json(result: DemoResult) -> str:
    return json.dumps(result.summary, indent=2, ensure_ascii=False)
