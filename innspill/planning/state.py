"""Read what the planner needs from the database: deadlines, answers, messages, recorded keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

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


def _deadlines(
    definition: ProcessDefinition, changes: Sequence[DeadlineChange]
) -> dict[tuple[str, str], date]:
    return deadlines_from_changes(
        definition, [(c.step_key, c.participant_key, c.deadline) for c in changes]
    )


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
    return load_states(session, [definition])[definition.id]


#: Processes read per round of queries (bounds the IN lists).
PROCESSES_PER_QUERY = 500


def load_states(
    session: Session, definitions: Sequence[ProcessDefinition]
) -> dict[str, ProcessState]:
    """The planner's view of many processes, read with one round of queries per 500.

    A tick plans every loaded process; read one by one, the eight queries per process
    were most of a tick with nothing due (2.8 s at 200 processes on PostgreSQL: each query
    is a round trip).
    """
    states: dict[str, ProcessState] = {}
    for start in range(0, len(definitions), PROCESSES_PER_QUERY):
        states.update(_read_states(session, definitions[start : start + PROCESSES_PER_QUERY]))
    return states


def _read_states(
    session: Session, definitions: Sequence[ProcessDefinition]
) -> dict[str, ProcessState]:
    ids = [d.id for d in definitions]
    changes: dict[str, list[DeadlineChange]] = {pid: [] for pid in ids}
    for change in session.exec(
        select(DeadlineChange)
        .where(col(DeadlineChange.process_id).in_(ids))
        .order_by(col(DeadlineChange.changed_at), col(DeadlineChange.id))
    ).all():
        changes[change.process_id].append(change)
    states = {d.id: ProcessState(deadlines=_deadlines(d, changes[d.id])) for d in definitions}
    for pid, step_key, participant_key, version, received_at in session.execute(
        sa_select(
            col(Answer.process_id),
            col(Answer.step_key),
            col(Answer.participant_key),
            col(Answer.version),
            col(Answer.received_at),
        )
        .where(col(Answer.process_id).in_(ids))
        .order_by(col(Answer.received_at))
    ).all():
        state = states[pid]
        state.answers.setdefault(step_key, []).append(
            AnswerRecord(participant_key, version, received_at)
        )
        # The first answer of each participant (rows come oldest first).
        state.answered_at.setdefault((step_key, participant_key), _aware(received_at))
    for pid, step_key, kind, version, created_at, basis in session.execute(
        sa_select(
            col(Document.process_id),
            col(Document.step_key),
            col(Document.kind),
            col(Document.version),
            col(Document.created_at),
            col(Document.basis),
        )
        .where(col(Document.process_id).in_(ids))
        .order_by(col(Document.version))
    ).all():
        states[pid].documents.setdefault((step_key, kind), []).append(
            DocumentRecord(version, created_at, basis)
        )
    for pid, step_key, participant_key, treatment in session.exec(
        select(
            Treatment.process_id, Treatment.step_key, Treatment.participant_key, Treatment.state
        ).where(col(Treatment.process_id).in_(ids))
    ).all():
        states[pid].treatments[(step_key, participant_key)] = str(treatment)
    rows = session.execute(
        sa_select(
            col(OutboxMessage.process_id),
            col(OutboxMessage.key),
            col(OutboxMessage.step_key),
            col(OutboxMessage.participant_key),
            col(OutboxMessage.kind),
            col(OutboxMessage.sequence),
            col(OutboxMessage.created_at),
            col(OutboxMessage.deadline),
        )
        .where(col(OutboxMessage.process_id).in_(ids))
        .order_by(col(OutboxMessage.id))
    ).all()
    for pid, key, step_key, participant_key, kind, sequence, created_at, deadline in rows:
        state = states[pid]
        state.recorded_keys.add(key)
        state.messages.setdefault((step_key, participant_key), []).append(
            Recorded(kind, sequence, created_at, deadline)
        )
    for pid, key in session.exec(
        select(Event.process_id, Event.key).where(
            col(Event.process_id).in_(ids), col(Event.key).is_not(None)
        )
    ).all():
        if key:
            states[pid].recorded_keys.add(key)
    for pid, key in session.exec(
        select(Participant.process_id, Participant.key).where(
            col(Participant.process_id).in_(ids), col(Participant.address_failing)
        )
    ).all():
        states[pid].failing_addresses.add(key)
    return states


def _aware(value: datetime | str) -> datetime:
    # func.min() bypasses the column type on some backends and returns a naive UTC value.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value
