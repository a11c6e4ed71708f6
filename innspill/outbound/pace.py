"""Sending at the relay's pace: slots handed out through the database, shared by every sender.

Each relay has one row (`relaypace`): the wall-clock time of its next free slot, and a lowered
rate while the relay asks to slow down. A sender reserves a few slots at a time in a short
transaction (the row locked, on PostgreSQL, or SQLite's write lock), so any number of senders
on any number of machines keep one pace together; each then sends at its slots' times. The
daily limit counts recipients per hour (`relayusage`) over the last 24 hours, conservatively.
With neither limit set and a quiet relay, nothing here runs: no slot, no query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import case, func, insert, literal, select, update
from sqlalchemy.engine import Connection, Engine

from innspill.models import RelayPace, RelayUsage
from innspill.models.db import table_of, write_transaction

#: A slow-down request lowers the pace to this share of what it was ...
LOWER = 0.5
#: ... never below this (messages a second: one a minute) ...
FLOOR = 1 / 60
#: ... and at most once in this while: the refusals of messages already under way at the old
#: pace would otherwise lower it again and again.
HOLD = timedelta(seconds=5)
#: While the relay is quiet the pace grows back by this share a minute, after a minute.
GROWTH = 0.05
#: With no rate configured, a lowered pace is forgotten after this long without a refusal.
FORGET = timedelta(minutes=10)
#: The daily limit looks back this far, in whole hours (conservative: 24 to 25 hours).
DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Limits:
    """What the operator set: INNSPILL_SMTP_RATE (as messages a second), the daily limit."""

    rate: float | None = None
    daily: int | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(settings.smtp_rate_per_second, settings.smtp_daily_limit)


@dataclass(frozen=True)
class Slots:
    """Slots reserved: when each message may leave; or why none (the daily limit, until when)."""

    times: list[datetime]
    full_until: datetime | None = None  # the daily limit is reached until about then


@dataclass(frozen=True)
class PaceNow:
    """The pace in force: messages a second (None: as fast as the relay takes them)."""

    rate: float | None
    next_at: datetime | None
    lowered: bool
    note: str | None
    sent_today: int
    oldest: datetime | None = None  # the oldest hour the daily count holds


def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def effective_rate(row: Any, configured: float | None, at: datetime) -> tuple[float | None, bool]:
    """The pace at `at` (messages a second, None: unpaced) and whether it is lowered."""
    if row is None or row.rate is None or row.lowered_at is None:
        return configured, False
    quiet = at - row.lowered_at
    if configured is None and quiet > FORGET:
        return None, False
    minutes = max(0.0, quiet.total_seconds() / 60 - 1)
    grown = row.rate * (1 + GROWTH) ** minutes
    if configured is not None and grown >= configured:
        return configured, False
    return grown, True


@cache
def _tables() -> tuple[Any, Any]:
    return table_of(RelayPace), table_of(RelayUsage)


def _row(conn: Connection, relay: str) -> Any:
    """The relay's row, locked for this transaction; made if missing."""
    pace, _ = _tables()
    query = select(pace).where(pace.c.relay == relay)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one_or_none()
    if row is None:
        # Two senders may meet a new relay at once: the second one's insert does nothing.
        conn.execute(_insert_new(conn.dialect.name, pace).values(relay=relay))
        row = conn.execute(query).one()
    return row


