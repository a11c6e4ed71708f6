"""A dispatch's one database writer: group-committed marks, with the next claim in the same
transaction.

Each SMTP connection sends its next message only once the last one's mark is durable, so a
crash repeats at most one message per connection. The connections do not each commit: one
writer takes every mark waiting (and the claim of the next batch, when one is wanted) and
commits them in one transaction, and each connection waits for the commit that holds its
own. While it commits, the marks that come in wait for the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from innspill.outbound.transport import Outcome

#: Stores outcomes, then claims up to `size` rows, in one transaction; returns the rows.
Write = Callable[[list[Outcome], int], list[dict[str, Any]]]


class Writer:
    """Group commit: every waiting mark, and a wanted claim, in one transaction at a time."""

    def __init__(self, write: Write, executor: Executor | None = None):
        self.write = write
        self.executor = executor  # the thread that writes (None: asyncio's default pool)
        self.waiting: list[tuple[Outcome, asyncio.Future[None]]] = []
        self.claim: tuple[int, asyncio.Future[list[dict[str, Any]]]] | None = None
        self.wake = asyncio.Event()
        self.closing = False
        self.broken: BaseException | None = None  # storing failed: nothing more may be sent

    async def report(self, outcome: Outcome) -> None:
        """Store an outcome; return once its transaction has committed."""
        if self.broken is not None:
            raise self.broken
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append((outcome, future))
        self.wake.set()
        await future

    async def claim_rows(self, size: int) -> list[dict[str, Any]]:
        """Claim up to `size` rows with the next commit (at once if no mark is waiting)."""
        if self.broken is not None:
            raise self.broken
        assert self.claim is None, "one claim at a time"
        future: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self.claim = (size, future)
        self.wake.set()
        return await future

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            if not self.waiting and self.claim is None:
                if self.closing:
                    return
                continue
            batch, self.waiting = self.waiting, []
            claim, self.claim = self.claim, None
            loop = asyncio.get_running_loop()
            try:
                outcomes = [outcome for outcome, _ in batch]
                if outcomes and claim is not None:
                    # The marks first, in a commit of their own: their connections go on
                    # while the claim (the slower write: it returns the messages) runs.
                    await loop.run_in_executor(self.executor, self.write, outcomes, 0)
                    for _, future in batch:
                        future.set_result(None)
                    batch, outcomes = [], []
                rows = await loop.run_in_executor(
                    self.executor, self.write, outcomes, claim[0] if claim else 0
                )
            except BaseException as exc:
                self.broken = exc
                for _, future in batch + self.waiting:
                    future.set_exception(exc)
                for pending in (claim, self.claim):
                    if pending is not None and not pending[1].done():
                        pending[1].set_exception(exc)
                raise
            for _, future in batch:
                future.set_result(None)
            if claim is not None:
                claim[1].set_result(rows)

    def close(self) -> None:
        self.closing = True
        self.wake.set()
