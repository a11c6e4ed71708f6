"""Read models of one process (timeline, participants by step) and of one participant.

Step and participant states, deadlines and counts come from innspill.status; this module
only arranges them and words them in bokmål.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlmodel import Session, col

from innspill.dashboard.labels import Text, as_date, fmt_date, fmt_datetime, times, translate
from innspill.dashboard.queries import MESSAGE_COLUMNS, MessageRow, load_definitions
from innspill.models import Answer, DeadlineChange, OutboxMessage
from innspill.process.definition import MeetingStep, Participant, ProcessDefinition, RequestStep
from innspill.status import (
    ParticipantStatus,
    Phrase,
    ProcessStatus,
    StepStatus,
    is_late,
    process_status,
)


@dataclass
class TimelineEntry:
    """One step on the process page's timeline: its status and its dates in words."""

    status: StepStatus
    dates: str
    note: Text

    @property
    def id(self) -> str:
        return self.status.step

    @property
    def title(self) -> str:
        return self.status.title

    @property
    def kind(self) -> str:
        return self.status.kind

    @property
    def state(self) -> str:
        return self.status.state

    @property
    def deadline(self) -> date | None:
        return as_date(self.status.deadline)

    @property
    def days_left(self) -> int | None:
        return self.status.days_left

    @property
    def answered(self) -> int:
        return self.status.answered

    @property
    def expected(self) -> int:
        return self.status.expected

    @property
    def extended(self) -> int:
        return self.status.extended


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


def _dates(definition: ProcessDefinition, step: StepStatus) -> str:
    """A step's dates as the timeline says them; the deadline is the status's own."""
    spec = definition.step(step.step)
    deadline = as_date(step.deadline)
    if isinstance(spec, RequestStep):
        dates = f"{fmt_date(spec.opens)} – {fmt_date(deadline)}"
        if deadline != spec.deadline:
            dates += f" (endret fra {fmt_date(spec.deadline)})"
        return dates
    if isinstance(spec, MeetingStep):
        return f"{fmt_date(spec.date)} kl. {spec.start:%H.%M}–{spec.end:%H.%M}"
    return f"Frist {fmt_date(deadline)}" if deadline else ""


def _timeline_entry(definition: ProcessDefinition, step: StepStatus) -> TimelineEntry:
    return TimelineEntry(step, _dates(definition, step), translate(step.note))


def _answer_lines(ps: ParticipantStatus) -> tuple[list[Text], str]:
    if not ps.answered_at:
        if ps.overdue:
            return [Text("Ikke svart, over fristen")], "bad"
        return [Text("Ikke svart ennå")], "neutral"
    when = fmt_datetime(ps.answered_at)
    lines = [Text(f"Svar for sent {when}" if ps.late else f"Svar i tide {when}")]
    if ps.answer_versions > 1:
        lines.append(Text(f"{ps.answer_versions} versjoner"))
    return lines, "warn" if ps.late else "ok"


def _request_cell(ps: ParticipantStatus, *, step_id: str) -> Cell:
    lines, tone = _answer_lines(ps)
    lines.append(Text("Invitert" if ps.invited else "Ikke invitert ennå"))
    if ps.reminders:
        lines.append(Text(f"Påminnet {times(ps.reminders)}"))
    if ps.overdue_reminders:
        lines.append(Text(f"Purret {times(ps.overdue_reminders)}"))
    if ps.extended:
        lines.append(Text(f"Utsatt frist: {fmt_date(ps.deadline)}"))
    if ps.address_failing:
        lines.append(Text("Adressen feiler"))
        tone = "bad"
    return Cell(step_id, applies=True, lines=lines, tone=tone)


#: How a body's position is styled, by its phrase code.
TONES = {"attended": "ok", "treated": "ok", "received": "ok", "absent": "warn"}


def _body_cell(step: StepStatus, key: str) -> Cell:
    text = step.bodies[key]
    tone = TONES.get(text.code, "neutral") if isinstance(text, Phrase) else "neutral"
    lines = [translate(text)]
    if key in step.replies:  # a meeting's calendar reply, beside what happened
        lines.append(translate(step.replies[key]))
    return Cell(step.step, applies=True, lines=lines, tone=tone)


def _cell(step: StepStatus, person: str, *, audience: set[str]) -> Cell:
    """Where one participant stands in one step."""
    if person not in audience:
        return Cell(step.step, applies=False, lines=[Text("Ikke med")])
    own = next((p for p in step.participants if p.participant == person), None)
    if own is not None:
        return _request_cell(own, step_id=step.step)
    if person in step.bodies:
        return _body_cell(step, person)
    return Cell(step.step, applies=True, lines=[Text("–")])


