"""Parse and classify one raw incoming message: pure, no database and no network.

A reply is matched by a token that we put in the Reply-To address (``local+TOKEN@domain``) and
in the subject (``[ref:TOKEN]``); never by its From header. Bounces (DSN) and auto-replies are
recognised first, so that they are never taken for answers nor answered. `parse_mail` never
raises: whatever goes wrong gives UNPARSABLE with the reason, and the caller keeps the raw bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from enum import StrEnum

from innspill.inbound.attachments import ALLOWED_TYPES, InboundFile, accept
from innspill.inbound.bounds import strip_long_headers, too_long_header
from innspill.inbound.classify import auto_reply, bounce
from innspill.inbound.headers import addresses, decode_header_value, header, raw_headers
from innspill.inbound.itip import CalendarPart, calendar_part
from innspill.inbound.mimewalk import Walk, is_attachment, part_text, walk
from innspill.inbound.text import html_to_text, reply_text
from innspill.tokens import TOKEN_PATTERN

__all__ = ["ALLOWED_TYPES", "InboundFile", "InboundKind", "ParsedMail", "parse_mail"]


class InboundKind(StrEnum):
    ANSWER = "answer"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    CALENDAR = "calendar"  # an attendee's calendar message (iTIP REPLY, COUNTER, ...)
    NO_TOKEN = "no_token"  # noqa: S105
    UNPARSABLE = "unparsable"


@dataclass(frozen=True)
class ParsedMail:
    kind: InboundKind
    reason: str
    tokens: tuple[str, ...] = ()
    message_id: str | None = None
    sender: str = ""
    subject: str = ""
    text: str = ""
    files: tuple[InboundFile, ...] = ()
    rejected_files: tuple[str, ...] = ()
    bounced_recipients: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the parser could not read (shown when it is held)
    calendar: CalendarPart | None = None  # with kind CALENDAR: its method, event and attendees


# --------------------------------------------------------------------------- tokens

_PLUS = re.compile(r"\+([^+@\s]+)@[^@\s]+\Z")
_REF = re.compile(r"\[\s*ref\s*:\s*([^\]\s]+)\s*\]", re.IGNORECASE)
_ADDRESS_HEADERS = ("Delivered-To", "X-Original-To", "To", "Cc")


def _our_token(candidate: str) -> str | None:
    candidate = candidate.lower()
    return candidate if TOKEN_PATTERN.fullmatch(candidate) else None


def _tokens(msg: Message, subject: str) -> tuple[str, ...]:
    found: list[str] = []
    for name in _ADDRESS_HEADERS:
        for address in addresses(raw_headers(msg, name)):
            match = _PLUS.search(address)
            token = _our_token(match.group(1)) if match else None
            if token:
                found.append(token)
    for match in _REF.finditer(subject):
        token = _our_token(match.group(1))
        if token:
            found.append(token)
    return tuple(dict.fromkeys(found))


# --------------------------------------------------------------------------- the entry point


def parse_mail(
    raw: bytes,
    *,
    allowed_types: frozenset[str] = ALLOWED_TYPES,
    max_file_bytes: int = 10 * 1024 * 1024,
    max_files: int = 10,
) -> ParsedMail:
    """Parse and classify one raw message. Never raises."""
    try:
        return _parse(
            raw, allowed_types=allowed_types, max_file_bytes=max_file_bytes, max_files=max_files
        )
    except Exception as exc:
        return _unparsable(raw, f"{type(exc).__name__}: {exc}"[:500])


def _unparsable(raw: bytes, reason: str, notes: tuple[str, ...] = ()) -> ParsedMail:
    """UNPARSABLE with what the headers alone still say: whose it may be, for the holding queue."""
    try:
        # Headers over the bound are left out: reading them is what took seconds.
        head = strip_long_headers(bytes(raw))
        msg = BytesParser(policy=compat32).parsebytes(head, headersonly=True)
        subject = header(msg, "Subject") or ""
        senders = addresses(raw_headers(msg, "From"))
        return ParsedMail(
            kind=InboundKind.UNPARSABLE,
            reason=reason,
            tokens=_tokens(msg, subject),
            message_id=header(msg, "Message-ID"),
            sender=senders[0] if senders else "",
            subject=subject,
            notes=notes or (reason,),
        )
    except Exception:
        return ParsedMail(kind=InboundKind.UNPARSABLE, reason=reason, notes=notes or (reason,))


@dataclass(frozen=True)
class _Envelope:
    """Who sent it, about what, and the tokens it carries."""

    subject: str
    sender: str
    message_id: str | None
    tokens: tuple[str, ...]


def _envelope(msg: Message) -> _Envelope:
    subject = header(msg, "Subject") or ""
    from_values = raw_headers(msg, "From")
    from_addresses = addresses(from_values)
    sender = from_addresses[0] if from_addresses else decode_header_value(" ".join(from_values))
    message_id_value = header(msg, "Message-ID")
    message_id = None
    if message_id_value:
        bracketed = re.search(r"<[^<>\s]+>", message_id_value)
        message_id = bracketed.group(0) if bracketed else message_id_value.split()[0]
    return _Envelope(subject, sender, message_id, _tokens(msg, subject))


@dataclass
class _Leaves:
    """The leaf parts sorted: the first plain and HTML bodies, a broken multipart, the files."""

    plain: Message | None = None
    html: Message | None = None
    broken: Message | None = None
    attachments: list[Message] = field(default_factory=list)


def _sort(leaves: list[Message]) -> _Leaves:
    out = _Leaves()
    for part in leaves:
        ctype = part.get_content_type()
        if is_attachment(part):
            if _inline_image(part):
                continue  # an image embedded in the HTML (a logo in a signature)
            out.attachments.append(part)
        elif ctype == "text/plain" and out.plain is None:
            out.plain = part
        elif ctype == "text/html" and out.html is None:
            out.html = part
        elif ctype.startswith("multipart/") and out.broken is None:
            out.broken = part
    return out


def _inline_image(part: Message) -> bool:
    disposition = (header(part, "Content-Disposition") or "").lower()
    return (
        part.get_content_type().startswith("image/")
        and bool(part.get("Content-ID"))
        and not disposition.startswith("attachment")
    )


def _files(
    attachments: list[Message],
    *,
    allowed_types: frozenset[str],
    max_file_bytes: int,
    max_files: int,
) -> tuple[list[InboundFile], list[str]]:
    """The files accepted, and a line for each one refused saying why."""
    files: list[InboundFile] = []
    rejected: list[str] = []
    for part in attachments:
        try:
            accepted, why = accept(
                part,
                allowed_types=allowed_types,
                max_file_bytes=max_file_bytes,
                max_files=max_files,
                accepted=len(files),
            )
        except Exception as exc:  # one unreadable attachment does not lose the message
            accepted, why = None, f"(attachment): could not be read ({type(exc).__name__})"
        if accepted is not None:
            files.append(accepted)
        if why is not None:
            rejected.append(why)
    return files, rejected


def _body(leaves: _Leaves) -> str:
    """The message's text: the plain part, else the HTML part as text, else a broken part."""
    if leaves.plain is not None:
        return part_text(leaves.plain)
    if leaves.html is not None:
        return html_to_text(part_text(leaves.html))
    if leaves.broken is not None:
        return part_text(leaves.broken)
    return ""


