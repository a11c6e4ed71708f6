"""Any number of senders and ticks at once: every message is delivered exactly once.

The slow tests run real `innspill` processes side by side against Postfix's smtp-sink, which
writes each message it accepts to a file, and count the files by Message-ID. The fast ones
check the pieces: a claim that expired is not marked by its old sender, attempts are counted
by the database, and a tick names a constraint no concurrent tick explains.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from innspill.config.settings import Settings
from innspill.engine import _raise_unless_concurrent, tick
from innspill.errors import SecretKeyMismatch, TickConflict
from innspill.models import Event, MessageStatus, OutboxMessage, User
from innspill.models.db import make_engine, session_scope
from innspill.outbound.compose import Outgoing
from innspill.outbound.outbox import _claim, _store, dispatch
from innspill.outbound.transport import Outcome, SmtpTransport
from innspill.process.definition import parse_definition
from innspill.process.loading import store_definition
from tests.conftest import TEST_DATABASE, load_seed, oslo
from tests.postfix_sink import PostfixSink, need_smtp_sink
from tests.smtp_sink import SmtpSink
from tests.test_crash import big_process

PARTICIPANTS = 2000
PROCESSES = 3
NOW = oslo(2020, 3, 30, 9, 30)  # the generated process's invitations are due


def outbox_rows(engine: Engine) -> list[dict[str, object]]:
    t = OutboxMessage.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(t.c.message_id, t.c.status, t.c.attempts, t.c.claimed_by, t.c.lease_until)
            )
        ]


def events(engine: Engine, kind: str) -> int:
    e = Event.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(e.c.kind == kind)).scalar_one())


def cli_env(tmp_path: Path, database_url: str, port: int, **extra: str) -> dict[str, str]:
    """The environment of an `innspill` child: this test's database, data and smtp-sink."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INNSPILL_")}
    env.update(
        INNSPILL_DATABASE_URL=database_url,
        INNSPILL_DATA_DIR=str(tmp_path / "data"),
        INNSPILL_SMTP_HOST="127.0.0.1",
        INNSPILL_SMTP_PORT=str(port),
        INNSPILL_SMTP_TIMEOUT="10",
        **extra,
    )
    return env


def run_together(commands: list[list[str]], env: dict[str, str], cwd: Path) -> list[str]:
    """Start every `innspill` command at once, wait for all; return their outputs."""
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "innspill.cli", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for args in commands
    ]
    outputs = []
    for child in children:
        out, _ = child.communicate(timeout=180)
        text_out = out.decode(errors="replace")
        assert child.returncode == 0, f"innspill {' '.join(child.args[3:])} failed:\n{text_out}"  # type: ignore[index]
        outputs.append(text_out)
    return outputs


def load_big_process(engine: Engine, participants: int = PARTICIPANTS) -> None:
    definition = parse_definition(big_process(participants), file="krasjtest.toml")
    with session_scope(engine) as session:
        store_definition(session, definition, source="krasjtest.toml", now=oslo(2020, 3, 30, 8))


def assert_each_delivered_once(engine: Engine, sink: PostfixSink, expected: int) -> None:
    assert not sink.problems(), sink.problems()
    received = sink.received()
    rows = outbox_rows(engine)
    twice = {mid: n for mid, n in received.items() if n > 1}
    assert not twice, f"{len(twice)} message(s) arrived more than once"
    assert len(rows) == expected
    assert set(received) == {r["message_id"] for r in rows}, "a message is missing"
    assert {r["status"] for r in rows} == {MessageStatus.SENT.value}
    assert {r["attempts"] for r in rows} == {1}, "attempts are not counted once per send"
    assert all(r["claimed_by"] and r["lease_until"] is None for r in rows)
    assert events(engine, "message_sent") == expected


