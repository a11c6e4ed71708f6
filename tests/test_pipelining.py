"""SMTP pipelining (outbound.pipelined) against a scripted relay on a real socket: MAIL, RCPT
and DATA in one write, the text only after the previous message's mark is stored, refusals
answered with RSET, a dropped connection costing one deferral."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from innspill.config.settings import Settings
from innspill.models import MessageStatus, OutboxMessage, Participant
from innspill.outbound.pipelined import wire_form
from tests.test_smtp_failures import BERGEN, MAILED, NOW, queue_seed, rows, send


@dataclass
class Script:
    """How the relay answers, and what it saw."""

    refuse_rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply
    data_without_recipient: str = "554 5.5.1 No valid recipients"
    drop_at_mail: int = 0  # close the connection on this MAIL (1: the first), 0: never
    pipelining: bool = True
    check: Any = None  # called with the Message-ID of the previous text on the connection
    chunks: list[bytes] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    texts: list[tuple[list[str], bytes]] = field(default_factory=list)  # (recipients, text)
    mails: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Session(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        script: Script = self.server.script  # type: ignore[attr-defined]
        sock: socket.socket = self.request
        sock.sendall(b"220 relay.example ESMTP\r\n")
        buffer, text, recipients, in_data, previous = b"", [], [], False, None
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            with script.lock:
                script.chunks.append(chunk)
            buffer += chunk
            while b"\r\n" in buffer:
                line, buffer = buffer.split(b"\r\n", 1)
                if in_data:
                    if line != b".":
                        if not text and script.check is not None and previous is not None:
                            script.check(previous)  # the first line of the next text
                        text.append(line[1:] if line.startswith(b".") else line)
                        continue
                    body = b"\r\n".join(text) + b"\r\n"
                    with script.lock:
                        script.texts.append((list(recipients), body))
                    if recipients:
                        previous = message_from_bytes(body)["Message-ID"]
                    in_data, text, recipients = False, [], []
                    sock.sendall(b"250 2.0.0 Ok: queued\r\n")
                    continue
                command = line.decode()
                with script.lock:
                    script.commands.append(command.split(":")[0].split(" ")[0].upper())
                verb = command[:4].upper()
                if verb == "EHLO":
                    extra = b"250-PIPELINING\r\n" if script.pipelining else b""
                    sock.sendall(b"250-relay.example\r\n" + extra + b"250 SIZE 10240000\r\n")
                elif verb == "MAIL":
                    with script.lock:
                        script.mails += 1
                        drop = script.mails == script.drop_at_mail
                    if drop:
                        sock.close()
                        return
                    recipients = []
                    sock.sendall(b"250 2.1.0 Ok\r\n")
                elif verb == "RCPT":
                    address = command.split("<", 1)[1].split(">", 1)[0]
                    reply = script.refuse_rcpt.get(address)
                    if reply:
                        sock.sendall(reply.encode() + b"\r\n")
                    else:
                        recipients.append(address)
                        sock.sendall(b"250 2.1.5 Ok\r\n")
                elif verb == "DATA":
                    if recipients or script.data_without_recipient.startswith("354"):
                        in_data = True
                        sock.sendall(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    else:
                        sock.sendall(script.data_without_recipient.encode() + b"\r\n")
                elif verb == "RSET":
                    recipients = []
                    sock.sendall(b"250 2.0.0 Ok\r\n")
                elif verb == "QUIT":
                    sock.sendall(b"221 2.0.0 Bye\r\n")
                    return
                else:
                    sock.sendall(b"502 5.5.2 Error: command not recognized\r\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def relay() -> Iterator[tuple[Script, int]]:
    script = Script()
    server = _Server(("127.0.0.1", 0), _Session)
    server.script = script  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield script, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def to(relay_port: int, settings: Settings, connections: int = 1) -> Settings:
    return settings.model_copy(update={"smtp_port": relay_port, "smtp_concurrency": connections})


def slow_commit(_conn: Any) -> None:
    time.sleep(0.2)


def status(engine: Engine, message_id: str) -> str:
    t = OutboxMessage.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return str(conn.execute(select(t.c.status).where(t.c.message_id == message_id)).scalar())


def test_envelope_goes_in_one_write_and_each_text_after_the_previous_mark(
    engine: Engine, settings: Settings, relay: tuple[Script, int]
) -> None:
    script, port = relay
    unmarked: list[str] = []

    def check(previous: str) -> None:
        if status(engine, previous) != MessageStatus.SENT.value:
            unmarked.append(previous)

    script.check = check
    queue_seed(engine)
    # Slow commits: a text sent before its predecessor's mark is stored would be seen.
    event.listen(engine, "commit", slow_commit)
    try:
        report = send(engine, to(port, settings, connections=2), NOW)
    finally:
        event.remove(engine, "commit", slow_commit)

    assert report.sent == MAILED and report.stopped is None
    envelopes = [c for c in script.chunks if b"MAIL FROM:" in c]
    assert len(envelopes) == MAILED
    assert all(b"RCPT TO:" in c and c.endswith(b"DATA\r\n") for c in envelopes)
    assert all(b"SIZE=" in c for c in envelopes)
    # The relay looked each time a connection began its next text: the last one was marked.
    assert unmarked == []
    received = Counter(message_from_bytes(t)["Message-ID"] for _, t in script.texts)
    assert set(received.values()) == {1}
    assert set(received) == {r["message_id"] for r in rows(engine)}
    for recipients, text in script.texts:
        row = next(r for r in rows(engine) if r["recipient"] == recipients[0])
        assert text == row["raw"].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_without_pipelining_one_command_goes_at_a_time(
    engine: Engine, settings: Settings, relay: tuple[Script, int]
) -> None:
    script, port = relay
    script.pipelining = False
    queue_seed(engine)
    assert send(engine, to(port, settings), NOW).sent == MAILED
    assert not [c for c in script.chunks if b"MAIL FROM:" in c and b"RCPT TO:" in c]


def test_the_setting_turns_pipelining_off_for_a_relay_that_announces_it(
    engine: Engine, settings: Settings, relay: tuple[Script, int]
) -> None:
    script, port = relay
    queue_seed(engine)
    off = to(port, settings).model_copy(update={"smtp_pipelining": False})
    assert send(engine, off, NOW).sent == MAILED
    assert not [c for c in script.chunks if b"MAIL FROM:" in c and b"RCPT TO:" in c]
    assert Settings(_env_file=None, smtp_pipelining="false").smtp_pipelining is False  # type: ignore[call-arg]


def test_a_refused_recipient_fails_alone_and_the_connection_goes_on(
    engine: Engine, settings: Settings, relay: tuple[Script, int]
) -> None:
    script, port = relay
    script.refuse_rcpt[BERGEN] = "550 5.1.1 <sekretariat@bergen.byvekst.example>: unknown"
    queue_seed(engine)
    report = send(engine, to(port, settings), NOW)

    assert (report.sent, report.failed) == (MAILED - 1, 1)
    bergen = next(r for r in rows(engine) if r["recipient"] == BERGEN)
    assert bergen["status"] == MessageStatus.FAILED.value
    assert "550" in bergen["last_error"] and "unknown" in bergen["last_error"]
    # DATA was refused for want of a recipient, then the transaction was reset
    refused_at = script.commands.index("RSET")
    assert script.commands[refused_at - 3 : refused_at] == ["MAIL", "RCPT", "DATA"]
    assert script.commands.count("EHLO") == 1  # one connection for all nine
    assert BERGEN not in {a for recipients, _ in script.texts for a in recipients}
    with engine.connect() as conn:
        p = Participant.__table__  # type: ignore[attr-defined]
        failing = conn.execute(select(p.c.email).where(p.c.address_failing)).scalars().all()
    assert failing == [BERGEN]


def test_a_relay_that_says_354_without_a_recipient_gets_an_empty_text_and_a_reset(
    engine: Engine, settings: Settings, relay: tuple[Script, int]
) -> None:
    script, port = relay
    script.refuse_rcpt[BERGEN] = "450 4.2.0 Mailbox busy"
    script.data_without_recipient = "354 go ahead"
    queue_seed(engine)
    report = send(engine, to(port, settings), NOW)

    assert (report.sent, report.deferred) == (MAILED - 1, 1)
    empty = [(recipients, text) for recipients, text in script.texts if not recipients]
    assert empty == [([], b"\r\n")]  # the end mark alone, to nobody
    bergen = next(r for r in rows(engine) if r["recipient"] == BERGEN)
    assert bergen["status"] == MessageStatus.PENDING.value and bergen["attempts"] == 1


def test_a_connection_dropped_mid_pipeline_defers_that_message_and_the_rest_go(
    engine: Engine, settings: Settings, relay: tuple[Script, int]
) -> None:
    script, port = relay
    script.drop_at_mail = 3
    queue_seed(engine)
    report = send(engine, to(port, settings), NOW)

    assert (report.sent, report.deferred) == (MAILED - 1, 1)
    assert script.commands.count("EHLO") == 2  # a new connection after the drop
    deferred = [r for r in rows(engine) if r["status"] == MessageStatus.PENDING.value]
    assert len(deferred) == 1 and deferred[0]["attempts"] == 1
    # Sent again later, it arrives once.
    later = send(engine, to(port, settings), NOW.replace(hour=11))
    assert later.sent == 1
    ids = Counter(message_from_bytes(t)["Message-ID"] for _, t in script.texts)
    assert set(ids.values()) == {1} and len(ids) == MAILED


def test_the_wire_form_doubles_leading_dots_and_ends_with_the_mark() -> None:
    raw = b"Subject: x\n\n.a line with a dot\r\nplain\r..\n"
    assert wire_form(raw) == b"Subject: x\r\n\r\n..a line with a dot\r\nplain\r\n...\r\n.\r\n"
