"""The outbox's SQL: claim rows with a lease, mark them while the claim is ours, release them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Integer, and_, bindparam, or_, select, update
from sqlalchemy.engine import Connection, Engine

from innspill.models import MessageStatus, OutboxMessage
from innspill.models.db import table_of, write_transaction

PENDING, SENDING = MessageStatus.PENDING.value, MessageStatus.SENDING.value


def table() -> Any:
    """The outbox table, for statements built by hand."""
    return table_of(OutboxMessage)


def due(now: Any) -> Any:
    """Pending messages whose time has come (`now` may be simulated)."""
    t = table()
    return and_(t.c.status == PENDING, t.c.next_attempt_at <= now)


def expired(at: Any) -> Any:
    """Messages whose sender's lease ran out by `at`, always the wall clock."""
    t = table()
    return and_(t.c.status == SENDING, t.c.lease_until < at)


def claimable(now: Any, at: Any) -> Any:
    """Due pending messages, and messages whose sender's lease has run out."""
    return or_(due(now), expired(at))


@cache
def _claim_statements(dialect: str) -> tuple[Any, Any]:
    """The claims of due rows and of expired ones, built once per dialect.

    Two statements, not one with OR: each walks the (status, next_attempt_at) index and stops
    at its limit, where an OR ordered by id collected and sorted every due row on each claim
    (5 ms a claim with 10,000 waiting, on SQLite). Due rows go oldest first.
    """
    t = table()
    when = t.c.next_attempt_at.type  # bound values converted as the columns are
    size = bindparam("b_size", type_=Integer)
    pending = (
        select(t.c.id)
        .where(due(bindparam("b_now", type_=when)))
        .order_by(t.c.next_attempt_at, t.c.id)
        .limit(size)
    )
    lapsed = select(t.c.id).where(expired(bindparam("b_at", type_=when))).limit(size)
    if dialect == "postgresql":
        pending = pending.with_for_update(skip_locked=True)
        lapsed = lapsed.with_for_update(skip_locked=True)

    def claiming(ids: Any) -> Any:
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

    return claiming(pending), claiming(lapsed)


def claim_in(
    conn: Connection, *, now: datetime, at: datetime, until: datetime, me: str, size: int
) -> list[dict[str, Any]]:
    """Claim up to `size` rows inside the caller's write transaction; return them by id."""
    if size <= 0:
        return []
    pending, lapsed = _claim_statements(conn.dialect.name)
    values = {"b_now": now, "b_at": at, "b_until": until, "b_me": me, "b_size": size}
    rows = [dict(row._mapping) for row in conn.execute(pending, values)]
    if len(rows) < size:
        values["b_size"] = size - len(rows)
        rows += [dict(row._mapping) for row in conn.execute(lapsed, values)]
    for row in rows:
        row["lease_until"] = until
    return sorted(rows, key=lambda r: r["id"])


def claim(
    engine: Engine, *, now: datetime, at: datetime, until: datetime, me: str, size: int
) -> list[dict[str, Any]]:
    """Mark up to `size` claimable messages `sending` for `me` until `until`; return them.

    PostgreSQL skips rows another sender is claiming (SKIP LOCKED) instead of waiting for it;
    SQLite has one writer at a time, so the immediate transaction is the claim's lock.
    """
    with write_transaction(engine) as conn:
        return claim_in(conn, now=now, at=at, until=until, me=me, size=size)


def release(engine: Engine, me: str) -> None:
    """Give back what `me` claimed and never tried: due again at once, for any sender."""
    with write_transaction(engine) as conn:
        release_in(conn, [me])


def release_in(conn: Connection, holders: Iterable[str]) -> int:
    """Give back every claim of `holders` (senders that stopped or died): due at once."""
    names = list(holders)
    if not names:
        return 0
    t = table()
    result = conn.execute(
        update(t)
        .where(t.c.status == SENDING, t.c.claimed_by.in_(names))
        .values(status=PENDING, lease_until=None)
    )
    return int(result.rowcount or 0)


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
            attempts=t.c.attempts + bindparam("b_count", type_=Integer),
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
    conn: Any,
    row_id: int,
    *,
    me: str,
    status: str,
    error: str | None,
    next_at: datetime,
    counts: bool = True,
) -> set[int]:
    """Mark a refused message pending again (at `next_at`) or failed; the id if still ours.

    `counts` False: the attempt is not counted (the relay asked us to slow down: the message
    was not refused, it waits for its turn at the lower pace).
    """
    _, other = mark_statements()
    values = {
        "b_id": row_id,
        "b_me": me,
        "b_status": status,
        "b_error": error,
        "b_next": next_at,
        "b_count": 1 if counts else 0,
    }
    return set(conn.execute(other, values).scalars())