@pytest.mark.slow
def test_three_concurrent_senders_deliver_every_message_exactly_once(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    need_smtp_sink()
    load_big_process(engine)
    assert len(tick(engine, now=NOW).queued) == PARTICIPANTS
    with PostfixSink() as sink:
        outputs = run_together(
            [["send"]] * PROCESSES, cli_env(tmp_path, database_url, sink.port), tmp_path
        )
        sent = [int(re.search(r"(\d+) sent", out).group(1)) for out in outputs]  # type: ignore[union-attr]
        print(f"\nthree senders sent {sent} of {PARTICIPANTS}")
        assert sum(sent) == PARTICIPANTS
        assert_each_delivered_once(engine, sink, PARTICIPANTS)


@pytest.mark.slow
def test_three_concurrent_ticks_queue_and_deliver_every_message_exactly_once(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    need_smtp_sink()
    load_big_process(engine)
    Settings(data_dir=tmp_path / "data", _env_file=None).resolved_secret_key()  # type: ignore[call-arg]
    with PostfixSink() as sink:
        outputs = run_together(
            [["tick", "--at", "2020-03-30T09:30"]] * PROCESSES,
            cli_env(tmp_path, database_url, sink.port),
            tmp_path,
        )
        queued = [int(re.search(r"(\d+) queued", out).group(1)) for out in outputs]  # type: ignore[union-attr]
        sent = [int(m.group(1)) for out in outputs for m in re.finditer(r"(\d+) sent", out)]
        print(f"\nthree ticks queued {queued} and sent {sent} of {PARTICIPANTS}")
        assert sum(queued) == PARTICIPANTS
        assert events(engine, "message_queued") == PARTICIPANTS
        assert_each_delivered_once(engine, sink, PARTICIPANTS)


def _queued(engine: Engine, n: int) -> None:
    load_big_process(engine, n)
    assert len(tick(engine, now=NOW).queued) == n


def test_a_sender_whose_lease_ran_out_cannot_mark_what_another_took_over(engine: Engine) -> None:
    _queued(engine, 3)
    later = NOW + timedelta(minutes=10)
    first = _claim(engine, now=NOW, at=NOW, until=NOW + timedelta(minutes=5), me="a", size=10)
    assert len(first) == 3
    # Still leased: nothing for a second sender.
    assert _claim(engine, now=NOW, at=NOW, until=later, me="b", size=10) == []
    # After the lease, the second sender takes them over.
    second = _claim(engine, now=NOW, at=later, until=later + timedelta(minutes=5), me="b", size=10)
    assert [r["id"] for r in second] == [r["id"] for r in first]

    from innspill.outbound.outbox import DispatchReport

    rows = {r["id"]: r for r in first}
    late = DispatchReport()
    _store(
        engine,
        [Outcome(r["id"], "sent") for r in first],
        rows,
        now=NOW,
        me="a",
        max_attempts=8,
        report=late,
    )
    assert (late.sent, late.lost) == (0, 3)
    assert {r["status"] for r in outbox_rows(engine)} == {MessageStatus.SENDING.value}
    on_time = DispatchReport()
    _store(
        engine,
        [Outcome(r["id"], "sent") for r in second],
        {r["id"]: r for r in second},
        now=NOW,
        me="b",
        max_attempts=8,
        report=on_time,
    )
    assert (on_time.sent, on_time.lost) == (3, 0)
    assert [(r["status"], r["attempts"], r["claimed_by"]) for r in outbox_rows(engine)] == [
        ("sent", 1, "b")
    ] * 3
    assert events(engine, "message_sent") == 3


def test_attempts_are_counted_by_the_database_and_claims_released_when_sending_stops(
    engine: Engine, smtp: SmtpSink, tmp_path: Path
) -> None:
    _queued(engine, 4)
    smtp.handler.refuse_data_times = 4
    settings = Settings(
        data_dir=tmp_path / "data",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_timeout=5,
        _env_file=None,  # type: ignore[call-arg]
    )
    report = asyncio.run(dispatch(engine, SmtpTransport(settings), now=NOW))
    assert report.deferred == 4
    assert {(r["status"], r["attempts"]) for r in outbox_rows(engine)} == {("pending", 1)}
    # Due again after the backoff: the second attempt counts on top of the first.
    smtp.handler.refuse_data_times = 4
    asyncio.run(dispatch(engine, SmtpTransport(settings), now=NOW + timedelta(minutes=6)))
    assert {(r["status"], r["attempts"]) for r in outbox_rows(engine)} == {("pending", 2)}

    # A server that is down: one message gets an attempt, the claimed rest go back untried.
    down = settings.model_copy(update={"smtp_port": smtp.port + 1 if smtp.port < 65535 else 1})
    later = NOW + timedelta(hours=1)
    report = asyncio.run(dispatch(engine, SmtpTransport(down), now=later))
    assert report.stopped and report.deferred == 1
    rows = outbox_rows(engine)
    assert sorted(r["attempts"] for r in rows) == [2, 2, 2, 3]
    assert {r["status"] for r in rows} == {"pending"}, "a claim was not given back"
    assert all(r["lease_until"] is None for r in rows)


def test_a_tick_under_another_secret_key_says_so(engine: Engine) -> None:
    load_seed(engine)
    tick(engine, now=oslo(2020, 3, 30, 9, 30), outgoing=Outgoing(secret="a" * 40))
    with pytest.raises(SecretKeyMismatch, match="INNSPILL_SECRET_KEY"):
        tick(engine, now=oslo(2020, 5, 22, 9, 30), outgoing=Outgoing(secret="b" * 40))


def test_a_broken_key_that_no_concurrent_tick_explains_is_named(engine: Engine) -> None:
    u = User.__table__  # type: ignore[attr-defined]
    values = {"username": "kari", "password_hash": "x", "created_at": NOW}
    with engine.begin() as conn:
        conn.execute(insert(u), values)
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        conn.execute(insert(u), values)
    definition = parse_definition(big_process(1), file="x.toml")
    with pytest.raises(TickConflict, match=r"unique key app_user\(username\)"):
        _raise_unless_concurrent(caught.value, definition)

    # The same action recorded twice is a concurrent tick: no error, the tick plans again.
    _queued(engine, 1)
    o = OutboxMessage.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        row = dict(conn.execute(select(o)).one()._mapping)
    row.pop("id")
    with pytest.raises(IntegrityError) as again, engine.begin() as conn:
        conn.execute(insert(o), row)
    _raise_unless_concurrent(again.value, definition)


@pytest.mark.skipif(TEST_DATABASE == "sqlite", reason="PostgreSQL detects deadlocks")
def test_a_deadlock_counts_as_a_concurrent_tick(database_url: str, engine: Engine) -> None:
    _queued(engine, 2)
    with engine.connect() as conn:
        ids = list(conn.execute(text("SELECT id FROM outboxmessage ORDER BY id")).scalars())
    other = make_engine(database_url)
    errors: list[DBAPIError] = []
    barrier = threading.Barrier(2)
    touch = text("UPDATE outboxmessage SET attempts = 0 WHERE id = :i")

    def lock(e: Engine, first: int, second: int) -> None:
        try:
            with e.begin() as conn:
                conn.execute(text("SET LOCAL deadlock_timeout = '100ms'"))
                conn.execute(touch, {"i": first})
                barrier.wait()
                conn.execute(touch, {"i": second})
        except DBAPIError as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=lock, args=(engine, ids[0], ids[1])),
        threading.Thread(target=lock, args=(other, ids[1], ids[0])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    other.dispose()
    assert len(errors) == 1
    _raise_unless_concurrent(errors[0], parse_definition(big_process(1), file="x.toml"))
