"""Storing what happened to the messages sent: marks, their events, and when a retry is due.

Every update is conditional on the claim still being ours (status `sending`, claimed by `me`):
an outcome whose claim expired and passed to another sender is not stored. Attempts are
counted by the database, never from a copy read earlier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.engine import Connection, Engine

from innspill.models import Event, MessageStatus, Participant
from innspill.models.db import table_of
from innspill.outbound.claims import mark_other, mark_sent
from innspill.outbound.transport import Outcome


@dataclass
class DispatchReport:
    """What one dispatch did. Every message it claimed ends in exactly one of the counts
    sent, deferred, failed, throttled (back in the queue at the relay's request), given back
    (claimed and not tried: sending stopped, or the daily limit), expired (its lease ran out
    before its turn) or lost (its outcome not stored: another sender had taken it over)."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    throttled: int = 0
    lost: int = 0
    expired: int = 0
    given_back: int = 0
    claimed: int = 0
    taken_over: int = 0  # claims of a dead sender on this host, given back at the start
    stopped: str | None = None  # why sending stopped early, if it did
    paused: str | None = None  # why sending waits (the daily limit, a relay that refuses)
    pace: float | None = None  # the pace at the end, messages a second (None: unpaced)
    pace_lowered: bool = False  # below the configured pace: the relay asked to slow down
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.deferred + self.failed


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after `attempts` failed ones: 5 min, 15, 45 ... 12 h."""
    return timedelta(minutes=min(5 * 3 ** max(attempts - 1, 0), 720))


#: The earliest time a retry of a message of (process, step) may go, from its backoff time.
RetryAt = Callable[[str, str, datetime], datetime]


def no_window(process_id: str, step_key: str, at: datetime) -> datetime:
    return at


class SendWindows:
    """Retries keep the send window of their step (its hour, working days), as first sends do.

    The definitions are read on the first retry only: a dispatch where all goes well never
    reads them.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self.times: dict[tuple[str, str], time | None] = {}

    def __call__(self, process_id: str, step_key: str, at: datetime) -> datetime:
        from innspill.planning.window import next_in_window

        key = (process_id, step_key)
        if key not in self.times:
            self.times[key] = self._send_time(process_id, step_key)
        send_time = self.times[key]
        return at if send_time is None else next_in_window(at, send_time)

    def _send_time(self, process_id: str, step_key: str) -> time | None:
        from innspill.errors import InnspillError
        from innspill.models.db import session_scope
        from innspill.planning.window import send_time_of
        from innspill.process.loading import get_definition

        try:
            with session_scope(self.engine) as session:
                definition = get_definition(session, process_id)
            return send_time_of(definition.step(step_key))
        except (InnspillError, KeyError, ValueError):
            return None  # a step no longer defined: the backoff alone decides


@dataclass(frozen=True)
class Marking:
    """How outcomes are stored: by whom, at what (simulated) time, with which rules."""

    me: str
    now: datetime
    max_attempts: int = 8
    retry_at: RetryAt = no_window
    throttle_waits: bool = False  # a slow-down is not an attempt: the pace drops instead


@cache
def _event_insert() -> Any:
    return insert(table_of(Event))


def _mark_all(
    conn: Connection, outcomes: list[Outcome], rows: dict[int, dict[str, Any]], how: Marking
) -> tuple[set[int], dict[int, str]]:
    """Mark every outcome while its claim is ours: the ids stored, and each one's event."""
    sent = [o.row_id for o in outcomes if o.status == "sent"]
    stored = mark_sent(conn, sent, me=how.me, now=how.now)
    kinds = dict.fromkeys(sent, "message_sent")
    for outcome in outcomes:
        if outcome.status == "sent":
            continue
        row = rows[outcome.row_id]
        if outcome.status == "throttled" and how.throttle_waits:
            # Due again at once, for whichever sender's slot comes first.
            kinds[outcome.row_id] = ""
            stored |= mark_other(
                conn,
                outcome.row_id,
                me=how.me,
                status=MessageStatus.PENDING.value,
                error=outcome.error,
                next_at=how.now,
                counts=False,
            )
            continue
        attempts = row["attempts"] + 1  # exact: nobody else holds the row
        if outcome.status != "failed" and attempts < how.max_attempts:
            status = MessageStatus.PENDING
            next_at = how.retry_at(row["process_id"], row["step_key"], how.now + backoff(attempts))
            kinds[outcome.row_id] = "message_deferred"
        else:
            status, next_at = MessageStatus.FAILED, how.now
            kinds[outcome.row_id] = "message_failed"
        stored |= mark_other(
            conn,
            outcome.row_id,
            me=how.me,
            status=status.value,
            error=outcome.error,
            next_at=next_at,
        )
    return stored, kinds


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


def _flag_refused(conn: Connection, refused: list[dict[str, Any]]) -> None:
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


_COUNTS = {
    "message_sent": "sent",
    "message_deferred": "deferred",
    "message_failed": "failed",
    "": "throttled",
}


def store_in(
    conn: Connection,
    outcomes: list[Outcome],
    rows: dict[int, dict[str, Any]],
    how: Marking,
    report: DispatchReport,
) -> None:
    """Record a batch of outcomes and their events inside the caller's transaction."""
    stored, kinds = _mark_all(conn, outcomes, rows, how)
    events = []
    refused = []
    for outcome in outcomes:
        row = rows[outcome.row_id]
        if outcome.row_id not in stored:
            report.lost += 1
            report.errors.append(
                f"{row['recipient']}: {row['message_id']} was taken over by another sender"
            )
            continue
        kind = kinds[outcome.row_id]
        counter = _COUNTS[kind]
        setattr(report, counter, getattr(report, counter) + 1)
        if not kind:
            continue  # a slow-down: the pace says it, not a message's error or event
        if outcome.error:
            report.errors.append(f"{row['recipient']}: {outcome.error}")
        events.append(_event(row, outcome, kind=kind, now=how.now))
        if outcome.address_refused:
            refused.append({"b_process": row["process_id"], "b_key": row["participant_key"]})
    if events:
        conn.execute(_event_insert(), events)
    _flag_refused(conn, refused)
