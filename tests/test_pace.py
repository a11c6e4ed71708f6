"""Sending at the relay's pace: a rate and a daily limit kept by all senders together through the
database, and a relay's "slow down" answered by a lower pace instead of retries with backoff.

The slow tests run three real `innspill send` processes against an aiosmtpd server that answers
like Exchange Online ("451 4.7.500 Server busy") when more than N messages arrive within a
window, and counts what it accepted by Message-ID and time. The rates are high (thousands a
minute) so the tests take a minute, not hours: the logic is the same at 30 a minute.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from innspill.engine import tick
from innspill.models import Event, MessageStatus, OutboxMessage, RelayPace
from innspill.outbound import pace
from innspill.outbound.outbox import dispatch
from innspill.outbound.transport import SmtpTransport, is_slow_down
from tests.conftest import load_seed
from tests.smtp_sink import free_port
from tests.test_concurrency import cli_env, load_big_process, run_together
from tests.test_crash import NOW
from tests.test_smtp_failures import NOW as SEED_NOW

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
BUSY = "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (S77719)"
RELAY = "relay.example:587"


@dataclass
class ThrottlingHandler:
    """Accepts at most `limit` messages in any `window` seconds; answers BUSY beyond that."""

    limit: int
    window: float
    accepted: list[tuple[float, str]] = field(default_factory=list)
    refused: int = 0
    recent: deque[float] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.monotonic()
        with self.lock:
            while self.recent and self.recent[0] <= now - self.window:
                self.recent.popleft()
            if len(self.recent) >= self.limit:
                self.refused += 1
                return BUSY
            self.recent.append(now)
            found = MESSAGE_ID.search(bytes(envelope.content))
            self.accepted.append((now, found.group(1).decode() if found else "?"))
        return "250 2.6.0 Queued mail for delivery"

    def most_in(self, seconds: float) -> int:
        """The most messages accepted within any `seconds`."""
        times = sorted(t for t, _ in self.accepted)
        most, start = 0, 0
        for end, at in enumerate(times):
            while times[start] <= at - seconds:
                start += 1
            most = max(most, end - start + 1)
        return most


class ThrottlingSink:
    def __init__(self, limit: int, window: float):
        self.handler = ThrottlingHandler(limit, window)
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> ThrottlingSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def outbox(engine: Engine) -> list[dict[str, Any]]:
    t = OutboxMessage.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return [
            dict(r._mapping) for r in conn.execute(select(t.c.message_id, t.c.status, t.c.attempts))
        ]


def count_events(engine: Engine, kind: str) -> int:
    e = Event.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(e.c.kind == kind)).scalar_one())


def summaries(outputs: list[str]) -> list[dict[str, int]]:
    """Each send's summary line as numbers: sent, slowed, claimed."""
    out = []
    for text in outputs:
        line = next(x for x in text.splitlines() if " claimed" in x)
        sent = int(re.search(r"(\d+) sent", line).group(1))  # type: ignore[union-attr]
        slowed = re.search(r"(\d+) slowed down", line)
        claimed = int(re.search(r"of (\d+) claimed", line).group(1))  # type: ignore[union-attr]
        out.append(
            {"sent": sent, "slowed": int(slowed.group(1)) if slowed else 0, "claimed": claimed}
        )
    return out


def assert_each_once(engine: Engine, sink: ThrottlingSink, expected: int) -> None:
    received = Counter(mid for _, mid in sink.handler.accepted)
    rows = outbox(engine)
    assert len(rows) == expected
    assert max(received.values()) == 1, "a message arrived twice"
    assert set(received) == {r["message_id"] for r in rows}, "a message is missing"
    assert {r["status"] for r in rows} == {MessageStatus.SENT.value}
    assert {r["attempts"] for r in rows} == {1}, "a slow-down counted as an attempt"
    assert count_events(engine, "message_deferred") == 0, "retries were scattered with backoff"


