"""Ways a stored message leaves the building: an SMTP relay, or a local capture folder."""

from __future__ import annotations

import asyncio
import os
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import aiosmtplib

from innspill.config.settings import Settings, TlsMode
from innspill.outbound.pipelined import Pipeline, Unsafe, refusal, wire_form


@dataclass(frozen=True)
class Queued:
    """A message taken from the outbox for sending."""

    row_id: int
    sender: str
    recipient: str
    raw: bytes
    message_id: str


@dataclass(frozen=True)
class Outcome:
    """What happened to one message: accepted, deferred (4xx, try again), failed (5xx), or
    throttled (the relay asked to slow down: it waits for its turn at a lower pace)."""

    row_id: int
    status: Literal["sent", "deferred", "failed", "throttled"]
    error: str | None = None
    address_refused: bool = False  # a 5xx for the recipient itself: the address is failing


Report = Callable[[Outcome], Awaitable[None]]


class Source(Protocol):
    """Hands out the next message to send (claimed for this sender), or None when none is left."""

    async def take(self) -> Queued | None: ...


class Transport(Protocol):
    """Sends what a source hands out and reports an outcome for every message it attempted.

    `report` returns once the outcome is stored: a connection sends its next message only
    then, so at most `concurrency` accepted messages are ever unmarked.
    """

    description: str
    concurrency: int
    relay: str | None  # whose pace to keep (host:port); None: no relay (the local capture)

    async def send_all(self, source: Source, report: Report) -> str | None:
        """Send; return an error text if the transport stopped early (untried ones stay)."""
        ...


class CaptureTransport:
    """Writes each message as an .eml file: the embedded default when no SMTP is set."""

    concurrency = 1
    relay: str | None = None

    def __init__(self, folder: Path):
        self.folder = folder
        self.description = f"captured as .eml files in {folder}"

    async def send_all(self, source: Source, report: Report) -> str | None:
        self.folder.mkdir(parents=True, exist_ok=True)
        while (message := await source.take()) is not None:
            # Named by Message-ID: a message resent after a crash overwrites its own file.
            name = message.message_id.strip("<>").replace("/", "_") + ".eml"
            tmp = self.folder / f".{name}.tmp"
            tmp.write_bytes(message.raw)
            os.replace(tmp, self.folder / name)
            await report(Outcome(message.row_id, "sent"))
        return None


