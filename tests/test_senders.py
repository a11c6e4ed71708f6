"""Senders that recover at once: leases on the wall clock, a dead sender's claims taken at once,
claims held by others said, counts that add up, and retries in their step's send window."""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from innspill.engine import tick
from innspill.models import MessageStatus, OutboxMessage, SenderProcess
from innspill.models.db import write_transaction
from innspill.outbound import senders
from innspill.outbound.claims import claim
from innspill.planning.window import next_in_window
from innspill.process.workdays import OSLO
from tests.conftest import Run, load_seed, ok, oslo
from tests.postfix_sink import PostfixSink, need_smtp_sink
from tests.smtp_sink import SmtpSink
from tests.test_concurrency import load_big_process
from tests.test_crash import NOW, finish, outbox, send
from tests.test_smtp_failures import NOW as SEED_NOW
from tests.test_smtp_failures import QUEUED, rows

OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]


def wall() -> datetime:
    return datetime.now(UTC)


def claim_for(engine: Engine, who: senders.Sender, *, until: datetime, size: int = 100) -> int:
    """Claim up to `size` due rows as sender `who` (recorded as senders record themselves)."""
    with write_transaction(engine) as conn:
        senders.register(conn, who, at=wall())
    return len(claim(engine, now=SEED_NOW, at=wall(), until=until, me=who.name, size=size))


def elsewhere(name: str = "other-host:4242:cafe0001") -> senders.Sender:
    """A sender on another machine: this host cannot see whether it runs."""
    return senders.Sender(name, "other-host", 4242, "another-boot/1", 12345)


def statuses(engine: Engine) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows(engine):
        out[row["status"]] = out.get(row["status"], 0) + 1
    return out


# --- leases run on the wall clock, also under --at --------------------------------------------


def test_send_at_a_simulated_time_takes_claims_whose_lease_ran_out_on_the_wall_clock(
    engine: Engine, cli: Run, smtp: SmtpSink
) -> None:
    load_seed(engine)
    assert len(tick(engine, now=SEED_NOW).queued) == QUEUED
    # A sender elsewhere claimed everything a minute ago and vanished: its lease (wall clock)
    # ran out a second ago, long after the simulated 2020 time the operator acts at.
    assert claim_for(engine, elsewhere(), until=wall() - timedelta(seconds=1)) > 0
    out = ok(cli("send", "--at", "2020-03-30T09:10"))
    assert "Nothing to send" not in out
    assert re.search(r"^9 sent, 0 deferred, 0 failed of 9 claimed", out, re.M), out
    assert len(smtp.received) == 9
    assert statuses(engine) == {"sent": 9}


def test_claims_under_a_running_lease_are_said_with_their_end_and_left_alone(
    engine: Engine, cli: Run, smtp: SmtpSink
) -> None:
    load_seed(engine)
    tick(engine, now=SEED_NOW)
    until = (wall() + timedelta(minutes=4)).replace(microsecond=0)
    held = claim_for(engine, elsewhere(), until=until, size=3)
    out = ok(cli("send", "--at", "2020-03-30T09:10"))
    local = until.astimezone(OSLO).strftime("%Y-%m-%d %H:%M:%S")
    line = f"{held} message(s) are held by another sender until {local} (its lease)"
    assert out.count(line) == 2, out  # before sending, and what is left after
    assert re.search(r"^6 sent, 0 deferred, 0 failed of 6 claimed", out, re.M), out
    status = ok(cli("status", "--at", "2020-03-30T09:10"))
    assert f"outbox: 0 due now, 0 waiting to be retried, {held} held by a sender until {local}" in (
        status
    )


