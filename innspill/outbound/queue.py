"""The outbox's queue as status and the dashboard show it: what waits, who holds what, and
when the last message leaves at the relay's current pace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine

from innspill.outbound import pace
from innspill.outbound.claims import PENDING, claimable, table
from innspill.outbound.senders import Held, held_by_others
from innspill.process.workdays import OSLO


@dataclass(frozen=True)
class Queue:
    """The outbox's queue at a moment."""

    due: int  # may be sent now (with those whose sender's lease ran out)
    later: int  # deferred: waiting for their next attempt
    held: Held | None  # claimed by a sender at work (or a dead one, until its lease ends)
    rate: float | None  # the pace in force, messages a second (None: as fast as accepted)
    lowered: bool  # the relay asked to slow down, and the pace has not grown back yet
    note: str | None  # what the relay said, when it did
    last_leaves: datetime | None  # when the last due message leaves at that pace

    @property
    def per_minute(self) -> int | None:
        """The pace in whole messages a minute (at least one), for people to read."""
        return None if self.rate is None else max(1, round(self.rate * 60))

    def lines(self) -> list[str]:
        """The queue in a few lines of English (the command line's status)."""
        held = ""
        if self.held:
            until = self.held.until.astimezone(OSLO).strftime("%Y-%m-%d %H:%M:%S")
            held = f", {self.held.count} held by a sender until {until}"
        out = [f"outbox: {self.due} due now, {self.later} waiting to be retried{held}"]
        if self.rate is not None:
            lowered = " (lowered: the relay asked to slow down)" if self.lowered else ""
            out.append(f"  pace: {self.per_minute} messages a minute{lowered}")
        if self.last_leaves is not None:
            when = self.last_leaves.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")
            out.append(f"  at this pace the last due message leaves about {when}")
        return out


def queue(
    engine: Engine, *, now: datetime, at: datetime, relay: str | None, limits: pace.Limits
) -> Queue:
    """The queue at `now` (may be simulated), leases and pace at `at` (the wall clock)."""
    t = table()
    with engine.connect() as conn:
        due = int(conn.execute(select(func.count()).where(claimable(now, at))).scalar_one())
        later = int(
            conn.execute(
                select(func.count()).where(and_(t.c.status == PENDING, t.c.next_attempt_at > now))
            ).scalar_one()
        )
        held = held_by_others(conn, at=at)
    if relay is None:
        return Queue(due, later, held, None, False, None, None)
    current = pace.pace_now(engine, relay, limits, at=at)
    waiting = due + (held.count if held else 0)
    last = pace.last_leaves(waiting, current, limits, at=at)
    return Queue(due, later, held, current.rate, current.lowered, current.note, last)
