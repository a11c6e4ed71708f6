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

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Engine

from innspill.models import Event, MessageStatus, Participant
from innspill.models.db import table_of
from innspill.outbound.claims import claim as _claim
from innspill.outbound.claims import claimable, mark_other, mark_sent
from innspill.outbound.claims import release as _release
from innspill.outbound.transport import Outcome, Queued, Transport

CLAIM_PER_CONNECTION = 4  # a claim takes this many messages per SMTP connection
MIN_CLAIM = 16  # and at least this many (the local capture has one "connection")
LEASE = timedelta(minutes=5)


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


def pending_count(engine: Engine, *, now: datetime) -> int:
    """Messages waiting to be sent at `now` (with those a dead sender left behind)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(claimable(now, now))).scalar_one())


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


def _retry_or_fail(
    attempts: int, *, deferred: bool, now: datetime, max_attempts: int
) -> tuple[MessageStatus, datetime]:
    """A deferred message waits (backoff) while attempts remain; any other refusal has failed."""
    if deferred and attempts < max_attempts:
        return MessageStatus.PENDING, now + backoff(attempts)
    return MessageStatus.FAILED, now


def _mark_all(
    conn: Any,
    outcomes: list[Outcome],
    rows: dict[int, dict[str, Any]],
    *,
    now: datetime,
    me: str,
    max_attempts: int,
) -> tuple[set[int], dict[int, MessageStatus]]:
    """Mark every outcome while its claim is ours: the ids stored, and each refusal's status."""
    sent = [o.row_id for o in outcomes if o.status == "sent"]
    stored = mark_sent(conn, sent, me=me, now=now)
    final: dict[int, MessageStatus] = {}
    for outcome in outcomes:
        if outcome.status == "sent":
            continue
        attempts = rows[outcome.row_id]["attempts"] + 1  # exact: nobody else holds the row
        status, next_at = _retry_or_fail(
            attempts, deferred=outcome.status == "deferred", now=now, max_attempts=max_attempts
        )
        final[outcome.row_id] = status
        stored |= mark_other(
            conn, outcome.row_id, me=me, status=status.value, error=outcome.error, next_at=next_at
        )
    return stored, final


def _event_kind(outcome: Outcome, final: dict[int, MessageStatus]) -> str:
    """The event a stored outcome records."""
    if outcome.status == "sent":
        return "message_sent"
    if final[outcome.row_id] == MessageStatus.PENDING:
        return "message_deferred"
    return "message_failed"


def _count(report: DispatchReport, outcome: Outcome, row: dict[str, Any], kind: str) -> None:
    """Add a stored outcome to the report."""
    if kind == "message_sent":
        report.sent += 1
    elif kind == "message_deferred":
        report.deferred += 1
    else:
        report.failed += 1
    if outcome.error:
        report.errors.append(f"{row['recipient']}: {outcome.error}")


def _count_lost(report: DispatchReport, row: dict[str, Any]) -> None:
    """Add an outcome not stored (the claim passed to another sender) to the report."""
    report.lost += 1
    report.errors.append(
        f"{row['recipient']}: {row['message_id']} was taken over by another sender"
    )


def _event(row: dict[str, Any], outcome: Outcome, *, kind: str, now: datetime) -> dict[str, Any]:
    """The event row of a stored outcome."""
    return {
        "process_id": row["process_id"],
        "at": now,
        "kind": kind,
        "step_key": row["step_key"],
        "participant_key": row["participant_key"],
        "detail": f"{row['kind']} {row['message_id']}"
        + (f": {outcome.error}" if outcome.error else ""),
        "key": None,
    }


def _flag_refused(conn: Any, refused: list[dict[str, Any]]) -> None:
    """The planner skips a failing address from now on, and status shows it."""
    if not refused:
        return
    p = table_of(Participant)
    conn.execute(
        update(p)
        .where(p.c.process_id == bindparam("b_process"), p.c.key == bindparam("b_key"))
        .values(address_failing=True),
        refused,
    )


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
    # A plain transaction: its first statement writes, so on SQLite it takes the write lock
    # before reading anything (what BEGIN IMMEDIATE is for), without switching the
    # connection to autocommit and back on every mark.
    with engine.begin() as conn:
        stored, final = _mark_all(conn, outcomes, rows, now=now, me=me, max_attempts=max_attempts)
        events = []
        refused = []
        for outcome in outcomes:
            row = rows[outcome.row_id]
            if outcome.row_id not in stored:
                _count_lost(report, row)
                continue
            kind = _event_kind(outcome, final)
            _count(report, outcome, row, kind)
            events.append(_event(row, outcome, kind=kind, now=now))
            if outcome.address_refused:
                refused.append({"b_process": row["process_id"], "b_key": row["participant_key"]})
        if events:
            conn.execute(_event_insert(), events)
        _flag_refused(conn, refused)
