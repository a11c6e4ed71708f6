"""A bad SMTP day: the server down, temporary and permanent refusals, too many attempts, the CLI
telling the user, and header injection refused before anything is stored."""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from innspill.cli import app
from innspill.config.settings import Settings, get_settings
from innspill.engine import tick
from innspill.errors import DefinitionError, HeaderInjection
from innspill.models import Event, MessageStatus, OutboxMessage, Participant
from innspill.outbound.mime import build_message, check_header
from innspill.outbound.outbox import DispatchReport, backoff, dispatch, pending_count
from innspill.outbound.transport import SmtpTransport
from innspill.process.definition import parse_definition
from tests.conftest import SEED, load_seed, oslo
from tests.smtp_sink import SmtpSink, free_port

NOW = oslo(2020, 3, 30, 9, 5)  # the seed's 18 invitations are due from 09:00 Oslo
QUEUED = 18  # nine secretariats, two request steps each ...
MAILED = 9  # ... which open together: one message each carries both
BERGEN = "sekretariat@bergen.byvekst.example"


@pytest.fixture(
    params=[True, pytest.param(False, marks=pytest.mark.single_pass)],
    ids=["pipelining", "one-command-at-a-time"],
)
def smtp(request: pytest.FixtureRequest) -> Iterator[SmtpSink]:
    """The recording server, once announcing PIPELINING (the relays we know do) and once
    not: each bad day below is met on both of the transport's ways of sending (the second
    way in the SQLite pass only: the database does not change how a command is sent)."""
    with SmtpSink(pipelining=request.param) as sink:
        yield sink


def rows(engine: Engine) -> list[dict[str, Any]]:
    """The outbox rows that are mailed (not those carried inside another's message)."""
    t = OutboxMessage.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(t).where(t.c.status != MessageStatus.COMBINED.value).order_by(t.c.id)
            )
        ]


def events(engine: Engine, kind: str) -> list[dict[str, Any]]:
    e = Event.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(select(e).where(e.c.kind == kind).order_by(e.c.id))
        ]


def send(
    engine: Engine, settings: Settings, now: datetime, max_attempts: int = 8
) -> DispatchReport:
    return asyncio.run(
        dispatch(engine, SmtpTransport(settings), now=now, max_attempts=max_attempts)
    )


def queue_seed(engine: Engine) -> None:
    load_seed(engine)
    assert len(tick(engine, now=NOW).queued) == QUEUED


def assert_each_delivered_once(engine: Engine, smtp: SmtpSink) -> None:
    received = Counter(r.message_id for r in smtp.received)
    outbox = rows(engine)
    assert set(received) == {r["message_id"] for r in outbox}
    assert set(received.values()) == {1}
    assert {r["status"] for r in outbox} == {MessageStatus.SENT.value}


