"""Send what the outbox holds and record each outcome: the only code that changes a status."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Engine

from innspill.models import Event, MessageStatus, OutboxMessage, Participant
from innspill.outbound.transport import Outcome, Queued, Transport

PAGE = 1000
FLUSH_EVERY = 0.05  # seconds: how long an accepted message may wait before its mark is stored


@dataclass
class DispatchReport:
    """What one dispatch did."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    stopped: str | None = None  # why sending stopped early, if it did
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.deferred + self.failed


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after `attempts` failed ones: 5 min, 15, 45 ... 12 h."""
    return timedelta(minutes=min(5 * 3 ** max(attempts - 1, 0), 720))


def pending_count(engine: Engine, *, now: datetime) -> int:
    """Messages waiting to be sent at `now`."""
    t = OutboxMessage.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    t.c.status == MessageStatus.PENDING.value, t.c.next_attempt_at <= now
                )
            ).scalar_one()
        )


async def dispatch(
    engine: Engine,
    transport: Transport,
    *,
    now: datetime,
    max_attempts: int = 8,
    progress: Callable[[DispatchReport], None] | None = None,
) -> DispatchReport:
    """Send every pending message due at `now`, page by page, marking each after its send.

    A crash between a send and its mark leaves the message pending, so it is sent again with
    the same Message-ID: at most the messages in flight at the crash can arrive twice.
    """
    report = DispatchReport()
    last_id = 0
    while report.stopped is None:
        page = _load_page(engine, after=last_id, now=now)
        if not page:
            break
        last_id = page[-1]["id"]
        await _send_page(
            engine,
            transport,
            page,
            now=now,
            max_attempts=max_attempts,
            report=report,
            progress=progress,
        )
    return report


async def _send_page(
    engine: Engine,
    transport: Transport,
    page: list[dict[str, Any]],
    *,
    now: datetime,
    max_attempts: int,
    report: DispatchReport,
    progress: Callable[[DispatchReport], None] | None,
) -> None:
    """Send one page; a flusher stores the outcomes in small batches while sending goes on."""
    by_id = {row["id"]: row for row in page}
    marks: list[Outcome] = []
    done = asyncio.Event()

    async def flusher() -> None:
        while not done.is_set() or marks:
            if marks:
                batch = marks[:]
                del marks[: len(batch)]
                await asyncio.to_thread(
                    _store,
                    engine,
                    batch,
                    by_id,
                    now=now,
                    max_attempts=max_attempts,
                    report=report,
                )
                if progress:
                    progress(report)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), FLUSH_EVERY)

    flushing = asyncio.create_task(flusher())
    try:
        queued = [
            Queued(r["id"], r["sender"], r["recipient"], r["raw"], r["message_id"]) for r in page
        ]
        report.stopped = await transport.send_all(queued, marks.append)
    finally:
        done.set()
        await flushing


def _load_page(engine: Engine, *, after: int, now: datetime) -> list[dict[str, Any]]:
    t = OutboxMessage.__table__  # type: ignore[attr-defined]
    query = (
        select(
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
        .where(
            t.c.status == MessageStatus.PENDING.value, t.c.next_attempt_at <= now, t.c.id > after
        )
        .order_by(t.c.id)
        .limit(PAGE)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def _store(
    engine: Engine,
    outcomes: list[Outcome],
    rows: dict[int, dict[str, Any]],
    *,
    now: datetime,
    max_attempts: int,
    report: DispatchReport,
) -> None:
    """Record a batch of outcomes and their events in one transaction."""
    t = OutboxMessage.__table__  # type: ignore[attr-defined]
    e = Event.__table__  # type: ignore[attr-defined]
    stamp = now
    updates, events = [], []
    for outcome in outcomes:
        row = rows[outcome.row_id]
        attempts = row["attempts"] + 1
        if outcome.status == "sent":
            status, next_at, kind = MessageStatus.SENT, stamp, "message_sent"
            report.sent += 1
        elif outcome.status == "deferred" and attempts < max_attempts:
            status, kind = MessageStatus.PENDING, "message_deferred"
            next_at = now + backoff(attempts)
            report.deferred += 1
        else:
            status, next_at, kind = MessageStatus.FAILED, stamp, "message_failed"
            report.failed += 1
        if outcome.error:
            report.errors.append(f"{row['recipient']}: {outcome.error}")
        updates.append(
            {
                "b_id": outcome.row_id,
                "b_status": status.value,
                "b_attempts": attempts,
                "b_error": outcome.error,
                "b_next": next_at,
                "b_sent": stamp if status == MessageStatus.SENT else None,
            }
        )
        events.append(
            {
                "process_id": row["process_id"],
                "at": stamp,
                "kind": kind,
                "step_key": row["step_key"],
                "participant_key": row["participant_key"],
                "detail": f"{row['kind']} {row['message_id']}"
                + (f": {outcome.error}" if outcome.error else ""),
                "key": None,
            }
        )
    statement = (
        update(t)
        .where(t.c.id == bindparam("b_id"))
        .values(
            status=bindparam("b_status"),
            attempts=bindparam("b_attempts"),
            last_error=bindparam("b_error"),
            next_attempt_at=bindparam("b_next"),
            sent_at=bindparam("b_sent"),
        )
    )
    refused = [
        {"b_process": rows[o.row_id]["process_id"], "b_key": rows[o.row_id]["participant_key"]}
        for o in outcomes
        if o.address_refused
    ]
    with engine.begin() as conn:
        conn.execute(statement.execution_options(synchronize_session=False), updates)
        conn.execute(insert(e), events)
        if refused:
            # The planner skips a failing address from now on, and status shows it.
            p = Participant.__table__  # type: ignore[attr-defined]
            conn.execute(
                update(p)
                .where(p.c.process_id == bindparam("b_process"), p.c.key == bindparam("b_key"))
                .values(address_failing=True),
                refused,
            )