def _insert_new(dialect: str, table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING, in the dialect's words."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return insert(table)


def used_today(conn: Connection, relay: str, at: datetime) -> tuple[int, datetime | None]:
    """Recipients counted in the last 24 hours (and a little more), and the oldest hour."""
    _, usage = _tables()
    since = _hour(at - DAY)
    count, oldest = conn.execute(
        select(func.coalesce(func.sum(usage.c.recipients), 0), func.min(usage.c.hour)).where(
            usage.c.relay == relay, usage.c.hour >= since, usage.c.recipients > 0
        )
    ).one()
    return int(count), oldest


def _count(conn: Connection, relay: str, at: datetime, n: int) -> None:
    _, usage = _tables()
    hour = _hour(at)
    done = conn.execute(
        update(usage)
        .where(usage.c.relay == relay, usage.c.hour == hour)
        .values(recipients=usage.c.recipients + n)
    )
    if not done.rowcount:
        conn.execute(insert(usage).values(relay=relay, hour=hour, recipients=n))


def reserve(
    engine: Engine, relay: str, limits: Limits, *, want: int, at: datetime
) -> tuple[Slots, float | None]:
    """Reserve up to `want` slots from `at` (the wall clock); with the pace they were given at."""
    pace, _ = _tables()
    with write_transaction(engine) as conn:
        row = _row(conn, relay)
        rate, _lowered = effective_rate(row, limits.rate, at)
        if limits.daily is not None:
            used, oldest = used_today(conn, relay, at)
            left = limits.daily - used
            if left <= 0:
                until = (oldest or _hour(at)) + DAY + timedelta(hours=1)
                return Slots([], full_until=until), rate
            want = min(want, left)
        if rate is None:
            times = [at] * want
        else:
            start = max(row.next_at or at, at)
            step = timedelta(seconds=1 / rate)
            times = [start + i * step for i in range(want)]
            conn.execute(
                update(pace).where(pace.c.relay == relay).values(next_at=start + want * step)
            )
        if limits.daily is not None:
            _count(conn, relay, at, want)
    return Slots(times), rate


def give_back(
    engine: Engine, relay: str, limits: Limits, unused: list[datetime], *, counted_at: datetime
) -> None:
    """Return slots reserved and not used: the count, and the pace's next slot if it is ours."""
    if not unused:
        return
    pace, usage = _tables()
    with write_transaction(engine) as conn:
        if limits.daily is not None:
            n = len(unused)
            conn.execute(
                update(usage)
                .where(usage.c.relay == relay, usage.c.hour == _hour(counted_at))
                .values(
                    recipients=case(
                        (usage.c.recipients > n, usage.c.recipients - n), else_=literal(0)
                    )
                )
            )
        if len(unused) > 1:
            step = unused[1] - unused[0]
            end = unused[-1] + step
            conn.execute(
                update(pace)
                .where(pace.c.relay == relay, pace.c.next_at == end)
                .values(next_at=unused[0])
            )


def lower(
    engine: Engine,
    relay: str,
    limits: Limits,
    *,
    at: datetime,
    observed: float | None,
    note: str,
) -> float:
    """The relay asked to slow down: lower the shared pace (once in HOLD); the new pace."""
    pace, _ = _tables()
    with write_transaction(engine) as conn:
        row = _row(conn, relay)
        rate, _ = effective_rate(row, limits.rate, at)
        if row.lowered_at is not None and at - row.lowered_at < HOLD and row.rate is not None:
            return rate or row.rate  # lowered a moment ago: these refusals are of the old pace
        current = rate if rate is not None else (observed or 1.0)
        new = max(FLOOR, current * LOWER)
        step = timedelta(seconds=1 / new)
        conn.execute(
            update(pace)
            .where(pace.c.relay == relay)
            .values(
                rate=new,
                lowered_at=at,
                note=note[:500],
                next_at=max(row.next_at or at, at) + step,
            )
        )
    return new


def pace_now(engine: Engine, relay: str, limits: Limits, *, at: datetime) -> PaceNow:
    """The pace in force for `relay` (read only), for status and the dashboard."""
    pace, _ = _tables()
    with engine.connect() as conn:
        row = conn.execute(select(pace).where(pace.c.relay == relay)).one_or_none()
        rate, lowered = effective_rate(row, limits.rate, at)
        used, oldest = used_today(conn, relay, at) if limits.daily is not None else (0, None)
    return PaceNow(
        rate,
        row.next_at if row is not None else None,
        lowered,
        row.note if row is not None and lowered else None,
        used,
        oldest,
    )


def last_leaves(queued: int, now: PaceNow, limits: Limits, *, at: datetime) -> datetime | None:
    """When the last of `queued` messages leaves at the current pace (None: unpaced)."""
    if queued <= 0 or (now.rate is None and limits.daily is None):
        return None
    start = max(now.next_at or at, at)
    if limits.daily is not None:
        left_today = max(limits.daily - now.sent_today, 0)
        if queued > left_today:
            # As `reserve` sees it: the count frees up when its oldest hour falls out.
            days = math.ceil((queued - left_today) / limits.daily)
            frees = (now.oldest or _hour(at)) + DAY + timedelta(hours=1)
            start = max(start, frees + (days - 1) * DAY)
            queued = queued - left_today - (days - 1) * limits.daily
    if now.rate is None:
        return start
    return start + timedelta(seconds=(queued - 1) / now.rate)