def test_server_down_stops_the_batch_and_loses_nothing(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    queue_seed(engine)
    down = settings.model_copy(update={"smtp_port": free_port()})
    report = send(engine, down, NOW)

    assert report.stopped is not None
    assert f"127.0.0.1:{down.smtp_port}" in report.stopped
    assert report.sent == 0 and report.failed == 0 and report.deferred == 1
    outbox = rows(engine)
    assert {r["status"] for r in outbox} == {MessageStatus.PENDING.value}
    tried = [r for r in outbox if r["attempts"]]
    assert len(tried) == 1
    assert tried[0]["attempts"] == 1
    assert f"127.0.0.1:{down.smtp_port}" in tried[0]["last_error"]
    assert tried[0]["next_attempt_at"] == NOW + backoff(1)
    untried = [r for r in outbox if not r["attempts"]]
    assert all(r["last_error"] is None and r["next_attempt_at"] == NOW for r in untried)
    assert len(events(engine, "message_deferred")) == 1

    # The server is back. Before the backoff only the untried ones go; after it, the rest.
    report = send(engine, settings, NOW + timedelta(minutes=1))
    assert report.stopped is None and report.sent == MAILED - 1
    assert pending_count(engine, now=NOW + backoff(1)) == 1
    report = send(engine, settings, NOW + backoff(1))
    assert report.stopped is None and report.sent == 1
    assert_each_delivered_once(engine, smtp)
    assert send(engine, settings, NOW + timedelta(days=1)).attempted == 0


@pytest.mark.parametrize(
    "reply", ["421 4.7.0 Try again later", "451 4.3.0 Temporary local problem"]
)
def test_temporary_refusal_of_data_is_retried_after_the_backoff(
    engine: Engine, settings: Settings, smtp: SmtpSink, reply: str
) -> None:
    queue_seed(engine)
    smtp.handler.refuse_data_times = 1
    smtp.handler.refuse_data_reply = reply
    report = send(engine, settings, NOW)

    assert report.stopped is None
    assert (report.sent, report.deferred, report.failed) == (MAILED - 1, 1, 0)
    assert len(smtp.received) == MAILED - 1
    [deferred] = [r for r in rows(engine) if r["status"] == MessageStatus.PENDING.value]
    assert deferred["attempts"] == 1
    code, text = reply.split(" ", 1)
    assert code in deferred["last_error"] and text in deferred["last_error"]
    assert deferred["next_attempt_at"] == NOW + backoff(1)
    [event] = events(engine, "message_deferred")
    assert deferred["message_id"] in event["detail"] and code in event["detail"]

    # Not before the backoff has passed ...
    assert send(engine, settings, NOW + backoff(1) - timedelta(seconds=1)).attempted == 0
    # ... then once, and for good.
    report = send(engine, settings, NOW + backoff(1))
    assert (report.sent, report.deferred, report.failed) == (1, 0, 0)
    assert_each_delivered_once(engine, smtp)
    retried = next(r for r in rows(engine) if r["id"] == deferred["id"])
    assert retried["attempts"] == 2 and retried["sent_at"] == NOW + backoff(1)
    assert send(engine, settings, NOW + timedelta(days=1)).attempted == 0


def test_permanent_refusal_fails_that_recipient_only_and_is_not_retried(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    queue_seed(engine)
    smtp.handler.refuse[BERGEN] = "550 5.1.1 No such user"
    report = send(engine, settings, NOW)

    assert report.stopped is None
    assert (report.sent, report.deferred, report.failed) == (MAILED - 1, 0, 1)  # both steps
    outbox = rows(engine)
    failed = [r for r in outbox if r["status"] == MessageStatus.FAILED.value]
    assert {r["recipient"] for r in failed} == {BERGEN} and len(failed) == 1
    for row in failed:
        assert "550" in row["last_error"] and "No such user" in row["last_error"]
        assert row["attempts"] == 1
    fail_events = events(engine, "message_failed")
    assert sorted(e["participant_key"] for e in fail_events) == ["bergen-sekretariat"]
    assert all("550" in e["detail"] for e in fail_events)
    assert {r["status"] for r in outbox if r["recipient"] != BERGEN} == {MessageStatus.SENT.value}
    assert not smtp.handler.to(BERGEN)
    assert len(smtp.received) == MAILED - 1
    assert any(BERGEN in error and "550" in error for error in report.errors)

    # The address is fixed on the server's side, but a failed message waits for a person.
    del smtp.handler.refuse[BERGEN]
    later = NOW + timedelta(days=2)
    assert pending_count(engine, now=later) == 0
    assert send(engine, settings, later).attempted == 0
    assert not smtp.handler.to(BERGEN)
    assert [r["status"] for r in rows(engine) if r["recipient"] == BERGEN] == ["failed"]


def test_temporary_refusal_until_max_attempts_fails_the_message(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    queue_seed(engine)
    smtp.handler.refuse[BERGEN] = "451 4.3.0 Mailbox temporarily unavailable"

    first = send(engine, settings, NOW, max_attempts=2)
    assert (first.sent, first.deferred, first.failed) == (MAILED - 1, 1, 0)
    bergen = [r for r in rows(engine) if r["recipient"] == BERGEN]
    assert [(r["status"], r["attempts"]) for r in bergen] == [("pending", 1)]

    second = send(engine, settings, NOW + backoff(1), max_attempts=2)
    assert (second.sent, second.deferred, second.failed) == (0, 0, 1)
    bergen = [r for r in rows(engine) if r["recipient"] == BERGEN]
    assert [(r["status"], r["attempts"]) for r in bergen] == [("failed", 2)]
    assert all("451" in r["last_error"] for r in bergen)
    assert len(events(engine, "message_failed")) == 1
    assert len(events(engine, "message_deferred")) == 1
    assert send(engine, settings, NOW + timedelta(days=2), max_attempts=2).attempted == 0
    assert not smtp.handler.to(BERGEN)


@pytest.fixture
def cli_env(database_url: str, tmp_path: Any) -> Any:
    get_settings.cache_clear()
    yield {
        "INNSPILL_DATABASE_URL": database_url,
        "INNSPILL_SMTP_HOST": "127.0.0.1",
        "INNSPILL_DATA_DIR": str(tmp_path / "data"),
    }
    get_settings.cache_clear()


def test_cli_send_with_the_server_down_says_so_and_keeps_the_messages(
    engine: Engine, smtp: SmtpSink, cli_env: dict[str, str]
) -> None:
    queue_seed(engine)
    port = free_port()
    runner = CliRunner()
    result = runner.invoke(
        app, ["send", "--at", "2020-03-30T09:30"], env={**cli_env, "INNSPILL_SMTP_PORT": str(port)}
    )
    assert result.exit_code != 0, result.output
    assert f"127.0.0.1:{port}" in result.output
    assert "stay queued" in result.output and "nothing is lost" in result.output
    assert {r["status"] for r in rows(engine)} == {MessageStatus.PENDING.value}

    # Back up, and past the backoff of the one attempt: everything goes, once.
    get_settings.cache_clear()
    result = runner.invoke(
        app,
        ["send", "--at", "2020-03-30T10:00"],
        env={**cli_env, "INNSPILL_SMTP_PORT": str(smtp.port)},
    )
    assert result.exit_code == 0, result.output
    assert f"{MAILED} sent, 0 deferred, 0 failed" in result.output
    assert_each_delivered_once(engine, smtp)


INJECTIONS = [
    "a\r\nBcc: x@example.org",
    "a\nBcc: x@example.org",
    "=?utf-8?q?a=0D=0ABcc:_x@example.org?=",
    "=?utf-8?b?" + base64.b64encode(b"a\r\nBcc: x@example.org").decode() + "?=",
    "Hei =?utf-8?b?" + base64.b64encode("på\nBcc: x@example.org".encode()).decode() + "?=",
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_header_with_a_line_break_is_refused(value: str) -> None:
    with pytest.raises(HeaderInjection):
        check_header("Subject", value)


@pytest.mark.parametrize(
    "value",
    [
        "Påminnelse: frist 1. juni 2020",
        "Sekretariatet for byvekstavtalen i Nord-Jæren <sekretariat@nord-jaeren.byvekst.example>",
        "=?utf-8?q?P=C3=A5minnelse:_frist_1._juni_2020?=",
    ],
)
def test_normal_norwegian_header_is_accepted(value: str) -> None:
    assert check_header("Subject", value) == value


def test_build_message_refuses_an_injected_subject() -> None:
    with pytest.raises(HeaderInjection):
        build_message(
            sender_name="Statens vegvesen",
            sender_address="a@vegvesen.example",
            recipient_name="Mottaker",
            recipient_address="b@kommune.example",
            reply_to="a@vegvesen.example",
            subject="Innspill\r\nBcc: x@example.org",
            text="tekst",
            html="<p>tekst</p>",
            message_id="<x@vegvesen.example>",
            date=NOW,
        )


def test_participant_name_with_a_line_break_is_refused_by_validation() -> None:
    text = SEED.read_text(encoding="utf-8")
    good = 'name = "Sekretariatet for byvekstavtalen i Bergen"'
    assert good in text
    parse_definition(text)  # the seed itself is valid
    bad = text.replace(good, 'name = "Sekretariatet i Bergen\\nBcc: x@example.org"')
    with pytest.raises(DefinitionError) as caught:
        parse_definition(bad, file="seed.toml")
    assert any(p.field == "participants[1].name" for p in caught.value.problems)


def test_a_refused_address_is_marked_failing_and_skipped_from_then_on(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    queue_seed(engine)
    smtp.handler.refuse[BERGEN] = "550 5.1.1 No such user"
    send(engine, settings, NOW)
    with engine.connect() as conn:
        failing = (
            conn.execute(
                select(Participant.key).where(Participant.address_failing)  # type: ignore[arg-type]
            )
            .scalars()
            .all()
        )
    assert failing == ["bergen-sekretariat"]

    # Reminders fall due on 20 April: Bergen's is recorded as skipped, the others go out.
    report = tick(engine, now=oslo(2020, 4, 20, 9))
    skipped = [a for a in report.skipped if a.participant_id == "bergen-sekretariat"]
    assert skipped and {a.skip_reason for a in skipped} == {
        "the participant's address is failing (bounced)"
    }
    assert all(a.participant_id != "bergen-sekretariat" for a in report.queued)
    assert len(report.queued) == 8  # the other secretariats, for the 27 April deadline