@pytest.mark.slow
def test_three_senders_keep_the_rate_together_and_send_every_message_once(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    messages, per_minute = 2000, 3000  # 40 s: the logic is the one of 30 a minute
    rate = per_minute / 60
    load_big_process(engine, messages)
    assert len(tick(engine, now=NOW).queued) == messages
    # The relay refuses more than 10 % over the rate in any ten seconds.
    with ThrottlingSink(limit=int(rate * 10 * 1.1), window=10) as sink:
        env = cli_env(tmp_path, database_url, sink.port, INNSPILL_SMTP_RATE=f"{per_minute}/min")
        started = time.monotonic()
        outputs = run_together([["send"]] * 3, env, tmp_path)
        took = time.monotonic() - started
    counts = summaries(outputs)
    times = sorted(t for t, _ in sink.handler.accepted)
    held = (len(times) - 1) / (times[-1] - times[0])
    print(
        f"\n3 senders, {messages} messages at {per_minute}/min: {held * 60:.0f}/min held over "
        f"{times[-1] - times[0]:.1f} s (all three processes: {took:.1f} s); most in 10 s: "
        f"{sink.handler.most_in(10)} (rate: {rate * 10:.0f}); refused {sink.handler.refused}; "
        f"sent by each {[c['sent'] for c in counts]}"
    )
    assert abs(held - rate) <= 0.1 * rate, f"the pace was {held * 60:.0f}/min"
    assert sink.handler.refused == 0
    assert sink.handler.most_in(10) <= rate * 10 * 1.1
    assert all(c["sent"] > 0 for c in counts), "a sender got no share"
    assert sum(c["sent"] for c in counts) == messages
    assert all(c["sent"] == c["claimed"] for c in counts)
    assert_each_once(engine, sink, messages)


@pytest.mark.slow
def test_a_relay_that_asks_to_slow_down_gets_a_lower_pace_not_retries_with_backoff(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    messages, limit = 600, 40  # the relay takes 40 a second; we are set to 100 a second
    load_big_process(engine, messages)
    assert len(tick(engine, now=NOW).queued) == messages
    with ThrottlingSink(limit=limit, window=1.0) as sink:
        env = cli_env(tmp_path, database_url, sink.port, INNSPILL_SMTP_RATE="6000/min")
        outputs = run_together([["send"]] * 3, env, tmp_path)
    counts = summaries(outputs)
    refused = sink.handler.refused
    with engine.connect() as conn:
        row = conn.execute(select(RelayPace.__table__)).one()  # type: ignore[attr-defined]
    print(
        f"\nrelay at {limit}/s, senders set to 100/s: {refused} slow-downs for {messages} "
        f"messages; pace lowered to {row.rate:.1f}/s; each sender {counts}"
    )
    assert sum(c["slowed"] for c in counts) == refused > 0
    assert refused < messages * 0.3
    assert row.rate is not None and row.rate <= limit and "4.7.500" in (row.note or "")
    assert sum(c["sent"] for c in counts) == messages
    assert all(c["sent"] + c["slowed"] == c["claimed"] for c in counts)
    assert sink.handler.most_in(1.0) <= limit
    assert_each_once(engine, sink, messages)


# --- the pace's arithmetic, against the database -------------------------------------------------


def wall() -> datetime:
    return datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def test_slots_are_shared_by_every_sender_at_the_configured_rate(engine: Engine) -> None:
    limits = pace.Limits(rate=2.0)
    a, rate = pace.reserve(engine, RELAY, limits, want=3, at=wall())
    b, _ = pace.reserve(engine, RELAY, limits, want=2, at=wall())  # another sender, same moment
    assert rate == 2.0
    half = timedelta(seconds=0.5)
    assert a.times == [wall(), wall() + half, wall() + 2 * half]
    assert b.times == [wall() + 3 * half, wall() + 4 * half]
    # An idle relay does not bank slots: after a pause the next one is now, not in the past.
    later = wall() + timedelta(minutes=5)
    assert pace.reserve(engine, RELAY, limits, want=1, at=later)[0].times == [later]
    # Slots not used are given back when they are the last ones handed out.
    c, _ = pace.reserve(engine, RELAY, limits, want=4, at=later)
    pace.give_back(engine, RELAY, limits, c.times[1:], counted_at=later)
    assert pace.reserve(engine, RELAY, limits, want=1, at=later)[0].times == [c.times[1]]


def test_a_slow_down_halves_the_pace_once_and_it_grows_back_while_the_relay_is_quiet(
    engine: Engine,
) -> None:
    limits = pace.Limits(rate=2.0)
    new = pace.lower(engine, RELAY, limits, at=wall(), observed=None, note=BUSY)
    assert new == 1.0
    # The refusals of messages already under way do not lower it again at once.
    again = pace.lower(
        engine, RELAY, limits, at=wall() + timedelta(seconds=1), observed=None, note=BUSY
    )
    assert again == 1.0
    now = pace.pace_now(engine, RELAY, limits, at=wall() + timedelta(seconds=30))
    assert (now.rate, now.lowered, now.note) == (1.0, True, BUSY)
    grown = pace.pace_now(engine, RELAY, limits, at=wall() + timedelta(minutes=6))
    assert grown.rate is not None and 1.0 * 1.05**5 - 0.01 < grown.rate < 1.0 * 1.05**5 + 0.01
    assert pace.pace_now(engine, RELAY, limits, at=wall() + timedelta(hours=1)).rate == 2.0
    # Unconfigured: the sender's own pace is the start; a quiet relay is unpaced again.
    free = pace.Limits()
    other = "other.example:25"
    assert pace.lower(engine, other, free, at=wall(), observed=50.0, note=BUSY) == 25.0
    assert pace.pace_now(engine, other, free, at=wall() + timedelta(minutes=11)).rate is None


def test_the_daily_limit_counts_recipients_over_24_hours_for_every_sender(engine: Engine) -> None:
    limits = pace.Limits(daily=10)
    first, _ = pace.reserve(engine, RELAY, limits, want=6, at=wall())
    second, _ = pace.reserve(engine, RELAY, limits, want=6, at=wall() + timedelta(hours=3))
    assert (len(first.times), len(second.times)) == (6, 4)
    full, _ = pace.reserve(engine, RELAY, limits, want=1, at=wall() + timedelta(hours=4))
    assert full.times == [] and full.full_until == wall() + timedelta(hours=25)
    # Slots not used count no more.
    pace.give_back(engine, RELAY, limits, second.times[:2], counted_at=wall() + timedelta(hours=3))
    assert (
        len(pace.reserve(engine, RELAY, limits, want=5, at=wall() + timedelta(hours=4))[0].times)
        == 2
    )
    assert (
        len(pace.reserve(engine, RELAY, limits, want=5, at=wall() + timedelta(hours=26))[0].times)
        == 5
    )


def test_the_slow_down_wording_of_relays_is_told_from_other_refusals() -> None:
    assert is_slow_down(421, "4.7.500 Server busy. Please try again later from [192.0.2.1]")
    assert is_slow_down(452, "4.5.3 Too many messages in this session")
    assert is_slow_down(451, "4.7.0 Message rate exceeded for this sender")
    assert is_slow_down(554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException")
    assert not is_slow_down(451, "4.7.1 Greylisted, please try again later")
    assert not is_slow_down(452, "4.2.2 Mailbox full, quota exceeded")
    assert not is_slow_down(550, "5.1.1 User unknown")
    assert not is_slow_down(421, "4.3.2 Service not available, closing transmission channel")


def test_the_daily_limit_pauses_a_send_and_the_rest_waits(
    engine: Engine, settings: Any, smtp: Any
) -> None:
    load_seed(engine)
    tick(engine, now=SEED_NOW)
    limits = pace.Limits(daily=5)
    report = asyncio.run(
        dispatch(
            engine,
            SmtpTransport(settings),
            now=SEED_NOW,
            clock=lambda: datetime.now(UTC),
            pace=limits,
        )
    )
    assert report.sent == 5 and report.given_back == 4 and report.claimed == 9
    assert report.paused and "daily limit of 5 recipients is reached" in report.paused
    assert report.stopped is None and len(smtp.received) == 5
    assert [r["status"] for r in outbox(engine)].count(MessageStatus.PENDING.value) == 4


def test_the_message_page_shows_the_queue_and_when_the_last_leaves(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from innspill.config.settings import Settings
    from innspill.dashboard.app import create_app
    from innspill.dashboard.auth import create_user
    from innspill.dashboard.deps import get_now
    from innspill.models import Role
    from innspill.models.db import session_scope
    from tests.test_dashboard import csrf_of

    load_seed(engine)
    tick(engine, now=SEED_NOW)
    with session_scope(engine) as session:
        create_user(
            session, "kari", "riktig hest batteri stift", now=datetime.now(UTC), role=Role.ADMIN
        )
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        smtp_host="relay.example",
        smtp_rate="3/min",
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(settings)
    app.dependency_overrides[get_now] = lambda: SEED_NOW  # 09:05
    try:
        client = TestClient(app)
        token = csrf_of(client.get("/login").text)
        client.post(
            "/login",
            data={
                "username": "kari",
                "password": "riktig hest batteri stift",
                "csrf_token": token,
                "next": "/",
            },
        )
        page = client.get("/messages").text
    finally:
        app.state.engine.dispose()
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    # Nine messages at three a minute: the last leaves 8 x 20 s after 09.05.
    assert (
        "Utboksen: 9 meldinger venter på å bli sendt nå. Tempo: 3 meldinger i minuttet. "
        "Med dette tempoet går den siste ut ca. 30. mars 2020 kl. 09.07."
    ) in text
