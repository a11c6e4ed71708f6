"""What the outbox says about a process's steps: messages per step and participant, which
reached them, which failed and whether they were sent again (read by innspill.status.facts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from innspill.models import MessageStatus, OutboxMessage
from innspill.planning.actions import original_sequence, resend_number
from innspill.process.definition import CirculationStep, MeetingStep, ProcessDefinition
from innspill.process.workdays import OSLO, end_of_day, local_datetime
from innspill.status.model import FailedMessage

if TYPE_CHECKING:
    from datetime import datetime

    from innspill.status.facts import Facts

#: The message a COMBINED row went inside (its `carried_by`), in queries that join it.
_CARRIER = aliased(OutboxMessage, name="carrier")


def _of(column: Any, ids: list[str]) -> ColumnElement[bool]:
    """Rows of these processes."""
    return col(column).in_(ids)


def load_sent(session: Session, facts: dict[str, Facts], ids: list[str]) -> None:
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
            if status == MessageStatus.SENT:
                f.delivered[(step, who, kind)] += n
    for pid, step, who, kind, n in session.execute(
        select(
            col(OutboxMessage.process_id),
            col(OutboxMessage.step_key),
            col(OutboxMessage.participant_key),
            col(OutboxMessage.kind),
            func.count(),
        )
        .join(_CARRIER, col(_CARRIER.key) == col(OutboxMessage.carried_by))
        .where(
            _of(OutboxMessage.process_id, ids),
            col(OutboxMessage.status) == MessageStatus.COMBINED.value,
            col(_CARRIER.status) == MessageStatus.SENT.value,
        )
        .group_by(
            col(OutboxMessage.process_id),
            col(OutboxMessage.step_key),
            col(OutboxMessage.participant_key),
            col(OutboxMessage.kind),
        )
    ).all():
        if pid in facts:  # carried inside a message that was sent: it reached them too
            facts[pid].delivered[(step, who, kind)] += n


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


def load_state_messages(
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


def load_failed_messages(session: Session, facts: dict[str, Facts], ids: list[str]) -> None:
    """Every failed message in full, and whether it was sent again since."""
    o = OutboxMessage
    mailed = session.execute(
        select(
            col(o.id),
            col(o.process_id),
            col(o.step_key),
            col(o.participant_key),
            col(o.kind),
            col(o.sequence),
            col(o.message_id),
            col(o.recipient),
            col(o.last_error),
            col(o.created_at),
        )
        .where(_of(o.process_id, ids), col(o.status) == MessageStatus.FAILED.value)
        .order_by(col(o.id))
    ).all()
    # An invitation carried inside a message that failed did not arrive either: listed with
    # the carrier's reason (resending either sends the carrier again with every part).
    carried = session.execute(
        select(
            col(o.id),
            col(o.process_id),
            col(o.step_key),
            col(o.participant_key),
            col(o.kind),
            col(o.sequence),
            col(o.message_id),
            col(o.recipient),
            col(_CARRIER.id),
            col(_CARRIER.last_error),
            col(o.created_at),
        )
        .join(_CARRIER, col(_CARRIER.key) == col(o.carried_by))
        .where(
            _of(o.process_id, ids),
            col(o.status) == MessageStatus.COMBINED.value,
            col(_CARRIER.status) == MessageStatus.FAILED.value,
        )
    ).all()
    failed: list[Any] = sorted(
        [
            *((*row, None) for row in mailed),
            *((*row, error, at, carrier) for *row, carrier, error, at in carried),
        ],
        key=lambda row: row[0],
    )
    if not failed:
        return
    # Resends are few: their sequences end in -r1, -r2 ... (innspill.outbound.resend).
    latest: dict[tuple[str, str, str, str, str], int] = {}
    for pid, step, who, kind, sequence in session.execute(
        select(
            col(o.process_id), col(o.step_key), col(o.participant_key), col(o.kind), col(o.sequence)
        ).where(_of(o.process_id, ids), col(o.sequence).like("%-r%"))
    ).all():
        n = resend_number(sequence)
        if n:
            base = (pid, step, who, kind, original_sequence(sequence))
            latest[base] = max(latest.get(base, 0), n)
    for row_id, pid, step, who, kind, sequence, mid, recipient, error, at, carrier in failed:
        if pid not in facts:
            continue
        base = (pid, step, who, kind, original_sequence(sequence))
        message = FailedMessage(
            id=row_id,
            message_id=mid,
            step=step,
            participant=who,
            kind=kind,
            recipient=recipient,
            error=error or "",
            at=at.astimezone(OSLO).isoformat(),
            resent=latest.get(base, 0) > resend_number(sequence),
            carried_by=carrier,
        )
        facts[pid].failures.append(message)
        facts[pid].failed_messages.append(str(message))
