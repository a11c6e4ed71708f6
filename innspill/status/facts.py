"""What a process's status is computed from, loaded for many processes in one query per table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, cast, distinct, func, literal, null, select, union_all
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from innspill.models import (
    Answer,
    Attendance,
    DeadlineChange,
    Document,
    Participant,
    Treatment,
)
from innspill.process.deadlines import DeadlineChangeRow
from innspill.process.definition import ProcessDefinition
from innspill.rsvp import latest_replies
from innspill.status.model import FailedMessage
from innspill.status.sent import load_failed_messages, load_sent, load_state_messages


@dataclass(frozen=True)
class DocumentRow:
    version: int
    filename: str
    note: str
    created_at: datetime


@dataclass
class Facts:
    """What one process's status is computed from."""

    changes: list[DeadlineChangeRow] = field(default_factory=list)
    answered: dict[str, int] = field(default_factory=dict)  # step -> participants who answered
    # (step, participant) of those with an extension of their own who have answered
    extended_answered: set[tuple[str, str]] = field(default_factory=set)
    # (step, participant) -> first answer's time, number of versions, and when the version
    # that counts (received last) was received (with detail only)
    answers: dict[tuple[str, str], tuple[datetime, int, datetime]] = field(default_factory=dict)
    # messages per (step, participant, kind); undelivered: those that failed (5xx);
    # delivered: those sent, a carried invitation when the message carrying it was sent
    sent: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    undelivered: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    delivered: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    messages: dict[str, int] = field(default_factory=dict)
    failed_messages: list[str] = field(default_factory=list)
    failures: list[FailedMessage] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)
    invited: set[str] = field(default_factory=set)  # meeting steps with invitations out
    documents: dict[tuple[str, str], list[DocumentRow]] = field(default_factory=dict)
    attendance: dict[str, dict[str, bool]] = field(default_factory=dict)
    treatments: dict[str, dict[str, Treatment]] = field(default_factory=dict)
    # meeting step -> participant -> their latest calendar reply (innspill.rsvp.PartStat)
    replies: dict[str, dict[str, str]] = field(default_factory=dict)


def _of(column: Any, ids: list[str]) -> ColumnElement[bool]:
    """Rows of these processes."""
    return col(column).in_(ids)


def _load_changes(session: Session, facts: dict[str, Facts], ids: list[str]) -> None:
    for pid, step, who, deadline in session.execute(
        select(
            col(DeadlineChange.process_id),
            col(DeadlineChange.step_key),
            col(DeadlineChange.participant_key),
            col(DeadlineChange.deadline),
        )
        .where(_of(DeadlineChange.process_id, ids))
        .order_by(col(DeadlineChange.changed_at), col(DeadlineChange.id))
    ).all():
        if pid in facts:
            facts[pid].changes.append((step, who, deadline))


def _load_answered(
    session: Session, facts: dict[str, Facts], ids: list[str], *, now: datetime
) -> None:
    """How many have answered each step by `now` (200 rows for 100 processes, not 6,000), and
    in the same statement which participants with an extension of their own have answered.

    Only they can leave a step past its deadline without being overdue, and they are few.
    """
    group = (col(Answer.process_id), col(Answer.step_key))
    by_now = (_of(Answer.process_id, ids), col(Answer.received_at) <= now)
    counts = select(
        *group, cast(null(), String).label("who"), func.count(distinct(col(Answer.participant_key)))
    ).where(*by_now)
    wanted = {(pid, step, who) for pid in ids for step, who, _ in facts[pid].changes if who}
    query: Any = counts.group_by(*group)
    if wanted:
        extended = (
            select(*group, col(Answer.participant_key), literal(1))
            .where(*by_now, col(Answer.participant_key).in_({w for _, _, w in wanted}))
            .group_by(*group, col(Answer.participant_key))
        )
        query = union_all(query, extended)
    for pid, step, who, n in session.execute(query).all():
        if pid not in facts:
            continue
        if who is None:
            facts[pid].answered[step] = n
        elif (pid, step, who) in wanted:
            facts[pid].extended_answered.add((step, who))


def _load_answers(
    session: Session, facts: dict[str, Facts], ids: list[str], *, now: datetime
) -> None:
    """When each participant first answered each step by `now`, and how many versions."""
    group = (col(Answer.process_id), col(Answer.step_key), col(Answer.participant_key))
    for pid, step, who, first, versions, last in session.execute(
        select(
            *group,
            func.min(col(Answer.received_at)),
            func.count(),
            func.max(col(Answer.received_at)),
        )
        .where(_of(Answer.process_id, ids), col(Answer.received_at) <= now)
        .group_by(*group)
    ).all():
        if pid in facts:
            facts[pid].answers[(step, who)] = (_aware(first), versions, _aware(last))


def _aware(value: datetime) -> datetime:
    # min() and max() may bypass the column type on some backends: naive UTC then.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _load_failing(session: Session, facts: dict[str, Facts], ids: list[str]) -> None:
    for pid, key in session.execute(
        select(col(Participant.process_id), col(Participant.key)).where(
            _of(Participant.process_id, ids), col(Participant.address_failing)
        )
    ).all():
        if pid in facts:
            facts[pid].failing.add(key)


def _load_documents(
    session: Session, facts: dict[str, Facts], ids: list[str], *, now: datetime
) -> None:
    for pid, step, kind, version, filename, note, created_at in session.execute(
        select(
            col(Document.process_id),
            col(Document.step_key),
            col(Document.kind),
            col(Document.version),
            col(Document.filename),
            col(Document.note),
            col(Document.created_at),
        )
        .where(_of(Document.process_id, ids), col(Document.created_at) <= now)
        .order_by(col(Document.version))
    ).all():
        if pid in facts:
            row = DocumentRow(version, filename, note, created_at)
            facts[pid].documents.setdefault((step, kind), []).append(row)


def _load_meetings_and_treatments(
    session: Session, facts: dict[str, Facts], ids: list[str]
) -> None:
    for a in session.scalars(select(Attendance).where(_of(Attendance.process_id, ids))).all():
        if a.process_id in facts:
            facts[a.process_id].attendance.setdefault(a.step_key, {})[a.participant_key] = (
                a.attended
            )
    for t in session.scalars(select(Treatment).where(_of(Treatment.process_id, ids))).all():
        if t.process_id in facts:
            facts[t.process_id].treatments.setdefault(t.step_key, {})[t.participant_key] = t
    for pid, replies in latest_replies(session, ids).items():
        if pid in facts:
            facts[pid].replies = replies


def load_facts(
    session: Session,
    definitions: Mapping[str, ProcessDefinition],
    *,
    now: datetime,
    detail: bool,
) -> dict[str, Facts]:
    """The facts of these processes, in one query per table whatever their number.

    Without `detail` only what the steps' states and counts need is read (STATE_KINDS and
    failures from the outbox, no answer times), so the overview of many processes stays cheap.
    Both ways the counts come from the same queries, so they cannot disagree.
    """
    ids = list(definitions)
    facts = {pid: Facts() for pid in ids}
    if not ids:
        return facts
    _load_changes(session, facts, ids)
    _load_answered(session, facts, ids, now=now)
    if detail:
        _load_answers(session, facts, ids, now=now)
        load_sent(session, facts, ids)
        load_failed_messages(session, facts, ids)
    else:
        load_state_messages(session, facts, definitions, now=now)
    _load_failing(session, facts, ids)
    _load_documents(session, facts, ids, now=now)
    _load_meetings_and_treatments(session, facts, ids)
    return facts
