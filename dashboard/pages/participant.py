"""The read model of one participant: their state in each step, messages, answers, deadlines.

States, deadlines and counts come from innspill.status, as on the process page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from innspill.dashboard.pages.progress import (
    Cell,
    TimelineEntry,
    audiences_of,
    definition_of,
    matrix_row,
    timeline_entry,
)
from innspill.dashboard.pages.queries import MESSAGE_COLUMNS, MessageRow
from innspill.models import Answer, DeadlineChange, OutboxMessage
from innspill.process.deadline_rule import in_effect
from innspill.process.deadlines import closes_on
from innspill.process.definition import Participant, ProcessDefinition, RequestStep
from innspill.process.workdays import end_of_day
from innspill.status import (
    FailedMessage,
    ProcessStatus,
    StepState,
    is_late,
    process_status,
)

#: Registered this long after it was received: shown (it waited, held, for a person).
LATER = timedelta(hours=1)


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
    counts: bool = True  # the version that counts: received last
    # registered later than received (a held message assigned by a person): when
    registered_at: datetime | None = None
    after_close: bool = False  # registered after the step had closed for them


@dataclass
class DeadlineNote:
    step_title: str
    deadline: date
    reason: str
    changed_at: datetime
    everyone: bool
    in_effect: date  # the deadline as set runs to this day when it is not a working day


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
    failures: list[FailedMessage] = field(default_factory=list)  # to them, failed for good
    remindable: list[tuple[str, str]] = field(default_factory=list)  # open steps: id, title


def _remindable(status: ProcessStatus, key: str) -> list[tuple[str, str]]:
    """The open request steps where they were invited and have not answered (a button each)."""
    return [
        (step.step, step.title)
        for step in status.steps
        if step.kind == "request" and step.state in (StepState.OPEN, StepState.OVERDUE)
        for p in step.participants
        if p.participant == key
        and p.invited
        and not (p.answered_at or p.address_failing or p.failed)
    ]


def _participant_steps(
    definition: ProcessDefinition, status: ProcessStatus, person: Participant
) -> list[tuple[TimelineEntry, Cell]]:
    """Each step the participant is in, with where they stand in it."""
    row = matrix_row(person, status, audiences_of(definition))
    return [
        (timeline_entry(definition, step), cell)
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
    requests = {s.id: s for s in definition.steps if isinstance(s, RequestStep)}
    titles = {s.id: s.title for s in definition.steps}
    theme_titles = {t.id: t.title for t in definition.themes}
    theme_titles.setdefault(
        "", "Generelle merknader"
    )  # text that names no theme, as in the compilation
    out: list[AnswerVersion] = []
    for a in session.scalars(
        select(Answer)
        .where(
            col(Answer.process_id) == definition.id,
            col(Answer.participant_key) == key,
            col(Answer.received_at) <= now,  # as innspill.status counts them
        )
        # in the order they were received, never registered (models.answer)
        .order_by(col(Answer.step_key), col(Answer.received_at), col(Answer.version))
    ).all():
        texts = json.loads(a.text_json or "{}")
        deadline = deadlines.get(a.step_key)
        registered = a.registered_at or a.received_at
        step = requests.get(a.step_key)
        closes = closes_on(definition, step, deadline) if step and deadline else None
        if out and out[-1].step_id == a.step_key:
            out[-1].counts = False  # a later one of the same step came after it
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
                registered_at=registered if registered - a.received_at > LATER else None,
                after_close=closes is not None and registered >= end_of_day(closes),
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
            in_effect(definition, c.deadline),
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
    definition = definition_of(session, process_id)
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
        failures=[f for f in status.failures if f.participant == key],
        remindable=_remindable(status, key),
    )
