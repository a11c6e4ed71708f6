"""Send what the outbox holds and record each outcome: the only code that changes a status."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Integer, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Engine

from innspill.models import Event, MessageStatus, OutboxMessage, Participant
from innspill.models.db import table_of, write_transaction
from innspill.outbound.transport import Outcome, Queued, Transport

CLAIM_PER_CONNECTION = 4  # a claim takes this many messages per SMTP connection
MIN_CLAIM = 16  # and at least this many (the local capture has one "connection")
LEASE = timedelta(minutes=5)

PENDING, SENDING = MessageStatus.PENDING.value, MessageStatus.SENDING.value


@dataclass
class DispatchReport:
    """What one dispatch did."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    lost: int = 0  # outcomes not stored: the claim had expired and another sender took over
    stopped: str | None = None  # why sending stopped early, if it did
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.deferred + self.failed


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after `attempts` failed ones: 5 min, 15, 45 ... 12 h."""
    return timedelta(minutes=min(5 * 3 ** max(attempts - 1, 0), 720))


def sender_name() -> str:
    """Who claims: host:pid:random, unique per dispatch even across machines."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _table() -> Any:
    return table_of(OutboxMessage)


def _claimable(now: Any, at: Any) -> Any:
    """Due pending messages, and messages whose sender's lease has run out."""
    t = _table()
    return or_(
        and_(t.c.status == PENDING, t.c.next_attempt_at <= now),
        and_(t.c.status == SENDING, t.c.lease_until < at),
    )


def pending_count(engine: Engine, *, now: datetime) -> int:
    """Messages waiting to be sent at `now` (with those a dead sender left behind)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(_claimable(now, now))).scalar_one())


@cache
def _claim_statement(dialect: str) -> Any:
    """The claim, built once per dialect: building a statement costs more than running it."""
    t = _table()
    when = t.c.next_attempt_at.type  # bound values converted as the columns are
    due = _claimable(bindparam("b_now", type_=when), bindparam("b_at", type_=when))
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


def _claim(
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


def _release(engine: Engine, me: str) -> None:
    """Give back what `me` claimed and never tried: due again at once, for any sender."""
    t = _table()
    with write_transaction(engine) as conn:
        conn.execute(
            update(t)
            .where(t.c.status == SENDING, t.c.claimed_by == me)
            .values(status=PENDING, lease_until=None)
        )


class _Claims:
    """The transport's source: claims the next batch before the current one runs out."""

    def __init__(
        self,
        engine: Engine,
        *,
        now: datetime,
        clock: Callable[[], datetime],
        lease: timedelta,
        size: int,
        me: str,
    ):
        self.engine, self.now, self.clock, self.lease = engine, now, clock, lease
        self.size, self.me = size, me
        self.rows: dict[int, dict[str, Any]] = {}  # every row claimed, for its mark
        self.buffer: deque[dict[str, Any]] = deque()
        self.next: asyncio.Future[list[dict[str, Any]]] | None = None
        self.exhausted = False
        self.expired = 0
        self.lock = asyncio.Lock()

    def _start(self) -> None:
        at = self.clock()
        self.next = asyncio.ensure_future(
            asyncio.to_thread(
                _claim,
                self.engine,
                now=self.now,
                at=at,
                until=at + self.lease,
                me=self.me,
                size=self.size,
            )
        )

    async def take(self) -> Queued | None:
        async with self.lock:
            while True:
                if not self.buffer:
                    if self.next is None:
                        if self.exhausted:
                            return None
                        self._start()
                    assert self.next is not None
                    batch = await self.next
                    self.next = None
                    if not batch:
                        self.exhausted = True
                        return None
                    self.buffer.extend(batch)
                    self.rows.update((r["id"], r) for r in batch)
                row = self.buffer.popleft()
                if len(self.buffer) < self.size // CLAIM_PER_CONNECTION and self.next is None:
                    self._start()  # claim ahead, while the connections send
                if row["lease_until"] <= self.clock():
                    # Held too long before its turn: another sender may have it by now.
                    self.expired += 1
                    continue
                return Queued(
                    row["id"], row["sender"], row["recipient"], row["raw"], row["message_id"]
                )

    async def close(self) -> None:
        """Wait for a claim still running, then give back everything not tried."""
        if self.next is not None:
            await asyncio.gather(self.next, return_exceptions=True)
            self.next = None
        await asyncio.to_thread(_release, self.engine, self.me)


class _Marks:
    """Stores outcomes as they come, in one transaction per batch of those waiting.

    Each connection waits for its message's mark before it sends the next one, so the marks
    still to be stored never exceed the number of connections: a crash repeats at most those.
    """

    def __init__(self, store: Callable[[list[Outcome]], None]):
        self.store = store
        self.waiting: list[tuple[Outcome, asyncio.Future[None]]] = []
        self.wake = asyncio.Event()
        self.closing = False
        self.broken: BaseException | None = None  # storing failed: nothing more may be sent

    async def report(self, outcome: Outcome) -> None:
        if self.broken is not None:
            raise self.broken
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((outcome, future))
        self.wake.set()
        await future

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            if not self.waiting:
                if self.closing:
                    return
                continue
            batch, self.waiting = self.waiting, []
            try:
                await asyncio.to_thread(self.store, [outcome for outcome, _ in batch])
            except BaseException as exc:
                self.broken = exc
                for _, future in batch + self.waiting:
                    future.set_exception(exc)
                raise
            for _, future in batch:
                future.set_result(None)

    def close(self) -> None:
        self.closing = True
        self.wake.set()


