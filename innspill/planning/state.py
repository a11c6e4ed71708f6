"""Read what the planner needs from the database: deadlines, answers, messages, recorded keys."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from innspill.models import (
    Answer,
    DeadlineChange,
    Document,
    Event,
    OutboxMessage,
    Participant,
    Treatment,
)
from innspill.planning.actions import AnswerRecord, DocumentRecord, ProcessState, Recorded
from innspill.process.definition import ProcessDefinition, RequestStep


def effective_deadlines(
    session: Session, definition: ProcessDefinition
) -> dict[tuple[str, str], date]:
    """Each (request step, participant)'s deadline after every change and extension."""
    changes = session.execute(
        sa_select(
            col(DeadlineChange.step_key),
            col(DeadlineChange.participant_key),
            col(DeadlineChange.deadline),
        )
        .where(col(DeadlineChange.process_id) == definition.id)
        .order_by(col(DeadlineChange.changed_at), col(DeadlineChange.id))
    ).all()
    return deadlines_from_changes(definition, [tuple(c) for c in changes])


DeadlineChangeRow = tuple[str, str | None, date]  # step, participant (None: everyone), deadline


def step_deadlines(
    definition: ProcessDefinition, changes: Iterable[DeadlineChangeRow]
) -> dict[str, date]:
    """Each request step's own deadline: the latest change for the whole step, or the file's.

    `changes` in the order they were made.
    """
    out = {s.id: s.deadline for s in definition.steps if isinstance(s, RequestStep)}
    for step_key, participant_key, deadline in changes:
        if participant_key is None and step_key in out:
            out[step_key] = deadline
    return out


def extensions(changes: Iterable[DeadlineChangeRow]) -> dict[tuple[str, str], date]:
    """Each (step, participant)'s own latest extension, from the changes in the order made."""
    return {(s, p): d for s, p, d in changes if p is not None}


def participant_deadline(own: date, extension: date | None) -> date:
    """A participant's deadline: an extension counts when later (it never shortens one)."""
    return max(own, extension) if extension else own


def deadlines_from_changes(
    definition: ProcessDefinition, changes: Iterable[DeadlineChangeRow]
) -> dict[tuple[str, str], date]:
    """Each (request step, participant)'s deadline, from the changes in the order they were made.

    The latest change for the whole step replaces the file's date; a participant's own
    extension counts when it is later than that.
    """
    changes = list(changes)
    step_level = step_deadlines(definition, changes)
    personal = extensions(changes)
    return {
        (step.id, p.id): participant_deadline(step_level[step.id], personal.get((step.id, p.id)))
        for step in definition.steps
        if isinstance(step, RequestStep)
        for p in definition.audience(step.id)
    }


def load_state(session: Session, definition: ProcessDefinition) -> ProcessState:
    """The planner's view of one process."""
    state = ProcessState(deadlines=effective_deadlines(session, definition))
    for step_key, participant_key, version, received_at in session.exec(
        select(Answer.step_key, Answer.participant_key, Answer.version, Answer.received_at)
        .where(Answer.process_id == definition.id)
        .order_by(col(Answer.received_at))
    ).all():
        state.answers.setdefault(step_key, []).append(
            AnswerRecord(participant_key, version, received_at)
        )
    for step_key, kind, version, created_at, basis in session.execute(
        sa_select(
            col(Document.step_key),
            col(Document.kind),
            col(Document.version),
            col(Document.created_at),
            col(Document.basis),
        )
        .where(col(Document.process_id) == definition.id)
        .order_by(col(Document.version))
    ).all():
        state.documents.setdefault((step_key, kind), []).append(
            DocumentRecord(version, created_at, basis)
        )
    for step_key, participant_key, treatment in session.exec(
        select(Treatment.step_key, Treatment.participant_key, Treatment.state).where(
            Treatment.process_id == definition.id
        )
    ).all():
        state.treatments[(step_key, participant_key)] = str(treatment)
    first_answers = session.exec(
        select(Answer.step_key, Answer.participant_key, func.min(Answer.received_at))
        .where(Answer.process_id == definition.id)
        .group_by(Answer.step_key, Answer.participant_key)
    ).all()
    for step_key, participant_key, received_at in first_answers:
        state.answered_at[(step_key, participant_key)] = _aware(received_at)
    rows = session.execute(
        sa_select(
            col(OutboxMessage.key),
            col(OutboxMessage.step_key),
            col(OutboxMessage.participant_key),
            col(OutboxMessage.kind),
            col(OutboxMessage.sequence),
            col(OutboxMessage.created_at),
            col(OutboxMessage.deadline),
        )
        .where(col(OutboxMessage.process_id) == definition.id)
        .order_by(col(OutboxMessage.id))
    ).all()
    for key, step_key, participant_key, kind, sequence, created_at, deadline in rows:
        state.recorded_keys.add(key)
        state.messages.setdefault((step_key, participant_key), []).append(
            Recorded(kind, sequence, created_at, deadline)
        )
    state.recorded_keys.update(
        key
        for key in session.exec(
            select(Event.key).where(Event.process_id == definition.id, col(Event.key).is_not(None))
        ).all()
        if key
    )
    state.failing_addresses = set(
        session.exec(
            select(Participant.key).where(
                Participant.process_id == definition.id, col(Participant.address_failing)
            )
        ).all()
    )
    return state


def _aware(value):  # type: ignore[no-untyped-def]
    # func.min() bypasses the column type on some backends and returns a naive UTC value.
    from datetime import UTC, datetime

    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value
