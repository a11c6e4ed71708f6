"""Send what the outbox holds and record each outcome: the only code that changes a status."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from innspill.models.db import write_transaction
from innspill.outbound import senders
from innspill.outbound.claims import claim as _claim
from innspill.outbound.claims import claim_in, claimable, release_in
from innspill.outbound.claims import release as _release
from innspill.outbound.marks import DispatchReport, Marking, SendWindows, backoff, store_in
from innspill.outbound.pace import Limits
from innspill.outbound.pacer import Pacer
from innspill.outbound.transport import Outcome, Queued, Transport
from innspill.outbound.writer import Writer

__all__ = [
    "LEASE",
    "DispatchReport",
    "_claim",
    "_release",
    "_store",
    "backoff",
    "dispatch",
    "held_by_others",
    "pending_count",
    "sender_name",
    "take_over_dead_senders",
]

CLAIM_PER_CONNECTION = 4  # a claim takes this many messages per SMTP connection
MIN_CLAIM = 16  # and at least this many (the local capture has one "connection")
LEASE = timedelta(minutes=5)


def sender_name() -> str:
    """Who claims: host:pid:random, unique per dispatch even across machines."""
    return senders.this_sender().name


def pending_count(engine: Engine, *, now: datetime, at: datetime | None = None) -> int:
    """Messages waiting to be sent at `now` (with those whose lease ran out by `at`, the wall
    clock; by default `now`)."""
    with engine.connect() as conn:
        query = select(func.count()).where(claimable(now, now if at is None else at))
        return int(conn.execute(query).scalar_one())


def take_over_dead_senders(engine: Engine) -> int:
    """Give back the claims of senders on this host that no longer run; how many."""
    with write_transaction(engine) as conn:
        return senders.take_over_dead(conn, senders.this_sender())


def held_by_others(engine: Engine, *, at: datetime) -> senders.Held | None:
    """Messages another sender holds under a running lease (`at`: the wall clock)."""
    with engine.connect() as conn:
        return senders.held_by_others(conn, at=at)


class _Claims:
    """The transport's source: claims the next batch (with a commit of marks) before the
    current one runs out, and hands each message out at its slot of the relay's pace."""

    def __init__(
        self,
        writer: Writer,
        *,
        clock: Callable[[], datetime],
        size: int,
        pacer: Pacer | None,
        report: DispatchReport,
    ):
        self.writer, self.clock, self.size, self.pacer = writer, clock, size, pacer
        self.report = report
        self.rows: dict[int, dict[str, Any]] = {}  # every row claimed, for its mark
        self.buffer: deque[dict[str, Any]] = deque()
        self.next: asyncio.Future[list[dict[str, Any]]] | None = None
        self.exhausted = False
        self.lock = asyncio.Lock()

    def _start(self) -> None:
        self.next = asyncio.ensure_future(self.writer.claim_rows(self.size))

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
                    self.report.claimed += len(batch)
                    self.buffer.extend(batch)
                    self.rows.update((r["id"], r) for r in batch)
                if self.pacer is not None and not await self.pacer.wait():
                    self.exhausted = True  # the rest is given back at close
                    return None
                row = self.buffer.popleft()
                if len(self.buffer) < self.size // CLAIM_PER_CONNECTION and self.next is None:
                    self._start()  # claim ahead, while the connections send
                if row["lease_until"] <= self.clock():
                    # Held too long before its turn: another sender may have it by now.
                    self.report.expired += 1
                    continue
                return Queued(
                    row["id"], row["sender"], row["recipient"], row["raw"], row["message_id"]
                )

    async def close(self) -> None:
        """Wait for a claim still running; count what was claimed and never tried."""
        if self.next is not None:
            done = await asyncio.gather(self.next, return_exceptions=True)
            self.next = None
            if isinstance(done[0], list):
                self.report.claimed += len(done[0])
                self.report.given_back += len(done[0])
        self.report.given_back += len(self.buffer)
        self.buffer.clear()


def _claim_size(transport: Transport, limits: Limits | None, lease: timedelta) -> int:
    size = max(MIN_CLAIM, transport.concurrency * CLAIM_PER_CONNECTION)
    if limits is not None and limits.rate is not None:
        # At a slow pace, claim no more than leaves well within the lease.
        size = min(size, max(1, int(limits.rate * lease.total_seconds() / 8)))
    return size


