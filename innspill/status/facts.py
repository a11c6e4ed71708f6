"""What a process's status is computed from, loaded for many processes in one query per table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, select, text
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from innspill.models import (
    Answer,
    Attendance,
    DeadlineChange,
    Document,
    MessageStatus,
    OutboxMessage,
    Participant,
    Treatment,
)
from innspill.process.deadlines import DeadlineChangeRow
from innspill.process.definition import CirculationStep, MeetingStep, ProcessDefinition
from innspill.process.workdays import end_of_day, local_datetime
from innspill.rsvp import latest_replies


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
    # (step, participant) -> first answer's time, number of versions (with detail only)
    answers: dict[tuple[str, str], tuple[datetime, int]] = field(default_factory=dict)
    # messages per (step, participant, kind); undelivered: those that failed (5xx)
    sent: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    undelivered: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    messages: dict[str, int] = field(default_factory=dict)
    failed_messages: list[str] = field(default_factory=list)
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
    """How many have answered each step by `now` (200 rows for 100 processes, not 6,000)."""
    group = (col(Answer.process_id), col(Answer.step_key))
    for pid, step, n in session.execute(
        select(*group, func.count(distinct(col(Answer.participant_key))))
        .where(_of(Answer.process_id, ids), col(Answer.received_at) <= now)
        .group_by(*group)
    ).all():
        if pid in facts:
            facts[pid].answered[step] = n


def _load_answers(
    session: Session, facts: dict[str, Facts], ids: list[str], *, now: datetime
) -> None:
    """When each participant first answered each step by `now`, and how many versions."""
    group = (col(Answer.process_id), col(Answer.step_key), col(Answer.participant_key))
    for pid, step, who, first, versions in session.execute(
        select(*group, func.min(col(Answer.received_at)), func.count())
        .where(_of(Answer.process_id, ids), col(Answer.received_at) <= now)
        .group_by(*group)
    ).all():
        if pid in facts:
            facts[pid].answers[(step, who)] = (first, versions)


def _load_sent(session: Session, facts: dict[str, Facts], ids: list[str]) -> None:
    """Every message kind sent per step and participant, and counts by delivery status."""
    group = (
        col(OutboxMessage.process_id),
        col(OutboxMessage.step_key),
        col(OutboxMessage.participant_key),
        col(OutboxMessage.kind),
        col(OutboxMessage.status),
    )
    for pid, step, who, kind, status, n in session.execute(
        select(*group, func.count()).where(_of(OutboxMessage.process_id, ids)).group_by(*group)
    ).all():
        if pid in facts:
            f = facts[pid]
            f.sent[(step, who, kind)] += n
            f.messages[status] = f.messages.get(status, 0) + n
            if kind == "meeting_invitation":
                f.invited.add(step)
            if status == MessageStatus.FAILED:
                f.undelivered[(step, who, kind)] += n


def _under(prefix: str, kind: str, *, ranged: bool, n: int) -> tuple[str, dict[str, str]]:
    """SQL for outbox keys of one step (`prefix` = "process/step/") and one kind, and its values.

    The key is process/step/participant/kind/sequence (innspill.planning.actions) and ids
    hold no "/". Where keys compare bytewise (SQLite) the range seeks in the unique key index;
    elsewhere a collation may not order "/" so, and LIKE alone decides.
    """
    values = {f"p{n}": _escaped(prefix) + "%/" + _escaped(kind) + "/%"}
    sql = f"key LIKE :p{n} ESCAPE '!'"
    if ranged:
        values |= {f"lo{n}": prefix, f"hi{n}": prefix[:-1] + "0"}  # "0" is the byte after "/"
        sql = f"key >= :lo{n} AND key < :hi{n} AND {sql}"
    return sql, values


def _escaped(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


#: SQL text, not SQLAlchemy expressions: building and caching 100 subqueries cost more than
#: running them.
OUTBOX = OutboxMessage.__tablename__


def _load_state_messages(
    session: Session,
    facts: dict[str, Facts],
    definitions: Mapping[str, ProcessDefinition],
    *,
    now: datetime,
) -> None:
    """Without detail: only what the steps' states need from the outbox, by its key index.

    Its rows hold every message's bytes, and reading them made the overview ten times
    slower: whether a meeting not yet held has invitations out (one index seek each), the
    drafts sent to each body once a circulation's deadline has passed, and what failed.
    """
    ranged = session.get_bind().dialect.name == "sqlite"
    _load_invited(session, facts, definitions, now=now, ranged=ranged)
    _load_circulated(session, facts, definitions, now=now, ranged=ranged)
    _load_failures(session, facts)


def _load_invited(
    session: Session,
    facts: dict[str, Facts],
    definitions: Mapping[str, ProcessDefinition],
    *,
    now: datetime,
    ranged: bool,
) -> None:
    """Which meetings not yet held have invitations out: one EXISTS probe each, one query."""
    meetings = [
        (pid, s.id)
        for pid, d in definitions.items()
        for s in d.steps
        if isinstance(s, MeetingStep) and not s.cancelled and now < local_datetime(s.date, s.end)
    ]
    if not meetings:
        return
    probes: list[str] = []
    values: dict[str, str] = {}
    for n, (pid, step) in enumerate(meetings):
        sql, more = _under(f"{pid}/{step}/", "meeting_invitation", ranged=ranged, n=n)
        # only constants in the text: every value is a bound parameter
        probes.append(f"EXISTS (SELECT 1 FROM {OUTBOX} WHERE {sql})")  # noqa: S608
        values |= more
    found = session.execute(text("SELECT " + ", ".join(probes)), values).one()
    for (pid, step), invited in zip(meetings, found, strict=True):
        if invited:
            facts[pid].invited.add(step)


def _load_circulated(
    session: Session,
    facts: dict[str, Facts],
    definitions: Mapping[str, ProcessDefinition],
    *,
    now: datetime,
    ranged: bool,
) -> None:
    """The drafts sent to each body of the circulations whose deadline has passed."""
    circulations = [
        (pid, s.id)
        for pid, d in definitions.items()
        for s in d.steps
        if isinstance(s, CirculationStep) and now >= end_of_day(s.deadline)
    ]
    if not circulations:
        return
    ors: list[str] = []
    values: dict[str, str] = {}
    for n, (pid, step) in enumerate(circulations):
        sql, more = _under(f"{pid}/{step}/", "circulation", ranged=ranged, n=n)
        ors.append(f"({sql})")
        values |= more
    query = text(f"SELECT key FROM {OUTBOX} WHERE " + " OR ".join(ors))  # noqa: S608
    for key in session.execute(query, values).scalars():
        pid, step, who, kind, _ = key.split("/", 4)
        facts[pid].sent[(step, who, kind)] += 1


def _load_failures(session: Session, facts: dict[str, Facts]) -> None:
    """What failed, per step, participant and kind (by the status index: a few rows)."""
    failed = (
        col(OutboxMessage.process_id),
        col(OutboxMessage.step_key),
        col(OutboxMessage.participant_key),
        col(OutboxMessage.kind),
    )
    for pid, step, who, kind, n in session.execute(
        select(*failed, func.count())
        .where(col(OutboxMessage.status) == MessageStatus.FAILED.value)
        .group_by(*failed)
    ).all():
        if pid in facts:
            f = facts[pid]
            f.undelivered[(step, who, kind)] += n
            f.messages[MessageStatus.FAILED] = f.messages.get(MessageStatus.FAILED, 0) + n


def _load_failed_messages(session: Session, facts: dict[str, Facts], ids: list[str]) -> None:
    for pid, kind, recipient, error in session.execute(
        select(
            col(OutboxMessage.process_id),
            col(OutboxMessage.kind),
            col(OutboxMessage.recipient),
            col(OutboxMessage.last_error),
        )
        .where(
            _of(OutboxMessage.process_id, ids),
            col(OutboxMessage.status) == MessageStatus.FAILED.value,
        )
        .order_by(col(OutboxMessage.id))
    ).all():
        if pid in facts:
            facts[pid].failed_messages.append(f"{kind} to {recipient}: {error}")


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
        _load_sent(session, facts, ids)
        _load_failed_messages(session, facts, ids)
    else:
        _load_state_messages(session, facts, definitions, now=now)
    _load_failing(session, facts, ids)
    _load_documents(session, facts, ids, now=now)
    _load_meetings_and_treatments(session, facts, ids)
    return facts
