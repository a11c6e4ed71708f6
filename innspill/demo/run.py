"""The demo: the 2020 round on a simulated clock, with simulated participants."""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from innspill.archival.convert import convert_pending
from innspill.archival.office import Tools
from innspill.demo.scenario import ANSWERS, happenings
from innspill.documents.store import latest
from innspill.engine import tick
from innspill.journal.read import process_journal
from innspill.models import (
    Answer,
    ArchivalCopy,
    Attendance,
    Event,
    InboundMessage,
    MessageStatus,
    OutboxMessage,
    Treatment,
)
from innspill.models.db import session_scope
from innspill.outbound.compose import Outgoing
from innspill.outbound.outbox import dispatch
from innspill.outbound.transport import Transport
from innspill.process.deadlines import effective_deadlines
from innspill.process.definition import CompilationStep, ProcessDefinition
from innspill.process.loading import get_definition, load_file
from innspill.process.workdays import OSLO, end_of_day, is_working_day, local_datetime

SEED = (
    Path(__file__).resolve().parent.parent
    / "config"
    / "processes"
    / ("byvekstavtaler-sekretariat-2020.toml")
)
START, END = date(2020, 3, 30), date(2020, 6, 30)
TICK_TIMES = (time(9, 0), time(14, 0))
#: Replies carry tokens as in production; the key is fixed so that a demo run is repeatable.
DEMO_SECRET = "demo-key-not-for-production-0123456789abcdef"  # noqa: S105  (a demo, on purpose)
DEMO_OUTGOING = Outgoing(secret=DEMO_SECRET, public_url="http://127.0.0.1:8000")


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
        tick(engine, now=now, outgoing=DEMO_OUTGOING)
        sent += asyncio.run(dispatch(engine, transport, now=now)).sent
    for happening in pending:  # after the last tick: seen by tomorrow's
        happening.apply(engine, definition)
    return sent


def run(engine: Engine, transport: Transport) -> int:
    """The whole round without Prefect (the same functions the flow calls)."""
    setup(engine)
    sent = sum(run_day(engine, transport, day) for day in days())
    archive_all(engine)
    return sent


def archive_all(engine: Engine, *, tools: Tools | None = None) -> int:
    """The archival copy (PDF/A) of every letter, answer and document of the round, made
    batch after batch as the ticks would, at the end of the simulated period; how many."""
    now = local_datetime(END, time(18, 0))
    made = 0
    while True:
        report = convert_pending(
            engine, now=now, clock=lambda: now, limit=100, tools=tools or Tools()
        )
        made += report.made
        if report.handled == 0:
            return made


@dataclass
class DemoResult:
    """What the demo shows: a timeline and a summary."""

    process_id: str
    mail: str
    timeline: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


#: Events worth a line in the timeline, besides messages and answers.
TIMELINE_EVENTS = {
    "deadline_changed": "EXTENSION",
    "process_updated": "CHANGED",
    "compilation_made": "COMPILED",
    "draft_registered": "DRAFT",
    "treatment_changed": "TREATMENT",
}