def test_status_shows_the_queue_and_when_the_last_message_leaves_at_the_pace(
    engine: Engine, cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_seed(engine)
    tick(engine, now=SEED_NOW)
    monkeypatch.setenv("INNSPILL_SMTP_RATE", "3/min")
    before = wall()
    out = ok(cli("status", "--at", "2020-03-30T09:10"))
    assert "outbox: 9 due now, 0 waiting to be retried" in out
    assert "  pace: 3 messages a minute" in out
    found = re.search(r"at this pace the last due message leaves about (\S+ \S+)", out)
    assert found, out
    # Nine messages at three a minute: the last leaves 8 x 20 s after now.
    leaves = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=OSLO)
    expected = before + timedelta(seconds=160)
    assert abs((leaves - expected).total_seconds()) < 90


# --- a dead sender's claims ---------------------------------------------------------------------


def test_a_sender_knows_its_own_process_and_that_a_killed_one_no_longer_runs() -> None:
    me = senders.this_sender()
    assert me.name.startswith(f"{me.host}:{os.getpid()}:")
    assert senders.scope() is not None, "this test needs /proc"
    assert senders.runs(me.pid, me.started)
    assert not senders.runs(me.pid, (me.started or 0) + 1), "a reused pid is another process"
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only waits to be killed
        time.sleep(60)
        os._exit(0)
    started = senders.started(child)
    assert started is not None and senders.runs(child, started)
    os.kill(child, signal.SIGKILL)
    # Killed but not yet reaped: a zombie runs no more.
    deadline = time.monotonic() + 5
    while senders.runs(child, started) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not senders.runs(child, started)
    os.waitpid(child, 0)
    assert senders.started(child) is None


def test_claims_of_a_dead_sender_on_this_host_are_taken_at_once_others_wait_for_the_lease(
    engine: Engine, cli: Run, smtp: SmtpSink
) -> None:
    load_seed(engine)
    tick(engine, now=SEED_NOW)
    child = os.fork()
    if child == 0:  # pragma: no cover
        time.sleep(60)
        os._exit(0)
    try:
        here = senders.this_sender()
        dead = senders.Sender(
            f"{here.host}:{child}:dead0001", here.host, child, here.scope, senders.started(child)
        )
        later = wall() + timedelta(minutes=5)
        assert claim_for(engine, dead, until=later, size=4) == 4
        assert claim_for(engine, elsewhere(), until=later, size=2) == 2
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    out = ok(cli("send", "--at", "2020-03-30T09:10"))
    assert "4 message(s) claimed by a sender that died on this host are due again." in out
    assert re.search(r"^7 sent, 0 deferred, 0 failed of 7 claimed", out, re.M), out
    assert "2 message(s) are held by another sender until" in out
    assert statuses(engine) == {"sent": 7, "sending": 2}
    s = SenderProcess.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        left = set(conn.execute(select(s.c.name)).scalars())
    assert left == {elsewhere().name}, "the dead sender and the finished one are forgotten"


