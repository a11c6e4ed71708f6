"""Read models of one process (timeline, participants by step) and of one participant.

Step and participant states come from innspill.status; this module only arranges them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlmodel import Session, col

from innspill.dashboard.labels import Text, fmt_date, fmt_datetime, times, translate
from innspill.dashboard.queries import MESSAGE_COLUMNS, MessageRow, load_definitions
from innspill.models import Answer, DeadlineChange, OutboxMessage, Participant
from innspill.process.definition import CompilationStep, MeetingStep, ProcessDefinition, RequestStep
from innspill.process.workdays import OSLO, end_of_day
from innspill.status import ParticipantStatus, ProcessStatus, StepStatus, process_status


@dataclass
class TimelineEntry:
    """One step on the process page's timeline."""

    id: str
    title: str
    kind: str
    state: str
    dates: str
    deadline: date | None
    days_left: int | None
    answered: int
    expected: int
    count_label: str
    extended: int
    note: Text


@dataclass
class Cell:
    """One participant in one step: what happened, shown as lines of text."""

    step_id: str
    applies: bool
    lines: list[Text] = field(default_factory=list)
    tone: str = "neutral"  # ok, warn, bad, neutral: styling only; the text says it all

    @property
    def text(self) -> str:
        return "; ".join(line.text for line in self.lines)


@dataclass
class MatrixRow:
    key: str
    name: str
    role: str
    email: str
    address_failing: bool
    cells: list[Cell]


@dataclass
class ProcessPage:
    id: str
    title: str
    reference: str
    status: ProcessStatus
    timeline: list[TimelineEntry]
    rows: list[MatrixRow]


def _timeline_entry(
    definition: ProcessDefinition, step: StepStatus, *, today: date
) -> TimelineEntry:
    spec = definition.step(step.step)
    deadline = date.fromisoformat(step.date) if step.date else None
    extended = 0
    dates = ""
    if isinstance(spec, RequestStep):
        if step.participants:
            # extensions only ever move a deadline later: the earliest is the step's own
            deadlines = [date.fromisoformat(p.deadline) for p in step.participants]
            deadline = min(deadlines)
            extended = sum(1 for d in deadlines if d > deadline)
        dates = f"{fmt_date(spec.opens)} – {fmt_date(deadline)}"
        if deadline != spec.deadline:
            dates += f" (endret fra {fmt_date(spec.deadline)})"
    elif isinstance(spec, MeetingStep):
        dates = f"{fmt_date(spec.date)} kl. {spec.start:%H.%M}–{spec.end:%H.%M}"
    elif deadline:
        dates = f"Frist {fmt_date(deadline)}"
    count_label = "har behandlet" if step.kind == "circulation" else "har svart"
    return TimelineEntry(
        id=step.step,
        title=step.title,
        kind=step.kind,
        state=step.state,
        dates=dates,
        deadline=deadline,
        days_left=(deadline - today).days if deadline else None,
        answered=step.answered,
        expected=step.expected,
        count_label=count_label,
        extended=extended,
        note=translate(step.note),
    )


def _request_cell(ps: ParticipantStatus, *, step_id: str, now: datetime) -> Cell:
    cell = Cell(step_id, applies=True)
    deadline = date.fromisoformat(ps.deadline)
    if ps.answered_at:
        when = fmt_datetime(ps.answered_at)
        if ps.late:
            cell.lines.append(Text(f"Svar for sent {when}"))
            cell.tone = "warn"
        else:
            cell.lines.append(Text(f"Svar i tide {when}"))
            cell.tone = "ok"
        if ps.answer_versions > 1:
            cell.lines.append(Text(f"{ps.answer_versions} versjoner"))
    elif now >= end_of_day(deadline):
        cell.lines.append(Text("Ikke svart, over fristen"))
        cell.tone = "bad"
    else:
        cell.lines.append(Text("Ikke svart ennå"))
    cell.lines.append(Text("Invitert" if ps.invited else "Ikke invitert ennå"))
    if ps.reminders:
        cell.lines.append(Text(f"Påminnet {times(ps.reminders)}"))
    if ps.overdue_reminders:
        cell.lines.append(Text(f"Purret {times(ps.overdue_reminders)}"))
    if ps.extended:
        cell.lines.append(Text(f"Utsatt frist: {fmt_date(deadline)}"))
    if ps.address_failing:
        cell.lines.append(Text("Adressen feiler"))
        cell.tone = "bad"
    return cell


def _body_cell(step: StepStatus, key: str) -> Cell:
    text = step.bodies[key]
    cell = Cell(step.step, applies=True, lines=[translate(text)])
    if text.startswith(("attended", "treated")):
        cell.tone = "ok"
    elif text.startswith("absent"):
        cell.tone = "warn"
    return cell


def _compilation_cell(step_id: str, received: int) -> Cell:
    if not received:
        return Cell(step_id, applies=True, lines=[Text("Ikke mottatt ennå")])
    versions = "1 versjon" if received == 1 else f"{received} versjoner"
    return Cell(step_id, applies=True, lines=[Text(f"Mottatt {versions}")], tone="ok")


def process_page(session: Session, process_id: str, *, now: datetime) -> ProcessPage | None:
    """The timeline and the participants-by-step matrix of one process, or None."""
    loaded = load_definitions(session, process_id).get(process_id)
    if loaded is None:
        return None
    definition = loaded.definition
    status = process_status(session, definition, now=now)
    return _page(session, definition, status, now=now)