async def dispatch(
    engine: Engine,
    transport: Transport,
    *,
    now: datetime,
    max_attempts: int = 8,
    progress: Callable[[DispatchReport], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    lease: timedelta = LEASE,
    pace: Limits | None = None,
) -> DispatchReport:
    """Send every message due at `now`, claiming a few at a time and marking each when accepted.

    Any number of senders may run at once: each claims rows (status `sending`, its name, a
    lease) before it sends them, so no message goes to two of them. A sender killed mid-send
    leaves its claims: another sender on the same host takes them at once (the process is
    gone), one elsewhere when the lease has run out; it sends them with the same Message-ID,
    so only the messages in flight at the crash (at most one per connection) can arrive twice.
    `clock` tells when leases run out and paces the relay (the wall clock; by default `now`,
    which suits a simulated clock with one sender). `pace` (with a wall clock): the relay's
    limits, kept together with every other sender; a relay's "slow down" then lowers the pace
    instead of deferring the message. Retries keep their step's send window.
    """
    report = DispatchReport()
    tick = clock or (lambda: now)
    me = senders.this_sender()
    with write_transaction(engine) as conn:
        report.taken_over = senders.take_over_dead(conn, me)
        senders.register(conn, me, at=tick())
    relay = getattr(transport, "relay", None)
    pacer = None
    if pace is not None and relay is not None:
        pacer = Pacer(engine, relay, pace, clock=tick, concurrency=transport.concurrency)
    how = Marking(
        me.name,
        now,
        max_attempts=max_attempts,
        retry_at=SendWindows(engine),
        throttle_waits=pacer is not None,
    )
    rows: dict[int, dict[str, Any]] = {}
    # One thread and one connection write every mark and claim of this dispatch: no pool
    # checkout, reset and thread hand-over per commit.
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="innspill-marks")
    held: list[Connection] = []

    def write(outcomes: list[Outcome], size: int) -> list[dict[str, Any]]:
        # A plain transaction: its first statement writes, so on SQLite it takes the write
        # lock before reading anything (what BEGIN IMMEDIATE is for), without switching the
        # connection to autocommit and back on every commit.
        if not held:
            held.append(engine.connect())
        conn = held[0]
        with conn.begin():
            if outcomes:
                store_in(conn, outcomes, rows, how, report)
            claimed = []
            if size:
                at = tick()
                claimed = claim_in(conn, now=now, at=at, until=at + lease, me=me.name, size=size)
        if outcomes and progress:
            progress(report)
        return claimed

    def let_go() -> None:
        while held:
            held.pop().close()

    writer = Writer(write, thread)
    claims = _Claims(
        writer, clock=tick, size=_claim_size(transport, pace, lease), pacer=pacer, report=report
    )
    claims.rows = rows

    async def told(outcome: Outcome) -> None:
        if pacer is not None:
            if outcome.status == "throttled":
                await pacer.slow_down(outcome.error or "")
            elif outcome.status == "sent":
                pacer.accepted()
        await writer.report(outcome)

    writing = asyncio.create_task(writer.run())
    try:
        report.stopped = await transport.send_all(claims, told)
    finally:
        writer.close()
        try:
            await writing
        finally:
            await asyncio.get_running_loop().run_in_executor(thread, let_go)
            thread.shutdown()
            await claims.close()
            if pacer is not None:
                await pacer.close()
                report.paused, report.pace = pacer.stop, pacer.rate
                report.pace_lowered = pacer.rate is not None and pacer.rate != pacer.limits.rate
            await asyncio.to_thread(_finish, engine, me.name)
    if report.expired:
        report.errors.append(
            f"{report.expired} claimed message(s) were not sent: their lease ran out first "
            "(another sender sends them; a longer INNSPILL_SMTP_LEASE_SECONDS avoids this)"
        )
    return report


def _finish(engine: Engine, me: str) -> None:
    """Give back every claim not tried, and forget this sender."""
    with write_transaction(engine) as conn:
        release_in(conn, [me])
        senders.unregister(conn, me)


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
    """Record a batch of outcomes and their events in one transaction (see marks.store_in)."""
    with engine.begin() as conn:
        store_in(conn, outcomes, rows, Marking(me, now, max_attempts=max_attempts), report)