def standing(
    definition: ProcessDefinition, status: ProcessStatus, step_id: str, person: str
) -> Cell:
    """Where one participant stands in one step (as a cell of the matrix shows it)."""
    step = status.step(step_id)
    if step is None:
        return Cell(step_id, applies=False)
    return _cell(step, person, audience={p.id for p in definition.audience(step_id)})


def _row(person: Participant, status: ProcessStatus, audiences: dict[str, set[str]]) -> MatrixRow:
    cells = [_cell(s, person.id, audience=audiences[s.step]) for s in status.steps]
    return MatrixRow(
        key=person.id,
        name=person.name,
        role=person.role,
        email=str(person.email),
        address_failing=person.id in status.failing_addresses,
        cells=cells,
    )


def _audiences(definition: ProcessDefinition) -> dict[str, set[str]]:
    return {s.id: {p.id for p in definition.audience(s.id)} for s in definition.steps}


def _definition(session: Session, process_id: str) -> ProcessDefinition | None:
    loaded = load_definitions(session, process_id).get(process_id)
    return loaded.definition if loaded else None


def process_page(session: Session, process_id: str, *, now: datetime) -> ProcessPage | None:
    """The timeline and the participants-by-step matrix of one process, or None."""
    definition = _definition(session, process_id)
    if definition is None:
        return None
    status = process_status(session, definition, now=now)
    audiences = _audiences(definition)
    return ProcessPage(
        definition.id,
        definition.process.title,
        definition.process.reference,
        status,
        [_timeline_entry(definition, s) for s in status.steps],
        [_row(p, status, audiences) for p in definition.participants],
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


def _participant_steps(
    definition: ProcessDefinition, status: ProcessStatus, person: Participant
) -> list[tuple[TimelineEntry, Cell]]:
    """Each step the participant is in, with where they stand in it."""
    row = _row(person, status, _audiences(definition))
    return [
        (_timeline_entry(definition, step), cell)
        for step, cell in zip(status.steps, row.cells, strict=True)
        if cell.applies
    ]


def _messages_to(session: Session, process_id: str, key: str) -> list[MessageRow]:
    return [
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


def _answer_versions(
    session: Session,
    definition: ProcessDefinition,
    status: ProcessStatus,
    key: str,
    *,
    now: datetime,
) -> list[AnswerVersion]:
    """Every version of the participant's answers received by `now`, with its texts."""
    deadlines = {
        s.step: date.fromisoformat(p.deadline)
        for s in status.steps
        for p in s.participants
        if p.participant == key
    }
    titles = {s.id: s.title for s in definition.steps}
    theme_titles = {t.id: t.title for t in definition.themes}
    theme_titles.setdefault(
        "", "Generelle merknader"
    )  # text that names no theme, as in the compilation
    out = []
    for a in session.scalars(
        select(Answer)
        .where(
            col(Answer.process_id) == definition.id,
            col(Answer.participant_key) == key,
            col(Answer.received_at) <= now,  # as innspill.status counts them
        )
        .order_by(col(Answer.step_key), col(Answer.version))
    ).all():
        texts = json.loads(a.text_json or "{}")
        deadline = deadlines.get(a.step_key)
        out.append(
            AnswerVersion(
                step_id=a.step_key,
                step_title=titles.get(a.step_key, a.step_key),
                version=a.version,
                received_at=a.received_at,
                channel=a.channel,
                registered_by=a.registered_by,
                late=deadline is not None and is_late(a.received_at, deadline),
                texts=[(theme_titles.get(t, t), text) for t, text in texts.items()],
            )
        )
    return out


def _deadline_notes(
    session: Session, definition: ProcessDefinition, key: str
) -> list[DeadlineNote]:
    """The deadline changes for everyone, and the participant's own extensions."""
    titles = {s.id: s.title for s in definition.steps}
    return [
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
                col(DeadlineChange.process_id) == definition.id,
                (col(DeadlineChange.participant_key) == key)
                | col(DeadlineChange.participant_key).is_(None),
            )
            .order_by(col(DeadlineChange.changed_at), col(DeadlineChange.id))
        ).all()
    ]


def participant_page(
    session: Session, process_id: str, key: str, *, now: datetime
) -> ParticipantPage | None:
    """Everything about one participant of one process, or None."""
    definition = _definition(session, process_id)
    if definition is None:
        return None
    try:
        person = definition.participant(key)
    except KeyError:
        return None
    status = process_status(session, definition, now=now)
    return ParticipantPage(
        process_id=process_id,
        process_title=definition.process.title,
        reference=definition.process.reference,
        key=key,
        name=person.name,
        role=person.role,
        email=str(person.email),
        area=person.area,
        address_failing=key in status.failing_addresses,
        steps=_participant_steps(definition, status, person),
        messages=_messages_to(session, process_id, key),
        answers=_answer_versions(session, definition, status, key, now=now),
        deadlines=_deadline_notes(session, definition, key),
    )
