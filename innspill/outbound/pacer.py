"""One dispatch's share of the relay's pace: each message waits for its slot.

With no rate and no daily limit set, `wait()` returns at once and nothing is read or written,
until the relay asks to slow down: then the pace is lowered for every sender (the shared row in
`innspill.outbound.pace`) and this sender keeps it from then on.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from innspill.outbound import pace
from innspill.process.workdays import OSLO

#: Slow-downs in a row, with nothing accepted between them, before a dispatch gives up for now.
GIVE_UP_AFTER = 20
#: A slot this far behind the clock (the sender was held up) is not used: sending all such
#: slots at once would be a burst the relay never agreed to.
LATE = timedelta(seconds=0.5)


def _quota(note: str) -> bool:
    """The relay's daily quota, not its pace: nothing more goes today."""
    return "quota" in note.lower()


class Pacer:
    """Hands out this sender's slots (reserved a few at a time) and lowers the pace when told."""

    def __init__(
        self,
        engine: Engine,
        relay: str,
        limits: pace.Limits,
        *,
        clock: Callable[[], datetime],
        concurrency: int,
    ):
        self.engine, self.relay, self.limits, self.clock = engine, relay, limits, clock
        self.concurrency = concurrency
        self.active = limits.rate is not None or limits.daily is not None
        self.rate = limits.rate
        self.slots: deque[datetime] = deque()
        self.counted_at: datetime | None = None
        self.started = clock()
        self.handed = 0
        self.refused_in_row = 0
        self.stop: str | None = None  # why no more may leave in this dispatch

    def _chunk(self) -> int:
        """Slots to reserve at once: about a quarter of a second's worth, a few at least."""
        if self.rate is None:
            return self.concurrency * 4
        return max(1, min(self.concurrency, int(self.rate / 4)))

    async def wait(self) -> bool:
        """Wait for this sender's next slot; False when none may leave now."""
        if self.stop is not None:
            return False
        if not self.active:
            self.handed += 1
            return True
        late = []
        while self.slots and self.clock() - self.slots[0] > LATE:
            late.append(self.slots.popleft())
        if late and self.counted_at is not None:
            await asyncio.to_thread(
                pace.give_back,
                self.engine,
                self.relay,
                self.limits,
                late,
                counted_at=self.counted_at,
            )
        if not self.slots:
            at = self.clock()
            slots, self.rate = await asyncio.to_thread(
                pace.reserve, self.engine, self.relay, self.limits, want=self._chunk(), at=at
            )
            if slots.full_until is not None:
                until = slots.full_until.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")
                self.stop = (
                    f"the daily limit of {self.limits.daily} recipients is reached "
                    f"(INNSPILL_SMTP_DAILY_LIMIT); the rest waits until about {until}"
                )
                return False
            self.slots.extend(slots.times)
            self.counted_at = at
        slot = self.slots.popleft()
        delay = (slot - self.clock()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        self.handed += 1
        return True

    def accepted(self) -> None:
        self.refused_in_row = 0

    async def slow_down(self, note: str) -> None:
        """The relay asked to slow down: lower the shared pace; give up after many in a row."""
        self.refused_in_row += 1
        if _quota(note):
            self.stop = (
                f"the relay's daily quota is reached ({note}); "
                "set INNSPILL_SMTP_DAILY_LIMIT below it"
            )
            return
        if self.refused_in_row >= GIVE_UP_AFTER:
            self.stop = f"the relay keeps asking to slow down ({note})"
            return
        elapsed = (self.clock() - self.started).total_seconds()
        observed = self.handed / elapsed if elapsed > 0 and self.handed else None
        self.rate = await asyncio.to_thread(
            pace.lower,
            self.engine,
            self.relay,
            self.limits,
            at=self.clock(),
            observed=observed,
            note=note,
        )
        self.active = True
        await self._give_back()  # reserved at the old pace: take new ones at the new

    async def _give_back(self) -> None:
        unused, self.slots = list(self.slots), deque()
        if unused and self.counted_at is not None:
            await asyncio.to_thread(
                pace.give_back,
                self.engine,
                self.relay,
                self.limits,
                unused,
                counted_at=self.counted_at,
            )

    async def close(self) -> None:
        """Give back the slots not used."""
        await self._give_back()
