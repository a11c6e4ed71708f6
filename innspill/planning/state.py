"""Read what the planner needs from the database: deadlines, answers, messages, recorded keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from innspill.models import (
    Answer,
    DeadlineChange,
    Document,
    Event,
    MessageStatus,
    OutboxMessage,
    Participant,
    Treatment,
)
from innspill.models.outbox import delivery_status
from innspill.planning.actions import (
    AnswerRecord,
    DocumentRecord,
    ProcessState,
    Recorded,
    original_sequence,
    resend_number,
)
from innspill.process.deadlines import deadline_book
from innspill.process.definition import ProcessDefinition


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
    states = {d.id: with_deadlines(ProcessState(), d, changes[d.id]) for d in definitions}
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
            col(OutboxMessage.status),
            col(OutboxMessage.carried_by),
        )
        .where(col(OutboxMessage.process_id).in_(ids))
        .order_by(col(OutboxMessage.id))
    ).all()
    lost = _undelivered(rows)
    for pid, key, step_key, participant_key, kind, sequence, created_at, deadline, *_ in rows:
        state = states[pid]
        state.recorded_keys.add(key)
        if resend_number(sequence):
            continue  # a failed message sent again: the planner counts the original once
        state.messages.setdefault((step_key, participant_key), []).append(
            Recorded(kind, sequence, created_at, deadline, failed=key in lost)
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


def with_deadlines(
    state: ProcessState, definition: ProcessDefinition, changes: Sequence[DeadlineChange]
) -> ProcessState:
    """`state` with the deadlines in effect after `changes` (in the order made), as written
    where they moved, and the days the steps close (innspill.process.deadlines)."""
    book = deadline_book(definition, [(c.step_key, c.participant_key, c.deadline) for c in changes])
    state.deadlines, state.written_deadlines = book.in_effect, book.written
    state.closes = book.closes
    return state


def _undelivered(rows: Sequence[Any]) -> set[str]:
    """The keys of the messages that never reached their recipient: failed for good, and
    every resend of them failed too. A carried invitation stands where its carrier stands
    (models.outbox.delivery_status), so it fails with it and arrives with its resend."""
    status = {row.key: row.status for row in rows}

    def group(row: Any) -> tuple[str, ...]:
        base = original_sequence(row.sequence)
        return (row.process_id, row.step_key, row.participant_key, row.kind, base)

    reached: dict[tuple[str, ...], bool] = {}
    for row in rows:
        own = delivery_status(row.status, status.get(row.carried_by or ""))
        reached[group(row)] = reached.get(group(row), False) or own != MessageStatus.FAILED
    return {row.key for row in rows if not reached[group(row)]}


def _aware(value: datetime | str) -> datetime:
    # func.min() bypasses the column type on some backends and returns a naive UTC value.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value