def _page(
    session: Session, definition: ProcessDefinition, status: ProcessStatus, *, now: datetime
) -> ProcessPage:
    today = now.astimezone(OSLO).date()
    compilations = {
        (step, who): n
        for step, who, n in session.execute(
            select(col(OutboxMessage.step_key), col(OutboxMessage.participant_key), func.count())
            .where(
                col(OutboxMessage.process_id) == definition.id,
                col(OutboxMessage.kind) == "compilation",
            )
            .group_by(col(OutboxMessage.step_key), col(OutboxMessage.participant_key))
        ).all()
    }
    stored = {
        p.key: p
        for p in session.scalars(
            select(Participant).where(col(Participant.process_id) == definition.id)
        ).all()
    }
    timeline = [_timeline_entry(definition, s, today=today) for s in status.steps]
    by_step = {
        s.step: ({p.participant: p for p in s.participants}, s, definition.step(s.step))
        for s in status.steps
    }
    audiences = {s.id: {p.id for p in definition.audience(s.id)} for s in definition.steps}
    rows = []
    for p in definition.participants:
        cells = []
        for step_id, (people, step, spec) in by_step.items():
            if p.id not in audiences[step_id]:
                cells.append(Cell(step_id, applies=False, lines=[Text("Ikke med")]))
            elif p.id in people:
                cells.append(_request_cell(people[p.id], step_id=step_id, now=now))
            elif p.id in step.bodies:
                cells.append(_body_cell(step, p.id))
            elif isinstance(spec, CompilationStep):
                cells.append(_compilation_cell(step_id, compilations.get((step_id, p.id), 0)))
            else:
                cells.append(Cell(step_id, applies=True, lines=[Text("–")]))
        row = stored.get(p.id)
        rows.append(
            MatrixRow(
                key=p.id,
                name=p.name,
                role=p.role,
                email=str(p.email),
                address_failing=bool(row and row.address_failing),
                cells=cells,
            )
        )
    return ProcessPage(
        definition.id,
        definition.process.title,
        definition.process.reference,
        status,
        timeline,
        rows,
    )


# --- one participant ----------------------------------------------------------------------


@dataclass
class AnswerVersion:
    step_id: str
    step_title: str
    version: int
    received_at: datetime
    channel: str
    registered_by: str
    late: bool
    texts: list[tuple[str, str]]  # (theme title, text)


@dataclass
class DeadlineNote:
    step_title: str
    deadline: date
    reason: str
    changed_at: datetime
    everyone: bool


@dataclass
class ParticipantPage:
    process_id: str
    process_title: str
    reference: str
    key: str
    name: str
    role: str
    email: str
    area: str | None
    address_failing: bool
    steps: list[tuple[TimelineEntry, Cell]]
    messages: list[MessageRow]
    answers: list[AnswerVersion]
    deadlines: list[DeadlineNote]


def participant_page(
    session: Session, process_id: str, key: str, *, now: datetime
) -> ParticipantPage | None:
    """Everything about one participant of one process, or None."""
    loaded = load_definitions(session, process_id).get(process_id)
    if loaded is None:
        return None
    definition = loaded.definition
    try:
        person = definition.participant(key)
    except KeyError:
        return None
    page = _page(session, definition, process_status(session, definition, now=now), now=now)
    row = next(r for r in page.rows if r.key == key)
    steps = [
        (entry, cell) for entry, cell in zip(page.timeline, row.cells, strict=True) if cell.applies
    ]
    messages = [
        MessageRow(**r._asdict())
        for r in session.execute(
            select(*MESSAGE_COLUMNS)
            .where(
                col(OutboxMessage.process_id) == process_id,
                col(OutboxMessage.participant_key) == key,
            )
            .order_by(col(OutboxMessage.id))
        ).all()
    ]
    deadlines = {
        (s.step, p.participant): date.fromisoformat(p.deadline)
        for s in page.status.steps
        for p in s.participants
    }
    titles = {s.id: s.title for s in definition.steps}
    theme_titles = {t.id: t.title for t in definition.themes}
    theme_titles.setdefault("", "Innspill uten tema")  # a reply not written theme by theme
    answers = []
    for a in session.scalars(
        select(Answer)
        .where(
            col(Answer.process_id) == process_id,
            col(Answer.participant_key) == key,
            col(Answer.received_at) <= now,  # as innspill.status counts them
        )
        .order_by(col(Answer.step_key), col(Answer.version))
    ).all():
        texts = json.loads(a.text_json or "{}")
        deadline = deadlines.get((a.step_key, key))
        answers.append(
            AnswerVersion(
                step_id=a.step_key,
                step_title=titles.get(a.step_key, a.step_key),
                version=a.version,
                received_at=a.received_at,
                channel=a.channel,
                registered_by=a.registered_by,
                late=bool(deadline and a.received_at >= end_of_day(deadline)),
                texts=[(theme_titles.get(t, t), text) for t, text in texts.items()],
            )
        )
    notes = [
        DeadlineNote(
            titles.get(c.step_key, c.step_key),
            c.deadline,
            c.reason,
            c.changed_at,
            c.participant_key is None,
        )
        for c in session.scalars(
            select(DeadlineChange)
            .where(
                col(DeadlineChange.process_id) == process_id,
                (col(DeadlineChange.participant_key) == key)
                | col(DeadlineChange.participant_key).is_(None),
            )
            .order_by(col(DeadlineChange.changed_at), col(DeadlineChange.id))
        ).all()
    ]
    stored = session.scalars(
        select(Participant).where(
            col(Participant.process_id) == process_id, col(Participant.key) == key
        )
    ).first()
    return ParticipantPage(
        process_id=process_id,
        process_title=definition.process.title,
        reference=definition.process.reference,
        key=key,
        name=person.name,
        role=person.role,
        email=str(person.email),
        area=person.area,
        address_failing=bool(stored and stored.address_failing),
        steps=steps,
        messages=messages,
        answers=answers,
        deadlines=notes,
    )
