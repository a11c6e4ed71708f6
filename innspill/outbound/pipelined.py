"""SMTP pipelining (RFC 2920) on a connection aiosmtplib has opened: two round trips a message.

aiosmtplib sends MAIL, RCPT, DATA and the message each after the previous reply: four round
trips, and a reply is read once per command. Where the relay announces PIPELINING, this takes
over the connection after aiosmtplib's greeting, EHLO, STARTTLS and login, and sends MAIL,
RCPT and DATA in one write; the message itself goes only after the DATA reply (354) and after
the caller says so (the previous message's mark is stored), so a crash still repeats at most
one message per connection. A refusal in the envelope is answered as the server expects: RSET
(after an empty DATA if a server said 354 to a transaction without a recipient, which then
delivers to nobody).
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Awaitable, Callable

import aiosmtplib

#: What may not be in an address put on a command line (aiosmtplib refuses the same).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>\s]")
_LINE_ENDINGS = re.compile(rb"(?:\r\n|\n|\r(?!\n))")
_PERIOD = re.compile(rb"(?m)^\.")

#: A reply: its code and its text (lines joined by newlines), as aiosmtplib gives them.
Reply = tuple[int, str]


class Unsafe(ValueError):
    """An address that cannot be written on a command line as it is."""


def wire_form(message: bytes) -> bytes:
    """The message as DATA sends it: CRLF line endings, leading dots doubled, the end mark."""
    message = _LINE_ENDINGS.sub(b"\r\n", message)
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    return _PERIOD.sub(b"..", message) + b".\r\n"


class _Replies(asyncio.Protocol):
    """Collects the server's replies in order; a waiter takes a number of them."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.lines: list[str] = []
        self.replies: deque[Reply] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.wanted = 0
        self.lost: BaseException | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\n")) >= 0:
            line = bytes(self.buffer[:end]).rstrip(b"\r").decode("utf-8", "surrogateescape")
            del self.buffer[: end + 1]
            self.lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                try:
                    code = int(line[:3])
                except ValueError:
                    code = -1
                self.replies.append((code, "\n".join(self.lines)))
                self.lines = []
        if len(self.buffer) > 65536:  # a "line" without end: not an SMTP server
            self.connection_lost(aiosmtplib.SMTPResponseException(-1, "reply too long"))
        self._wake()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost = exc or aiosmtplib.SMTPServerDisconnected("the server closed the connection")
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            if len(self.replies) >= self.wanted:
                waiter.set_result(None)
            elif self.lost is not None:
                waiter.set_exception(self.lost)

    async def take(self, count: int, timeout: float) -> list[Reply]:
        if len(self.replies) < count:
            if self.lost is not None:
                raise self.lost
            loop = asyncio.get_running_loop()
            self.waiter, self.wanted = loop.create_future(), count
            timer = loop.call_later(timeout, self._timed_out, self.waiter)
            try:
                await self.waiter
            finally:
                timer.cancel()
                self.waiter = None
        return [self.replies.popleft() for _ in range(count)]

    @staticmethod
    def _timed_out(waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            waiter.set_exception(
                aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response")
            )


def refusal(code: int, text: str) -> aiosmtplib.SMTPResponseException:
    """A reply as the exception aiosmtplib would raise for it (its text, for the record)."""
    return aiosmtplib.SMTPResponseException(code, text)


class Pipeline:
    """One connection in pipelining mode, taken over from a connected aiosmtplib client."""

    def __init__(self, client: aiosmtplib.SMTP, timeout: float):
        transport = client.transport
        assert isinstance(transport, asyncio.WriteTransport)
        self.client, self.transport, self.timeout = client, transport, timeout
        self.size = client.supports_extension("size")
        self.utf8 = client.supports_extension("smtputf8")
        self.replies = _Replies()
        transport.set_protocol(self.replies)

    @staticmethod
    def possible(client: aiosmtplib.SMTP) -> bool:
        return client.supports_extension("pipelining") and isinstance(
            client.transport, asyncio.WriteTransport
        )

    def _address(self, address: str) -> bytes:
        if _UNSAFE.search(address):
            raise Unsafe(f"the address {address!r} cannot be sent as it is")
        if not address.isascii() and not self.utf8:
            raise Unsafe(f"the address {address!r} needs SMTPUTF8, which the server lacks")
        return address.encode("utf-8")

    def _write(self, data: bytes) -> None:
        if self.replies.lost is not None:
            raise self.replies.lost
        if self.transport.is_closing():
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        self.transport.write(data)

    async def send(
        self, sender: str, recipient: str, wire: bytes, ready: Callable[[], Awaitable[None]]
    ) -> Reply | tuple[Reply, bool]:
        """Send one message (`wire`: wire_form of it), its body only once `ready()` returns.

        Returns the final reply (250: accepted), or (refusing reply, recipient refused) for
        a transaction refused before its body; the connection is then ready for the next.
        """
        options = b""
        if self.size:
            options += b" SIZE=%d" % len(wire)
        from_, to = self._address(sender), self._address(recipient)
        if not (from_ + to).isascii():
            options += b" SMTPUTF8"
        self._write(b"MAIL FROM:<%s>%s\r\nRCPT TO:<%s>\r\nDATA\r\n" % (from_, options, to))
        (mail, rcpt, data) = await self.replies.take(3, self.timeout)
        refused: tuple[Reply, bool] | None = None
        if mail[0] != 250:
            refused = (mail, False)
        elif rcpt[0] not in (250, 251):
            refused = (rcpt, True)
        elif data[0] != 354:
            refused = (data, False)
        if refused is not None:
            if data[0] == 354:  # no recipient, yet ready for the text: an empty one, to nobody
                self._write(b".\r\n")
                await self.replies.take(1, self.timeout)
            self._write(b"RSET\r\n")
            await self.replies.take(1, self.timeout)
            return refused
        await ready()
        self._write(wire)
        (done,) = await self.replies.take(1, self.timeout)
        if done[0] != 250:
            self._write(b"RSET\r\n")
            await self.replies.take(1, self.timeout)
        return done

    async def quit(self) -> None:
        try:
            self._write(b"QUIT\r\n")
            await self.replies.take(1, self.timeout)
        except (aiosmtplib.SMTPException, OSError):
            pass
        finally:
            self.close()

    def close(self) -> None:
        self.client.close()
