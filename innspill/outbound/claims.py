"""The outbox's SQL: claim rows with a lease, mark them while the claim is ours, release them."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Integer, and_, bindparam, or_, select, update
from sqlalchemy.engine import Engine

from innspill.models import MessageStatus, OutboxMessage
from innspill.models.db import table_of, write_transaction

PENDING, SENDING = MessageStatus.PENDING.value, MessageStatus.SENDING.value


def table() -> Any:
    """The outbox table, for statements built by hand."""
    return table_of(OutboxMessage)


def claimable(now: Any, at: Any) -> Any:
    """Due pending messages, and messages whose sender's lease has run out."""
    t = table()
    return or_(
        and_(t.c.status == PENDING, t.c.next_attempt_at <= now),
        and_(t.c.status == SENDING, t.c.lease_until < at),
    )


@cache
def _claim_statement(dialect: str) -> Any:
    """The claim, built once per dialect: building a statement costs more than running it."""
    t = table()
    when = t.c.next_attempt_at.type  # bound values converted as the columns are
    due = claimable(bindparam("b_now", type_=when), bindparam("b_at", type_=when))
    ids = select(t.c.id).where(due).order_by(t.c.id).limit(bindparam("b_size", type_=Integer))
    if dialect == "postgresql":
        ids = ids.with_for_update(skip_locked=True)
    return (
        update(t)
        .where(t.c.id.in_(ids))
        .values(
            status=SENDING,
            claimed_by=bindparam("b_me"),
            lease_until=bindparam("b_until", type_=when),
        )
        .returning(
            t.c.id,
            t.c.sender,
            t.c.recipient,
            t.c.raw,
            t.c.message_id,
            t.c.attempts,
            t.c.process_id,
            t.c.step_key,
            t.c.participant_key,
            t.c.kind,
        )
    )


def claim(
    engine: Engine, *, now: datetime, at: datetime, until: datetime, me: str, size: int
) -> list[dict[str, Any]]:
    """Mark up to `size` claimable messages `sending` for `me` until `until`; return them.

    PostgreSQL skips rows another sender is claiming (SKIP LOCKED) instead of waiting for it;
    SQLite has one writer at a time, so the immediate transaction is the claim's lock.
    """
    statement = _claim_statement(engine.dialect.name)
    values = {"b_now": now, "b_at": at, "b_until": until, "b_me": me, "b_size": size}
    with write_transaction(engine) as conn:
        rows = [dict(row._mapping) for row in conn.execute(statement, values)]
    for row in rows:
        row["lease_until"] = until
    return sorted(rows, key=lambda r: r["id"])


def release(engine: Engine, me: str) -> None:
    """Give back what `me` claimed and never tried: due again at once, for any sender."""
    t = table()
    with write_transaction(engine) as conn:
        conn.execute(
            update(t)
            .where(t.c.status == SENDING, t.c.claimed_by == me)
            .values(status=PENDING, lease_until=None)
        )


@cache
def mark_statements() -> tuple[Any, Any]:
    """The marks of accepted and of refused messages, each only while the claim is ours."""
    t = table()
    when = t.c.next_attempt_at.type
    ours = and_(t.c.status == SENDING, t.c.claimed_by == bindparam("b_me"))
    sent = (
        update(t)
        .where(t.c.id.in_(bindparam("b_ids", expanding=True)), ours)
        .values(
            status=MessageStatus.SENT.value,
            attempts=t.c.attempts + 1,
            last_error=None,
            next_attempt_at=bindparam("b_now", type_=when),
            sent_at=bindparam("b_now", type_=when),
            lease_until=None,
        )
        .returning(t.c.id)
    )
    other = (
        update(t)
        .where(t.c.id == bindparam("b_id"), ours)
        .values(
            status=bindparam("b_status"),
            attempts=t.c.attempts + 1,
            last_error=bindparam("b_error"),
            next_attempt_at=bindparam("b_next", type_=when),
            lease_until=None,
        )
        .returning(t.c.id)
    )
    return sent, other


def mark_sent(conn: Any, ids: list[int], *, me: str, now: datetime) -> set[int]:
    """Mark accepted messages sent; return the ids whose claim was still ours."""
    if not ids:
        return set()
    sent, _ = mark_statements()
    return set(conn.execute(sent, {"b_ids": ids, "b_me": me, "b_now": now}).scalars())


def mark_other(
    conn: Any, row_id: int, *, me: str, status: str, error: str | None, next_at: datetime
) -> set[int]:
    """Mark a refused message pending again (at `next_at`) or failed; the id if still ours."""
    _, other = mark_statements()
    values = {"b_id": row_id, "b_me": me, "b_status": status, "b_error": error, "b_next": next_at}
    return set(conn.execute(other, values).scalars())