@pytest.mark.slow
def test_a_send_killed_mid_send_and_a_second_at_once_deliver_everything_once(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """Issue 18's check: a kill during a send followed at once by a second send."""
    need_smtp_sink()
    messages, kill_after = 1500, 600
    load_big_process(engine, messages)
    assert len(tick(engine, now=NOW).queued) == messages
    with PostfixSink() as sink:
        child = send(database_url, sink.port, tmp_path)
        try:
            deadline = time.monotonic() + 60
            while sink.files() < kill_after:
                assert child.poll() is None, finish(child)
                assert time.monotonic() < deadline, "the sender is too slow"
                time.sleep(0.002)
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(timeout=10) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            assert child.stdout is not None
            child.stdout.close()
        time.sleep(0.3)
        at_kill = outbox(engine)
        claimed = sum(1 for s in at_kill.values() if s == MessageStatus.SENDING.value)
        assert claimed > 0, "the kill found no claim to take over"
        started = time.monotonic()
        out = finish(send(database_url, sink.port, tmp_path))
        took = time.monotonic() - started
        time.sleep(0.2)
        received = sink.received()
    # Taken at once: the second send did not wait for the 10 s lease.
    assert f"{claimed} message(s) claimed by a sender that died on this host are due again" in out
    found = re.search(r"^(\d+) sent, 0 deferred, 0 failed of (\d+) claimed", out, re.M)
    assert found and found.group(1) == found.group(2), out
    final = outbox(engine)
    assert set(final.values()) == {MessageStatus.SENT.value}
    assert set(received) == set(final)
    duplicates = [m for m, n in received.items() if n > 1]
    assert len(duplicates) <= 8 and max(received.values()) <= 2
    assert int(found.group(1)) == sum(1 for s in at_kill.values() if s != "sent")
    print(f"\nsecond send took {took:.1f} s; {len(duplicates)} duplicate(s); {out.strip()}")


# --- retries keep their step's send window ------------------------------------------------------


def test_the_send_window_opens_at_the_steps_hour_on_working_days() -> None:
    nine = datetime.min.time().replace(hour=9)
    assert next_in_window(oslo(2020, 3, 30, 10), nine) == oslo(2020, 3, 30, 10)
    assert next_in_window(oslo(2020, 3, 30, 8, 5), nine) == oslo(2020, 3, 30, 9)
    assert next_in_window(oslo(2020, 3, 30, 17, 3), nine) == oslo(2020, 3, 31, 9)
    # Maundy Thursday to Easter Monday 2020 (9-13 April) are holidays.
    assert next_in_window(oslo(2020, 4, 8, 17, 30), nine) == oslo(2020, 4, 14, 9)
    assert next_in_window(oslo(2020, 5, 29, 23), nine) == oslo(2020, 6, 2, 9)  # Whit Monday


@pytest.mark.parametrize(
    ("sent_at", "retry_at"),
    [
        (oslo(2020, 3, 30, 16, 58), oslo(2020, 3, 31, 9)),  # backoff past 17.00: next morning
        (oslo(2020, 4, 3, 16, 58), oslo(2020, 4, 6, 9)),  # a Friday: Monday
        (oslo(2020, 3, 31, 7, 50), oslo(2020, 3, 31, 9)),  # before the hour: at the hour
        (oslo(2020, 3, 31, 10, 0), oslo(2020, 3, 31, 10, 5)),  # inside: the backoff alone
    ],
)
def test_a_deferred_message_is_retried_in_its_steps_send_window(
    engine: Engine, cli: Run, smtp: SmtpSink, sent_at: datetime, retry_at: datetime
) -> None:
    load_seed(engine)
    tick(engine, now=SEED_NOW)
    smtp.handler.refuse_data_times = 1
    at = sent_at.astimezone(OSLO).strftime("%Y-%m-%dT%H:%M")
    out = ok(cli("send", "--at", at))
    assert "8 sent, 1 deferred, 0 failed of 9 claimed" in out
    deferred = [r for r in rows(engine) if r["status"] == MessageStatus.PENDING.value]
    assert len(deferred) == 1 and deferred[0]["attempts"] == 1
    assert deferred[0]["next_attempt_at"] == retry_at
    # The invitation is sent when the window opens, not before.
    before = (retry_at - timedelta(minutes=1)).astimezone(OSLO).strftime("%Y-%m-%dT%H:%M")
    assert "Nothing to send" in ok(cli("send", "--at", before))
    ok(cli("send", "--at", retry_at.astimezone(OSLO).strftime("%Y-%m-%dT%H:%M")))
    assert len(smtp.received) == 9


def test_leases_of_claims_are_not_taken_before_the_wall_clock_says_so(engine: Engine) -> None:
    load_seed(engine)
    tick(engine, now=SEED_NOW)
    assert claim_for(engine, elsewhere(), until=wall() + timedelta(minutes=5)) == 9
    # Even "in 2021", by the simulated clock, the lease has five minutes to run.
    future = oslo(2021, 1, 4, 10)
    assert claim(engine, now=future, at=wall(), until=wall(), me="b", size=10) == []
    with engine.begin() as conn:
        conn.execute(update(OUTBOX).values(lease_until=wall() - timedelta(seconds=1)))
    assert len(claim(engine, now=future, at=wall(), until=wall(), me="b", size=10)) == 9
