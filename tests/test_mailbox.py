"""innspill.inbound.mailbox against a real Dovecot: each new message handed over once, then
marked."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from imapclient import IMAPClient

from innspill.config.settings import Settings
from innspill.inbound import mailbox
from innspill.inbound.mailbox import (
    DONE_FLAG,
    DONE_FOLDER,
    Fetched,
    MailboxError,
    fetch_new,
    source_name,
)
from tests.dovecot import (  # noqa: F401  (the `dovecot` fixture)
    Dovecot,
    dovecot_server,
    dovecot_session,
    need_dovecot,
)
from tests.smtp_sink import free_port


def message(n: int, body: str = "") -> bytes:
    return (
        f"From: Participant {n} <p{n}@example.org>\r\n"
        f"To: innspill@example.org\r\n"
        f"Subject: Answer {n}\r\n"
        f"Message-ID: <answer-{n}@example.org>\r\n"
        f"\r\n"
        f"Answer number {n}.\r\n{body}"
    ).encode()


def settings_for(server: Dovecot, **overrides: Any) -> Settings:
    return Settings(**server.imap_settings(**overrides), _env_file=None)  # type: ignore[call-arg]


class Recorder:
    """A handler that records what it got and can be told to fail on some messages."""

    def __init__(self, fail_on: set[str] | None = None):
        self.got: list[Fetched] = []
        self.fail_on = fail_on or set()

    def __call__(self, fetched: Fetched) -> None:
        self.got.append(fetched)
        if fetched.uid in self.fail_on:
            raise ValueError(f"cannot take {fetched.uid}")

    @property
    def uids(self) -> list[str]:
        return [f.uid for f in self.got]


def test_each_new_message_is_handed_over_once_in_order_and_marked(dovecot: Dovecot) -> None:
    uids = dovecot.append_all([message(1), message(2), message(3)])
    validity = dovecot.uidvalidity()
    settings = settings_for(dovecot)
    handler = Recorder()

    report = fetch_new(settings, handler)

    assert handler.uids == [f"{validity}:{uid}" for uid in uids]
    assert [f.raw for f in handler.got] == [message(1), message(2), message(3)]
    assert report.handled == 3
    assert report.failed == []
    assert report.remaining == 0
    assert report.source == f"imap://127.0.0.1:{dovecot.port}/INBOX" == source_name(settings)
    assert all(DONE_FLAG in flags for _, flags in dovecot.messages())
    now = datetime.now(UTC)
    for fetched in handler.got:
        assert fetched.received_at is not None
        assert fetched.received_at.tzinfo is not None
        assert fetched.received_at.utcoffset() == timedelta(0)
        assert abs(fetched.received_at - now) < timedelta(minutes=1)

    # A second run, on a new connection, finds nothing new.
    again = Recorder()
    second = fetch_new(settings, again)
    assert again.got == []
    assert (second.handled, second.failed, second.remaining) == (0, [], 0)


def test_only_new_messages_come_in_a_later_run(dovecot: Dovecot) -> None:
    settings = settings_for(dovecot)
    dovecot.append(message(1))
    assert fetch_new(settings, Recorder()).handled == 1
    later = dovecot.append(message(2))
    handler = Recorder()
    fetch_new(settings, handler)
    assert handler.uids == [f"{dovecot.uidvalidity()}:{later}"]


def test_a_failing_handler_leaves_its_message_for_the_next_run(dovecot: Dovecot) -> None:
    first, second, third = dovecot.append_all([message(1), message(2), message(3)])
    validity = dovecot.uidvalidity()
    settings = settings_for(dovecot)
    bad = f"{validity}:{second}"

    report = fetch_new(settings, Recorder(fail_on={bad}))

    assert report.handled == 2
    assert report.failed == [f"{bad}: ValueError: cannot take {bad}"]
    assert report.remaining == 1
    flags = dict(dovecot.messages())
    assert DONE_FLAG in flags[first] and DONE_FLAG in flags[third]
    assert DONE_FLAG not in flags[second]

    retry = Recorder()
    report = fetch_new(settings, retry)
    assert retry.uids == [bad]
    assert retry.got[0].raw == message(2)
    assert (report.handled, report.failed, report.remaining) == (1, [], 0)


def test_batches_and_limit(dovecot: Dovecot) -> None:
    dovecot.append_all(message(n) for n in range(250))
    settings = settings_for(dovecot)
    fetches: list[int] = []
    real_fetch = IMAPClient.fetch

    def counting_fetch(self: IMAPClient, messages: Any, data: Any, modifiers: Any = None) -> Any:
        fetches.append(len(messages))
        return real_fetch(self, messages, data, modifiers)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(IMAPClient, "fetch", counting_fetch)
        limited = Recorder()
        report = fetch_new(settings, limited, batch=100, limit=30)
        assert (report.handled, report.remaining) == (30, 220)
        assert fetches == [30]

        fetches.clear()
        rest = Recorder()
        started = time.monotonic()
        report = fetch_new(settings, rest, batch=100)
        elapsed = time.monotonic() - started
        assert fetches == [100, 100, 20]

    assert (report.handled, report.failed, report.remaining) == (220, [], 0)
    handed = [f.raw for f in limited.got + rest.got]
    assert handed == [message(n) for n in range(250)]
    uids = [int(f.uid.split(":")[1]) for f in limited.got + rest.got]
    assert uids == sorted(uids)
    assert elapsed < 10, f"220 messages took {elapsed:.1f} s"


def test_raw_bytes_come_back_byte_identical(dovecot: Dovecot) -> None:
    raw = (
        "From: =?utf-8?q?Bj=C3=B8rn?= <bjorn@example.no>\r\n"
        "To: svar+abc123@example.org\r\n"
        "Subject: =?utf-8?q?Innspill_til_retningslinjer?=\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Vi støtter forslaget, men ønsker en endring i punkt 3.\r\n"
        "\r\n"
        ".leading dot, trailing spaces   \r\n"
        "\tand a tab\r\n"
    ).encode()
    # Line endings as handed in with bare LF: the server stores CRLF, and that is what we get.
    dovecot.append(raw.replace(b"\r\n", b"\n"))
    got = Recorder()
    fetch_new(settings_for(dovecot), got)
    assert [f.raw for f in got.got] == [raw]


def test_fetching_does_not_set_seen(dovecot: Dovecot) -> None:
    dovecot.append(message(1))
    seen_before = dovecot.append(message(2), flags=["\\Seen"])
    fetch_new(settings_for(dovecot), Recorder())
    flags = dict(dovecot.messages())
    assert "\\Seen" not in flags[seen_before - 1]
    assert "\\Seen" in flags[seen_before]  # a message already read is left as it was
    assert all(DONE_FLAG in f for f in flags.values())


def test_another_folder(dovecot: Dovecot) -> None:
    uid = dovecot.append(message(1), folder="Replies")
    dovecot.append(message(2))  # INBOX is not read
    got = Recorder()
    report = fetch_new(settings_for(dovecot, imap_folder="Replies"), got)
    assert [f.raw for f in got.got] == [message(1)]
    assert report.source.endswith("/Replies")
    assert DONE_FLAG in dict(dovecot.messages("Replies"))[uid]
    assert DONE_FLAG not in dovecot.messages("INBOX")[0][1]


def test_wrong_password() -> None:
    # A server of its own: Dovecot delays every later login from the same address by seconds.
    need_dovecot()
    with Dovecot() as server, pytest.raises(MailboxError) as caught:
        fetch_new(settings_for(server, imap_password="wrong"), Recorder())
    text = str(caught.value)
    assert f"127.0.0.1:{server.port}" in text
    assert "INBOX" in text
    assert "login" in text
    assert "wrong" not in text.replace("'wrong'", "")  # the password is never shown


def test_server_down() -> None:
    port = free_port()
    settings = Settings(
        imap_host="127.0.0.1",
        imap_port=port,
        imap_tls="none",
        imap_username="x",
        imap_password="y",
        imap_timeout=2,
        _env_file=None,  # type: ignore[call-arg]
    )
    handler = Recorder()
    with pytest.raises(MailboxError, match=rf"cannot connect to IMAP 127\.0\.0\.1:{port} folder"):
        fetch_new(settings, handler)
    assert handler.got == []


def test_unknown_folder(dovecot: Dovecot) -> None:
    with pytest.raises(MailboxError) as caught:
        fetch_new(settings_for(dovecot, imap_folder="Nowhere"), Recorder())
    text = str(caught.value)
    assert f"127.0.0.1:{dovecot.port}" in text and "'Nowhere'" in text


def test_no_mailbox_configured() -> None:
    with pytest.raises(MailboxError, match="INNSPILL_IMAP_HOST"):
        fetch_new(Settings(_env_file=None), Recorder())  # type: ignore[call-arg]


def test_default_ports() -> None:
    def port(**values: Any) -> int:
        return mailbox.imap_port(Settings(imap_host="h", **values, _env_file=None))

    assert port() == 993  # tls is the default
    assert port(imap_tls="starttls") == 143
    assert port(imap_tls="none") == 143
    assert port(imap_tls="tls", imap_port=1993) == 1993


def test_tls_against_a_plain_server_fails_cleanly(dovecot: Dovecot) -> None:
    with pytest.raises(MailboxError, match=f"127.0.0.1:{dovecot.port}"):
        fetch_new(settings_for(dovecot, imap_tls="tls", imap_timeout=3), Recorder())
    with pytest.raises(MailboxError, match=f"127.0.0.1:{dovecot.port}"):
        fetch_new(settings_for(dovecot, imap_tls="starttls", imap_timeout=3), Recorder())


def test_without_keywords_done_messages_are_moved(dovecot: Dovecot) -> None:
    """A server whose folder keeps no keywords: done messages go to innspill-done instead.

    Dovecot always keeps keywords, so its SELECT answer is edited to say it does not.
    """
    first, second = dovecot.append_all([message(1), message(2)])
    validity = dovecot.uidvalidity()
    real_select = IMAPClient.select_folder

    def no_keywords(self: IMAPClient, folder: str, readonly: bool = False) -> Any:
        answer = real_select(self, folder, readonly)
        answer[b"PERMANENTFLAGS"] = tuple(
            f for f in answer.get(b"PERMANENTFLAGS", ()) if f != b"\\*"
        )
        return answer

    settings = settings_for(dovecot)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(IMAPClient, "select_folder", no_keywords)
        report = fetch_new(settings, Recorder(fail_on={f"{validity}:{second}"}))
        assert (report.handled, len(report.failed), report.remaining) == (1, 1, 1)
        assert [uid for uid, _ in dovecot.messages("INBOX")] == [second]
        assert len(dovecot.messages(DONE_FOLDER)) == 1

        retry = Recorder()
        report = fetch_new(settings, retry)
        assert retry.uids == [f"{validity}:{second}"]
        assert (report.handled, report.remaining) == (1, 0)
    assert dovecot.messages("INBOX") == []
    assert len(dovecot.messages(DONE_FOLDER)) == 2
    assert first != second


def test_a_fatal_error_in_a_handler_still_marks_what_was_handled(dovecot: Dovecot) -> None:
    first, second, _ = dovecot.append_all([message(1), message(2), message(3)])

    def stop_at_second(fetched: Fetched) -> None:
        if fetched.uid.endswith(f":{second}"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch_new(settings_for(dovecot), stop_at_second)
    flags = dict(dovecot.messages())
    assert DONE_FLAG in flags[first]
    assert [uid for uid, f in flags.items() if DONE_FLAG not in f] == [second, second + 1]
