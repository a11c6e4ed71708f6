"""Kill the sender mid-batch: nothing is lost, and only the messages in flight arrive twice.

A child process sends 1,000 outbox messages to a slowed-down recording SMTP server (in this
process) and is killed with SIGKILL once the server has some but not all of them. A second
dispatch then finishes the job. The outbox is written before the SMTP call and marked after it,
so the only messages that can arrive twice are those the server accepted whose mark was not yet
stored at the kill; they are resent with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.engine import Engine

from innspill.config.settings import Settings
from innspill.models import MessageStatus, OutboxMessage
from innspill.models.db import session_scope
from innspill.outbound.outbox import dispatch
from innspill.outbound.transport import SmtpTransport
from innspill.planning.engine import tick
from innspill.process.definition import parse_definition
from innspill.process.loading import store_definition
from tests.conftest import ROOT, oslo
from tests.smtp_sink import RecordingHandler, SmtpSink

MESSAGES = 1000
KILL_AFTER = 200  # received by the server before the kill
CONCURRENCY = 2
DATA_DELAY = 0.01  # seconds the server takes over each DATA while the child runs
IN_FLIGHT_BOUND = 64
NOW = oslo(2020, 3, 30, 9, 30)  # the invitations open 30 March 2020, sent from 09:00 Oslo

CHILD = """
import asyncio, json, sys
from datetime import datetime
from innspill.config.settings import Settings
from innspill.outbound.outbox import dispatch
from innspill.outbound.transport import SmtpTransport
from innspill.models.db import make_engine

args = json.loads(sys.argv[1])
settings = Settings(
    data_dir=args["data_dir"],
    database_url=args["url"],
    smtp_host="127.0.0.1",
    smtp_port=args["port"],
    smtp_concurrency=args["concurrency"],
    smtp_timeout=5,
    _env_file=None,
)
engine = make_engine(args["url"])
report = asyncio.run(
    dispatch(engine, SmtpTransport(settings), now=datetime.fromisoformat(args["now"]))
)
print(f"child finished: {report.sent} sent, stopped={report.stopped}", flush=True)
"""


class SlowHandler(RecordingHandler):
    """The recording handler, taking `delay` seconds over each DATA (0: full speed)."""

    delay: float = DATA_DELAY

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp() -> Iterator[SmtpSink]:
    """The recording SMTP server of the `smtp` fixture, with the slow handler."""
    sink = SmtpSink()
    sink.handler = SlowHandler()
    sink.controller = Controller(sink.handler, hostname="127.0.0.1", port=sink.port)
    with sink:
        yield sink


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


@pytest.mark.slow
def test_killed_sender_loses_nothing_and_resends_only_what_was_in_flight(
    engine: Engine, database_url: str, slow_smtp: SmtpSink, tmp_path: Path
) -> None:
    started = time.monotonic()
    definition = parse_definition(big_process(MESSAGES), file="krasjtest.toml")
    with session_scope(engine) as session:
        store_definition(session, definition, source="krasjtest.toml", now=oslo(2020, 3, 30, 8))
    assert len(tick(engine, now=NOW).queued) == MESSAGES
    rows = outbox(engine)
    assert len(rows) == MESSAGES and set(rows.values()) == {MessageStatus.PENDING.value}

    queued_in = time.monotonic() - started
    args = {
        "url": database_url,
        "port": slow_smtp.port,
        "concurrency": CONCURRENCY,
        "now": NOW.isoformat(),
        "data_dir": str(tmp_path / "data"),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while len(slow_smtp.received) < KILL_AFTER:
            if child.poll() is not None:
                out, err = child.communicate()
                pytest.fail(f"the sender ended before the kill:\n{out.decode()}\n{err.decode()}")
            if time.monotonic() > deadline:
                pytest.fail(f"only {len(slow_smtp.received)} messages arrived in 60 s")
            time.sleep(0.001)
        os.kill(child.pid, signal.SIGKILL)
        received_at_kill = len(slow_smtp.received)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()  # type: ignore[union-attr]
        child.stderr.close()  # type: ignore[union-attr]

    # Let a DATA the server was busy with when its client died settle, then take stock.
    time.sleep(0.2)
    with slow_smtp.handler.lock:
        before = [r.message_id for r in slow_smtp.received]
    after_kill = outbox(engine)
    pending = {mid for mid, status in after_kill.items() if status == MessageStatus.PENDING.value}
    marked_sent = {mid for mid, status in after_kill.items() if status == MessageStatus.SENT.value}
    in_flight = set(before) & pending
    print(
        f"\ncrash: {received_at_kill} received at the kill, {len(before)} after it settled; "
        f"{len(marked_sent)} marked sent, {len(pending)} pending, {len(in_flight)} in flight"
    )
    assert KILL_AFTER <= received_at_kill < MESSAGES, "the kill did not land mid-batch"
    assert len(before) == len(set(before)), "a message arrived twice before the kill"
    assert marked_sent <= set(before), "a row was marked sent that the server never got"
    assert marked_sent | pending == set(after_kill), "a row ended failed"
    assert len(in_flight) <= IN_FLIGHT_BOUND

    # The next dispatch, at full speed, finishes the job.
    slow_smtp.handler.delay = 0  # type: ignore[attr-defined]
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=slow_smtp.port,
        smtp_concurrency=CONCURRENCY,
        smtp_timeout=5,
        _env_file=None,  # type: ignore[call-arg]
    )
    resumed = time.monotonic()
    report = asyncio.run(dispatch(engine, SmtpTransport(settings), now=NOW))
    resumed_in = time.monotonic() - resumed
    assert report.stopped is None and report.failed == 0 and report.deferred == 0
    assert report.sent == len(pending)

    received = Counter(r.message_id for r in slow_smtp.received)
    final = outbox(engine)
    assert set(received) == set(final), "a message is missing, or one arrived that is not ours"
    duplicates = {mid for mid, n in received.items() if n > 1}
    assert max(received.values()) <= 2
    assert duplicates == in_flight
    assert sum(received.values()) == MESSAGES + len(in_flight)
    assert set(final.values()) == {MessageStatus.SENT.value}
    print(
        f"crash: {len(duplicates)} duplicate(s), each with its original's Message-ID; "
        f"tick queued {MESSAGES} in {queued_in:.1f} s, the second dispatch took {resumed_in:.1f} s"
    )
