"""The dispatch's writer (outbound.writer): marks that arrive while a commit runs go together in
the next; a claim waiting with marks goes after their commit; a failed write stops everything."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from innspill.outbound.transport import Outcome
from innspill.outbound.writer import Writer


class Recorder:
    """A write that records each call and can be held until released (or made to fail)."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[int], int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail: BaseException | None = None

    def __call__(self, outcomes: list[Outcome], size: int) -> list[dict[str, Any]]:
        self.calls.append(([o.row_id for o in outcomes], size))
        self.gate.wait(5)
        if self.fail is not None:
            raise self.fail
        return [{"id": 100 + n} for n in range(size)]


def sent(row_id: int) -> Outcome:
    return Outcome(row_id, "sent")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@contextlib.asynccontextmanager
async def started(write: Recorder) -> AsyncIterator[tuple[Writer, asyncio.Task[None]]]:
    """A writer on a thread of its own, running, with its first commit held at the gate."""
    with ThreadPoolExecutor(1) as thread:
        writer = Writer(write, thread)
        task = asyncio.create_task(writer.run())
        write.gate.clear()
        yield writer, task


def test_marks_that_arrive_during_a_commit_go_together_in_the_next() -> None:
    write = Recorder()

    async def scenario() -> None:
        async with started(write) as (writer, task):  # the first commit is slow
            first = asyncio.create_task(writer.report(sent(1)))
            await asyncio.sleep(0.05)
            later = [asyncio.create_task(writer.report(sent(n))) for n in (2, 3, 4)]
            await asyncio.sleep(0.05)
            assert not any(t.done() for t in [first, *later])  # each waits for its commit
            write.gate.set()
            await asyncio.gather(first, *later)
            writer.close()
            await task

    run(scenario())
    assert write.calls == [([1], 0), ([2, 3, 4], 0)]


def test_a_claim_waiting_with_marks_is_written_after_their_commit() -> None:
    write = Recorder()
    order: list[str] = []

    async def scenario() -> None:
        async with started(write) as (writer, task):
            busy = asyncio.create_task(writer.report(sent(1)))
            await asyncio.sleep(0.05)

            async def mark(n: int) -> None:
                await writer.report(sent(n))
                order.append(f"mark {n}")

            async def claim() -> None:
                rows = await writer.claim_rows(2)
                order.append(f"claim {len(rows)}")

            both = [asyncio.create_task(mark(2)), asyncio.create_task(claim())]
            await asyncio.sleep(0.05)
            write.gate.set()
            await asyncio.gather(busy, *both)
            writer.close()
            await task

    run(scenario())
    assert write.calls == [([1], 0), ([2], 0), ([], 2)]
    assert order == ["mark 2", "claim 2"]


def test_a_failed_write_fails_every_waiting_mark_and_claim_and_refuses_more() -> None:
    write = Recorder()

    async def scenario() -> None:
        async with started(write) as (writer, task):
            first = asyncio.create_task(writer.report(sent(1)))
            await asyncio.sleep(0.05)
            second = asyncio.create_task(writer.report(sent(2)))
            claim = asyncio.create_task(writer.claim_rows(4))
            await asyncio.sleep(0.05)
            write.fail = RuntimeError("the database is gone")
            write.gate.set()
            results = await asyncio.gather(first, second, claim, return_exceptions=True)
            assert [type(r) for r in results] == [RuntimeError] * 3
            with pytest.raises(RuntimeError):
                await task
            with pytest.raises(RuntimeError):  # nothing more may be sent once storing failed
                await writer.report(sent(3))

    run(scenario())
