"""The read model of one process: its timeline and its participants by step.

Step and participant states, deadlines and counts come from innspill.status; this module
only arranges them and words them in bokmål.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session

from innspill.dashboard.labels import Text, as_date, fmt_date, fmt_datetime, times, translate
from innspill.dashboard.pages.chart import AnswerChart, answer_chart
from innspill.dashboard.pages.groups import RoleGroup, by_role
from innspill.dashboard.pages.queries import load_definitions
from innspill.i18n import _, current
from innspill.process.definition import MeetingStep, Participant, ProcessDefinition, RequestStep
from innspill.process.nbformat import day_off
from innspill.status import (
    ParticipantStatus,
    Phrase,
    ProcessStatus,
    StepStatus,
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
    charts: list[AnswerChart] = field(default_factory=list)
    groups: list[RoleGroup] = field(default_factory=list)


def _dates(definition: ProcessDefinition, step: StepStatus) -> str:
    """A step's dates as the timeline says them; the deadline is the status's own."""
    spec = definition.step(step.step)
    deadline = as_date(step.deadline)
    if isinstance(spec, RequestStep):
        dates = f"{fmt_date(spec.opens)} – {fmt_date(deadline)}"
        written = as_date(step.written_deadline) or deadline
        changed = _("endret fra %(date)s", date=fmt_date(spec.deadline))
        notes = [changed] if written != spec.deadline else []
        if step.written_deadline and written:  # a weekend or holiday: innspill.process.deadlines
            notes.append(
                _(
                    "satt til %(date)s, som er %(day_off)s: forlenget",
                    date=fmt_date(written),
                    day_off=day_off(written, current()),
                )
            )
        return dates + (f" ({'; '.join(notes)})" if notes else "")
    if isinstance(spec, MeetingStep):
        return _(
            "%(date)s kl. %(start)s–%(end)s",
            date=fmt_date(spec.date),
            start=format(spec.start, "%H.%M"),
            end=format(spec.end, "%H.%M"),
        )
    return _("Frist %(date)s", date=fmt_date(deadline)) if deadline else ""


def timeline_entry(definition: ProcessDefinition, step: StepStatus) -> TimelineEntry:
    return TimelineEntry(step, _dates(definition, step), translate(step.note))


def _answer_lines(ps: ParticipantStatus) -> tuple[list[Text], str]:
    if not ps.answered_at:
        if ps.overdue:
            return [Text(_("Ikke svart, over fristen"))], "bad"
        return [Text(_("Ikke svart ennå"))], "neutral"
    when = fmt_datetime(ps.answered_at)
    late, in_time = _("Svar for sent %(when)s", when=when), _("Svar i tide %(when)s", when=when)
    lines = [Text(late if ps.late else in_time)]
    if ps.answer_versions > 1:
        latest = fmt_datetime(ps.latest_at) if ps.latest_at else ""
        versions = _("%(n)s versjoner", n=ps.answer_versions)
        if latest:
            versions = _(
                "%(n)s versjoner, gjeldende mottatt %(when)s", n=ps.answer_versions, when=latest
            )
        lines.append(Text(versions))
    return lines, "warn" if ps.late else "ok"


def _request_cell(ps: ParticipantStatus, *, step_id: str) -> Cell:
    lines, tone = _answer_lines(ps)
    lines.append(Text(_("Invitert") if ps.invited else _("Ikke invitert ennå")))
    if ps.reminders:
        lines.append(Text(_("Påminnet %(times)s", times=times(ps.reminders))))
    if ps.overdue_reminders:
        lines.append(Text(_("Purret %(times)s", times=times(ps.overdue_reminders))))
    if ps.extended:
        lines.append(Text(_("Utsatt frist: %(date)s", date=fmt_date(ps.deadline))))
    if ps.address_failing:
        lines.append(Text(_("Adressen feiler")))
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


def cell_of(step: StepStatus, person: str, *, audience: set[str]) -> Cell:
    """Where one participant stands in one step."""
    if person not in audience:
        return Cell(step.step, applies=False, lines=[Text(_("Ikke med"))])
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
    return cell_of(step, person, audience={p.id for p in definition.audience(step_id)})


def matrix_row(
    person: Participant, status: ProcessStatus, audiences: dict[str, set[str]]
) -> MatrixRow:
    cells = [cell_of(s, person.id, audience=audiences[s.step]) for s in status.steps]
    return MatrixRow(
        key=person.id,
        name=person.name,
        role=person.role,
        email=str(person.email),
        address_failing=person.id in status.failing_addresses,
        cells=cells,
    )


def audiences_of(definition: ProcessDefinition) -> dict[str, set[str]]:
    return {s.id: {p.id for p in definition.audience(s.id)} for s in definition.steps}


def definition_of(session: Session, process_id: str) -> ProcessDefinition | None:
    loaded = load_definitions(session, process_id).get(process_id)
    return loaded.definition if loaded else None


def process_page(session: Session, process_id: str, *, now: datetime) -> ProcessPage | None:
    """The timeline and the participants-by-step matrix of one process, or None."""
    definition = definition_of(session, process_id)
    if definition is None:
        return None
    status = process_status(session, definition, now=now)
    audiences = audiences_of(definition)
    timeline = [timeline_entry(definition, s) for s in status.steps]
    rows = [matrix_row(p, status, audiences) for p in definition.participants]
    opens = {s.id: s.opens for s in definition.steps if isinstance(s, RequestStep)}
    charts = [
        answer_chart(s, opens=opens[s.step], now=now) for s in status.steps if s.step in opens
    ]
    return ProcessPage(
        definition.id,
        definition.process.title,
        definition.process.reference,
        status,
        timeline,
        rows,
        [c for c in charts if c is not None],
        by_role(timeline, rows),
    )
