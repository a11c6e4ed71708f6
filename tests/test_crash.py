"""Kill the sender mid-send: nothing is lost, and only the messages in flight arrive twice.

`innspill send` (a real process) sends 3,000 outbox messages to Postfix's smtp-sink and is
killed with SIGKILL once the sink has some but not all of them. Recorded as a sender of another
machine, the rows it had claimed stay `sending` until their lease runs out: a second `innspill
send` at once leaves them alone, and one after the lease sends them. A connection sends its
next message only once the last one is marked, so at most one message per connection (8) can
arrive twice, with the same Message-ID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from innspill.engine import tick
from innspill.models import MessageStatus, OutboxMessage, SenderProcess
from innspill.models.db import session_scope
from innspill.process.definition import parse_definition
from innspill.process.loading import store_definition
from tests.conftest import oslo
from tests.postfix_sink import PostfixSink, need_smtp_sink

MESSAGES = 3000
KILL_AFTER = 2000  # files in the sink before the kill: the rest is quick to send within the lease
CONCURRENCY = 8
LEASE = 20.0  # seconds: longer than the second send takes on a loaded CI machine (10 s was
# not, with three test workers on two cores), short enough to wait for
NOW = oslo(2020, 3, 30, 9, 30)  # the invitations open 30 March 2020, sent from 09:00 Oslo


def big_process(participants: int) -> str:
    """A process file with one request step for `participants` bodies at .example addresses."""
    people = "\n".join(
        f'[[participants]]\nid = "kommune-{n:04d}"\nname = "Kommune {n:04d}"\n'
        f'role = "secretariat"\nemail = "postmottak@kommune-{n:04d}.example"\n'
        for n in range(participants)
    )
    return f"""
[process]
id = "krasjtest-2020"
title = "Krasjtest med mange deltakere"
reference = "20/99999"
ends = 2020-06-30

[sender]
organisation = "Statens vegvesen"
unit = "Vegdirektoratet"
email = "krasjtest@vegvesen.example"
case_officer = "Kari Nordmann"
signature_name = "Ola Nordmann"
signature_title = "Direktør"

{people}
[[themes]]
id = "rolle"
title = "Funksjon, rolle og ansvar"
questions = ["Hva er sekretariatets ansvar?"]

[[steps]]
id = "innspill"
kind = "request"
title = "Innspill"
opens = 2020-03-30
deadline = 2020-04-27
"""


def outbox(engine: Engine) -> dict[str, str]:
    """Message-ID -> status of every outbox row."""
    t = OutboxMessage.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return {
            row.message_id: row.status for row in conn.execute(select(t.c.message_id, t.c.status))
        }


def on_another_machine(engine: Engine) -> None:
    """Record every sender as one of another machine, where this host cannot see its pid."""
    s = SenderProcess.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(update(s).values(host="elsewhere", scope="another-boot/1"))


def send(database_url: str, port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    """`innspill send` in a process of its own, to the sink, with a short lease."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INNSPILL_")}
    env.update(
        INNSPILL_DATABASE_URL=database_url,
        INNSPILL_DATA_DIR=str(tmp_path / "data"),
        INNSPILL_SMTP_HOST="127.0.0.1",
        INNSPILL_SMTP_PORT=str(port),
        INNSPILL_SMTP_TIMEOUT="10",
        INNSPILL_SMTP_CONCURRENCY=str(CONCURRENCY),
        INNSPILL_SMTP_LEASE_SECONDS=str(LEASE),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "innspill.cli", "send"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def finish(child: subprocess.Popen[bytes]) -> str:
    out, _ = child.communicate(timeout=120)
    assert child.returncode == 0, out.decode(errors="replace")
    return out.decode(errors="replace")


@pytest.mark.slow
def test_killed_sender_loses_nothing_and_resends_only_what_was_in_flight(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    need_smtp_sink()
    started = time.monotonic()
    definition = parse_definition(big_process(MESSAGES), file="krasjtest.toml")
    with session_scope(engine) as session:
        store_definition(session, definition, source="krasjtest.toml", now=oslo(2020, 3, 30, 8))
    assert len(tick(engine, now=NOW).queued) == MESSAGES
    rows = outbox(engine)
    assert len(rows) == MESSAGES and set(rows.values()) == {MessageStatus.PENDING.value}
    queued_in = time.monotonic() - started

    with PostfixSink() as sink:
        child = send(database_url, sink.port, tmp_path)
        try:
            deadline = time.monotonic() + 60
            while sink.files() < KILL_AFTER:
                if child.poll() is not None:
                    pytest.fail(f"the sender ended before the kill:\n{finish(child)}")
                if time.monotonic() > deadline:
                    pytest.fail(f"only {sink.files()} messages arrived in 60 s")
                time.sleep(0.002)
            os.kill(child.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            assert child.wait(timeout=10) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            assert child.stdout is not None
            child.stdout.close()

        # Let the sink finish what it was writing, then take stock.
        time.sleep(0.3)
        before = sink.received()
        after_kill = outbox(engine)
        by_status = Counter(after_kill.values())
        claimed = {
            mid for mid, status in after_kill.items() if status == MessageStatus.SENDING.value
        }
        marked = {mid for mid, status in after_kill.items() if status == MessageStatus.SENT.value}
        in_flight = set(before) - marked  # accepted by the sink, not marked
        print(
            f"\ncrash: {sum(before.values())} received at the kill; {dict(by_status)}; "
            f"{len(in_flight)} accepted but not marked"
        )
        # The files counted before the kill include those still being written (not accepted).
        assert KILL_AFTER - CONCURRENCY <= len(before) < MESSAGES, "the kill missed mid-send"
        assert max(before.values()) == 1, "a message arrived twice before the kill"
        assert marked <= set(before), "a row was marked sent that the sink never got"
        assert in_flight <= claimed, "an accepted message went back to pending"
        assert len(in_flight) <= CONCURRENCY
        assert MessageStatus.FAILED.value not in by_status

        # Had it run on another machine (its claims tell; tests/test_senders.py kills one on
        # this host, whose claims are taken at once), a sender started at once leaves them...
        on_another_machine(engine)
        early = finish(send(database_url, sink.port, tmp_path))
        assert time.monotonic() - killed_at < LEASE, "the second send outlasted the lease"
        leased = {m for m, s in outbox(engine).items() if s == MessageStatus.SENDING.value}
        assert leased == claimed, f"claims were taken before the lease ran out:\n{early}"
        assert set(outbox(engine).values()) == {"sent", "sending"}
        # ...and one after the lease sends them, once.
        time.sleep(max(0.0, LEASE + 0.2 - (time.monotonic() - killed_at)))
        resumed = time.monotonic()
        last = finish(send(database_url, sink.port, tmp_path))
        resumed_in = time.monotonic() - resumed
        time.sleep(0.2)
        received = sink.received()

    final = outbox(engine)
    assert set(received) == set(final), f"a message is missing, or one is not ours:\n{last}"
    duplicates = {mid for mid, n in received.items() if n > 1}
    assert max(received.values()) <= 2
    assert duplicates == in_flight
    assert len(duplicates) <= CONCURRENCY
    assert sum(received.values()) == MESSAGES + len(in_flight)
    assert set(final.values()) == {MessageStatus.SENT.value}
    print(
        f"crash: {len(duplicates)} duplicate(s) (at most {CONCURRENCY}), each with its "
        f"original's Message-ID; tick queued {MESSAGES} in {queued_in:.1f} s, the last send "
        f"took {resumed_in:.1f} s"
    )