def _classify(
    msg: Message, parts: Walk, *, envelope: _Envelope, body: str, calendar: CalendarPart | None
) -> tuple[InboundKind, str, list[str]]:
    """Bounce first, then a calendar reply, then auto-reply, so that none is taken for an
    answer (a calendar reply's text, "Godtatt: ...", is the client's, not the participant's)."""
    found = bounce(msg, parts, sender=envelope.sender, text=body)
    if found is not None:
        return InboundKind.BOUNCE, found[0], found[1]
    if calendar is not None:
        return InboundKind.CALENDAR, f"calendar {calendar.method}", []
    auto = auto_reply(msg, envelope.subject)
    if auto is not None:
        return InboundKind.AUTO_REPLY, auto, []
    if envelope.tokens:
        return InboundKind.ANSWER, "answer with token", []
    return InboundKind.NO_TOKEN, "no token in the recipient address or subject", []


def _parse(
    raw: bytes, *, allowed_types: frozenset[str], max_file_bytes: int, max_files: int
) -> ParsedMail:
    raw = bytes(raw)
    if not raw.strip():
        return ParsedMail(kind=InboundKind.UNPARSABLE, reason="empty message")
    long_header = too_long_header(raw)
    if long_header is not None:
        return _unparsable(raw, f"held: {long_header}", (long_header,))
    msg = BytesParser(policy=compat32).parsebytes(raw)
    if not msg.keys():
        return ParsedMail(kind=InboundKind.UNPARSABLE, reason="no headers: not a mail message")
    envelope = _envelope(msg)
    parts = walk(msg)
    leaves = _sort(parts.leaves)
    files, rejected = _files(
        leaves.attachments,
        allowed_types=allowed_types,
        max_file_bytes=max_file_bytes,
        max_files=max_files,
    )
    body = _body(leaves)
    if parts.cut:
        # A fragment of a message is not its answer: held, with what was not read.
        return ParsedMail(
            kind=InboundKind.UNPARSABLE,
            reason="held: " + "; ".join(parts.notes),
            tokens=envelope.tokens,
            message_id=envelope.message_id,
            sender=envelope.sender,
            subject=envelope.subject,
            notes=tuple(parts.notes),
        )
    calendar, calendar_notes = calendar_part(parts.leaves)
    parts.notes.extend(calendar_notes)
    kind, why, recipients = _classify(msg, parts, envelope=envelope, body=body, calendar=calendar)
    return ParsedMail(
        kind=kind,
        reason="; ".join([why, *parts.notes]),
        tokens=envelope.tokens,
        message_id=envelope.message_id,
        sender=envelope.sender,
        subject=envelope.subject,
        text=reply_text(body),
        files=tuple(files),
        rejected_files=tuple(rejected),
        bounced_recipients=tuple(recipients),
        notes=tuple(parts.notes),
        calendar=calendar,
    )