def report(engine: Engine, mail: str) -> DemoResult:
    """The readable timeline and the summary, read back from the database."""
    with session_scope(engine) as session:
        definition = get_definition(session, "byvekstavtaler-sekretariat-2020")
        messages = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        answers = session.exec(select(Answer).order_by(col(Answer.received_at))).all()
        events = session.exec(select(Event).order_by(col(Event.id))).all()
        deadlines = effective_deadlines(session, definition)
        treatments = session.exec(select(Treatment)).all()
        attendance = session.exec(select(Attendance)).all()
        inbound = session.exec(select(InboundMessage).order_by(col(InboundMessage.id))).all()
        copies = session.exec(
            select(ArchivalCopy.source_kind, ArchivalCopy.status, ArchivalCopy.error)
        ).all()
        journal = process_journal(session, definition.id)
    names = {p.id: p.area or p.name for p in definition.participants}
    rows: list[tuple[datetime, str]] = []
    for m in messages:
        rows.append(
            (
                m.sent_at or m.created_at,
                f"{m.kind:<18} -> {names[m.participant_key]:<17} ({m.step_key}) [{m.status}]",
            )
        )
    for a in answers:
        rows.append(
            (a.received_at, f"{'ANSWER':<18} <- {names[a.participant_key]:<17} ({a.step_key})")
        )
    for e in events:
        if e.kind in TIMELINE_EVENTS:
            who = names.get(e.participant_key or "", "")
            step = f"({e.step_key}) " if e.step_key else ""
            rows.append((e.at, f"{TIMELINE_EVENTS[e.kind]:<18}    {who:<17} {step}{e.detail}"))
    rows.sort(key=lambda r: r[0])
    timeline = [f"{at.astimezone(OSLO):%a %d.%m.%Y %H.%M}  {text}" for at, text in rows]

    # An invitation carried by another step's (steps opening together) was not mailed itself.
    carried = sum(m.status == MessageStatus.COMBINED for m in messages)
    messages = [m for m in messages if m.status != MessageStatus.COMBINED]
    by_day: dict[str, int] = defaultdict(int)
    for m in messages:
        by_day[(m.sent_at or m.created_at).astimezone(OSLO).date().isoformat()] += 1
    late = [
        f"{a.participant_key} ({a.step_key})"
        for a in answers
        if a.received_at >= end_of_day(deadlines[(a.step_key, a.participant_key)])
    ]
    summary = {
        "process": definition.id,
        "simulated": {"from": START.isoformat(), "to": END.isoformat()},
        "messages": {
            "total": len(messages),
            "carried_invitations": carried,
            "by_kind": dict(Counter(m.kind for m in messages)),
            "by_status": dict(Counter(str(m.status) for m in messages)),
            "by_participant": dict(Counter(m.participant_key for m in messages)),
            "by_day": dict(sorted(by_day.items())),
            "on_weekend_or_holiday": sum(
                1
                for m in messages
                if not is_working_day((m.sent_at or m.created_at).astimezone(OSLO).date())
            ),
        },
        "answers": {
            "total": len(answers),
            "late": late,
            "never": [f"{p} ({s})" for s, ppl in ANSWERS.items() for p, w in ppl.items() if not w],
        },
        "answers_by_channel": dict(Counter(a.channel for a in answers)),
        "held_mail": [f"{m.sender}: {m.reason}" for m in inbound if m.status == "held"],
        "reminders_skipped": dict(Counter(e.detail for e in events if e.kind.endswith("_skipped"))),
        "compilations": [
            f"{e.step_key} {e.detail}" for e in events if e.kind == "compilation_made"
        ],
        "meeting_attendance": {
            "attended": sum(1 for a in attendance if a.attended),
            "absent": sum(1 for a in attendance if not a.attended),
        },
        "treatment": dict(Counter(str(t.state) for t in treatments))
        | {"no news": len(definition.audience("oversendelse")) - len(treatments)},
        "archival_copies": {
            "by_kind": dict(Counter(str(kind) for kind, status, _ in copies if status == "done")),
            "failed": [f"{kind}: {error}" for kind, status, error in copies if status == "failed"],
        },
        "journal": {
            "entries": len(journal),
            "first": journal[0].reference if journal else None,
            "last": journal[-1].reference if journal else None,
            "by_source": dict(Counter(e.source for e in journal)),
        },
        "mail": mail,
    }
    return DemoResult(definition.id, mail, timeline, summary)


def write_latest_compilation(engine: Engine, folder: Path) -> list[Path]:
    """Write the newest compilation of each compilation step as DOCX and HTML into FOLDER."""
    written: list[Path] = []
    with session_scope(engine) as session:
        definition = get_definition(session, "byvekstavtaler-sekretariat-2020")
        for step in definition.steps:
            if not isinstance(step, CompilationStep):
                continue
            document = latest(session, definition.id, step.id, "compilation")
            if document is None:
                continue
            folder.mkdir(parents=True, exist_ok=True)
            docx = folder / document.filename
            docx.write_bytes(document.content)
            html = docx.with_suffix(".html")
            html.write_text(document.html or "", encoding="utf-8")
            written += [docx, html]
    return written


def summary_text(result: DemoResult) -> str:
    """The summary for people."""
    s = result.summary
    lines = [
        f"Simulated {s['simulated']['from']} to {s['simulated']['to']}: "
        f"{s['messages']['total']} messages, {s['answers']['total']} answers.",
        "Messages by kind: " + ", ".join(f"{k} {v}" for k, v in s["messages"]["by_kind"].items()),
        "Late answers: " + (", ".join(s["answers"]["late"]) or "none"),
        "Never answered: " + (", ".join(s["answers"]["never"]) or "none"),
        "Answers by channel: " + ", ".join(f"{k} {v}" for k, v in s["answers_by_channel"].items()),
        "Held for a person (not answers): " + ("; ".join(s["held_mail"]) or "none"),
        f"Messages on a weekend or public holiday: {s['messages']['on_weekend_or_holiday']}",
        "Compilations: " + ("; ".join(s["compilations"]) or "none"),
        "Half-day meeting: {attended} attended, {absent} absent".format(**s["meeting_attendance"]),
        "Treatment of the draft: " + ", ".join(f"{k} {v}" for k, v in s["treatment"].items()),
        "Journal: {entries} entries, {first} to {last} (".format(**s["journal"])
        + ", ".join(f"{k} {v}" for k, v in s["journal"]["by_source"].items())
        + ")",
        "Reminders skipped, and why:",
        *[
            f"  {n:3d}  {why}"
            for why, n in sorted(s["reminders_skipped"].items(), key=lambda kv: -kv[1])
        ],
        "Archival copies (PDF/A-2b): "
        + (", ".join(f"{k} {v}" for k, v in s["archival_copies"]["by_kind"].items()) or "none")
        + "".join(f"\n  FAILED {line}" for line in s["archival_copies"]["failed"]),
        f"Mail: {result.mail}",
    ]
    return "\n".join(lines)


def as_json(result: DemoResult) -> str:
    return json.dumps(result.summary, indent=2, ensure_ascii=False)