async def dispatch(
    engine: Engine,
    transport: Transport,
    *,
    now: datetime,
    max_attempts: int = 8,
    progress: Callable[[DispatchReport], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    lease: timedelta = LEASE,
) -> DispatchReport:
    """Send every message due at `now`, claiming a few at a time and marking each when accepted.

    Any number of senders may run at once: each claims rows (status `sending`, its name, a
    lease) before it sends them, so no message goes to two of them. A sender killed mid-send
    leaves its claims to expire after `lease`; another then sends them with the same
    Message-ID, so only the messages in flight at the crash (at most one per connection) can
    arrive twice. `clock` tells when leases run out (the wall clock; by default `now`, which
    suits a simulated clock with one sender).
    """
    report = DispatchReport()
    me = sender_name()
    claims = _Claims(
        engine,
        now=now,
        clock=clock or (lambda: now),
        lease=lease,
        size=max(MIN_CLAIM, transport.concurrency * CLAIM_PER_CONNECTION),
        me=me,
    )

    def store(outcomes: list[Outcome]) -> None:
        _store(
            engine,
            outcomes,
            claims.rows,
            now=now,
            me=me,
            max_attempts=max_attempts,
            report=report,
        )
        if progress:
            progress(report)

    marks = _Marks(store)
    marking = asyncio.create_task(marks.run())
    try:
        report.stopped = await transport.send_all(claims, marks.report)
    finally:
        marks.close()
        try:
            await marking
        finally:
            await claims.close()
    if claims.expired:
        report.errors.append(
            f"{claims.expired} claimed message(s) were not sent: their lease ran out first "
            "(another sender sends them; a longer INNSPILL_SMTP_LEASE_SECONDS avoids this)"
        )
    return report


@cache
def _event_insert() -> Any:
    return insert(table_of(Event))


@cache
def _mark_statements() -> tuple[Any, Any]:
    """The marks of accepted and of refused messages, each only while the claim is ours."""
    t = _table()
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


def _store(
    engine: Engine,
    outcomes: list[Outcome],
    rows: dict[int, dict[str, Any]],
    *,
    now: datetime,
    me: str,
    max_attempts: int,
    report: DispatchReport,
) -> None:
    """Record a batch of outcomes and their events in one transaction.

    Every update is conditional on the claim still being ours (status `sending`, claimed by
    `me`): an outcome whose claim expired and passed to another sender is not stored.
    Attempts are counted by the database, never from a copy read earlier.
    """
    sent_mark, other_mark = _mark_statements()
    sent = [o.row_id for o in outcomes if o.status == "sent"]
    others = []
    for outcome in outcomes:
        if outcome.status == "sent":
            continue
        attempts = rows[outcome.row_id]["attempts"] + 1  # exact: nobody else holds the row
        if outcome.status == "deferred" and attempts < max_attempts:
            status, next_at = MessageStatus.PENDING, now + backoff(attempts)
        else:
            status, next_at = MessageStatus.FAILED, now
        others.append((outcome, status, next_at))
    # A plain transaction: its first statement writes, so on SQLite it takes the write lock
    # before reading anything (what BEGIN IMMEDIATE is for), without switching the
    # connection to autocommit and back on every mark.
    with engine.begin() as conn:
        stored: set[int] = set()
        if sent:
            marked = conn.execute(sent_mark, {"b_ids": sent, "b_me": me, "b_now": now})
            stored |= set(marked.scalars())
        for outcome, status, next_at in others:
            values = {
                "b_id": outcome.row_id,
                "b_me": me,
                "b_status": status.value,
                "b_error": outcome.error,
                "b_next": next_at,
            }
            stored |= set(conn.execute(other_mark, values).scalars())
        events = []
        refused = []
        final = {o.row_id: s for o, s, _ in others}
        for outcome in outcomes:
            row = rows[outcome.row_id]
            if outcome.row_id not in stored:
                report.lost += 1
                report.errors.append(
                    f"{row['recipient']}: {row['message_id']} was taken over by another sender"
                )
                continue
            if outcome.status == "sent":
                kind = "message_sent"
                report.sent += 1
            elif final[outcome.row_id] == MessageStatus.PENDING:
                kind = "message_deferred"
                report.deferred += 1
            else:
                kind = "message_failed"
                report.failed += 1
            if outcome.error:
                report.errors.append(f"{row['recipient']}: {outcome.error}")
            events.append(
                {
                    "process_id": row["process_id"],
                    "at": now,
                    "kind": kind,
                    "step_key": row["step_key"],
                    "participant_key": row["participant_key"],
                    "detail": f"{row['kind']} {row['message_id']}"
                    + (f": {outcome.error}" if outcome.error else ""),
                    "key": None,
                }
            )
            if outcome.address_refused:
                refused.append({"b_process": row["process_id"], "b_key": row["participant_key"]})
        if events:
            conn.execute(_event_insert(), events)
        if refused:
            # The planner skips a failing address from now on, and status shows it.
            p = table_of(Participant)
            conn.execute(
                update(p)
                .where(p.c.process_id == bindparam("b_process"), p.c.key == bindparam("b_key"))
                .values(address_failing=True),
                refused,
            )