class SmtpTransport:
    """aiosmtplib with a few reused connections, each taking the source's next message in turn;
    pipelined where the relay allows it."""

    def __init__(self, settings: Settings, *, pipelining: bool | None = None):
        self.settings = settings
        self.host = settings.smtp_host or "localhost"
        self.port = settings.resolved_smtp_port
        self.concurrency = settings.smtp_concurrency
        self.relay: str | None = f"{self.host}:{self.port}"
        self.description = f"SMTP {self.host}:{self.port} ({settings.smtp_tls.value})"
        # where the relay offers it (outbound.pipelined); the setting unless told otherwise
        self.pipelining = settings.smtp_pipelining if pipelining is None else pipelining

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=s.smtp_tls == TlsMode.TLS,
            start_tls=s.smtp_tls == TlsMode.STARTTLS,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            timeout=s.smtp_timeout,
            tls_context=ssl.create_default_context() if s.smtp_tls != TlsMode.NONE else None,
        )

    async def send_all(self, source: Source, report: Report) -> str | None:
        message = await source.take()
        if message is None:
            return None
        # One connection first: a server that is down then costs one message an attempt, not
        # one per connection (the others stay untried, with no backoff).
        first = self._client()
        try:
            await first.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            error = self._cannot_connect(exc)
            await report(Outcome(message.row_id, "deferred", error))
            return error
        errors = await asyncio.gather(
            self._worker(source, report, first, message),
            *(self._worker(source, report) for _ in range(self.concurrency - 1)),
        )
        # Stopped only if no connection was left to finish what the source held.
        if all(errors):
            return next(e for e in errors if e)
        return None

    def _cannot_connect(self, exc: BaseException) -> str:
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            return (
                f"the SMTP server {self.host}:{self.port} refused the login: {_describe(exc)}; "
                "check INNSPILL_SMTP_USERNAME and INNSPILL_SMTP_PASSWORD"
            )
        return f"cannot connect to {self.host}:{self.port}: {_describe(exc)}"

    async def _worker(
        self,
        source: Source,
        report: Report,
        client: aiosmtplib.SMTP | None = None,
        message: Queued | None = None,
    ) -> str | None:
        # The previous message's mark, still being stored while this connection opens the
        # next envelope (MAIL, RCPT; with pipelining DATA too); the text waits for the mark,
        # so at most one accepted message per connection is ever unmarked, and storing
        # overlaps with sending. A relay that announces PIPELINING gets the envelope in one
        # write (outbound.pipelined): two round trips a message instead of four.
        marking: asyncio.Future[None] | None = None
        pipeline: Pipeline | None = None

        async def marked() -> None:
            nonlocal marking
            if marking is not None:
                await marking
                marking = None

        try:
            while message is not None or (message := await source.take()) is not None:
                if pipeline is not None and pipeline.replies.lost is not None:
                    pipeline.close()
                    pipeline = client = None
                if client is None or (pipeline is None and not client.is_connected):
                    client = self._client()
                    try:
                        await client.connect()
                    except (aiosmtplib.SMTPException, OSError) as exc:
                        error = self._cannot_connect(exc)
                        await report(Outcome(message.row_id, "deferred", error))
                        return error
                if pipeline is None and self.pipelining:
                    greeting = await self._greet(client, message)
                    if greeting is not None:
                        await marked()
                        marking = asyncio.ensure_future(report(greeting))
                        message = None
                        continue
                    if Pipeline.possible(client):
                        pipeline = Pipeline(client, self.settings.smtp_timeout)
                if pipeline is not None:
                    outcome = await self._pipelined(pipeline, message, marked)
                else:
                    refused = await self._envelope(client, message)
                    await marked()
                    outcome = refused or await self._data(client, message)
                marking = asyncio.ensure_future(report(outcome))
                message = None
            await marked()
        finally:
            if marking is not None:
                await asyncio.gather(marking, return_exceptions=True)
            if pipeline is not None:
                await pipeline.quit()
            elif client is not None and client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
        return None

    async def _greet(self, client: aiosmtplib.SMTP, message: Queued) -> Outcome | None:
        """EHLO before the first message (aiosmtplib leaves it to MAIL), so that the reply
        tells whether the relay pipelines; None when the connection is ready."""
        if not client.is_ehlo_or_helo_needed:
            return None
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            pass  # no EHLO: MAIL says HELO first, one command at a time
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            return Outcome(message.row_id, "deferred", _describe(exc))
        return None

    async def _pipelined(
        self, pipeline: Pipeline, message: Queued, marked: Callable[[], Awaitable[None]]
    ) -> Outcome:
        """One message over a pipelining connection; its text goes once `marked()` returns."""
        try:
            reply = await pipeline.send(
                message.sender, message.recipient, wire_form(message.raw), marked
            )
        except Unsafe as exc:
            await marked()
            return Outcome(message.row_id, "failed", str(exc))
        except (aiosmtplib.SMTPException, OSError) as exc:
            pipeline.close()
            return Outcome(message.row_id, "deferred", _describe(exc))
        if isinstance(reply[1], bool):
            (code, text), recipient = reply
            return _classified(
                message.row_id, code, _describe(refusal(code, text)), recipient=recipient
            )
        code, text = reply
        if code == 250:
            return Outcome(message.row_id, "sent")
        return _classified(message.row_id, code, _describe(refusal(code, text)))

    async def _envelope(self, client: aiosmtplib.SMTP, message: Queued) -> Outcome | None:
        """MAIL FROM and RCPT TO: None when the server is ready for the DATA."""
        try:
            options = []
            if client.supports_extension("size"):
                options.append(f"size={len(message.raw)}")
            await client.mail(message.sender, options=options)
            await client.rcpt(message.recipient)
            return None
        except aiosmtplib.SMTPRecipientRefused as exc:
            outcome = _classified(message.row_id, exc.code, _describe(exc), recipient=True)
        except aiosmtplib.SMTPResponseException as exc:
            outcome = _classified(message.row_id, exc.code, _describe(exc))
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            return Outcome(message.row_id, "deferred", _describe(exc))
        await _reset(client)
        return outcome

    async def _data(self, client: aiosmtplib.SMTP, message: Queued) -> Outcome:
        """The message itself: accepted (sent), or refused."""
        try:
            await client.data(message.raw)
            return Outcome(message.row_id, "sent")
        except aiosmtplib.SMTPResponseException as exc:
            outcome = _classified(message.row_id, exc.code, _describe(exc))
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            return Outcome(message.row_id, "deferred", _describe(exc))
        await _reset(client)
        return outcome


async def _reset(client: aiosmtplib.SMTP) -> None:
    # After a refusal the session may be mid-transaction: reset it, or start afresh.
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError):
        client.close()


#: What relays say when they want fewer messages a minute (Exchange Online: "421 4.7.500 Server
#: busy", "452 4.5.3 ... too many messages"), or none more today ("554 5.2.0 ...
#: SubmissionQuotaExceededException"). A greylisting "try again later" alone is not it.
SLOW_DOWN = re.compile(
    r"\b4\.7\.500\b|server busy|too many (?:messages|mails|emails|connections|sessions|requests)"
    r"|rate limit|(?:message|sending|submission) rate|throttl|slow down"
    r"|(?:rate|limit)\s+(?:was\s+|has been\s+)?exceeded"
    r"|exceeded\s+(?:the\s+)?\S*\s*(?:rate|limit)\b"
    r"|SubmissionQuotaExceeded|sending quota",
    re.IGNORECASE,
)
#: The codes a slow-down comes with; anything else is an ordinary refusal.
SLOW_DOWN_CODES = frozenset({421, 450, 451, 452, 550, 554})


def is_slow_down(code: int, error: str) -> bool:
    """A relay's "slow down": a rate or quota refusal, not a refusal of the message."""
    return code in SLOW_DOWN_CODES and SLOW_DOWN.search(error) is not None


def _classified(row_id: int, code: int, error: str, *, recipient: bool = False) -> Outcome:
    if is_slow_down(code, error):
        return Outcome(row_id, "throttled", error)
    permanent = 500 <= code < 600
    return Outcome(row_id, "failed" if permanent else "deferred", error, permanent and recipient)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:500]


def transport_for(settings: Settings) -> Transport:
    """SMTP when a host is set; otherwise the local capture folder."""
    if settings.smtp_host:
        return SmtpTransport(settings)
    return CaptureTransport(settings.capture_dir)
