"""Build the MIME message that is stored in the outbox and sent byte for byte."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import Header, decode_header
from email.utils import format_datetime, formataddr
from functools import lru_cache
from urllib.parse import quote

from innspill.errors import HeaderInjection
from innspill.process.workdays import OSLO

CRLF = "\r\n"


def check_header(name: str, value: str) -> str:
    """Refuse a header value with a line break, literal or hidden in an encoded word."""
    if "\r" in value or "\n" in value or "\x00" in value:
        raise HeaderInjection(f"header {name} contains a line break: {value!r}")
    if "=?" in value:
        try:
            parts = decode_header(value)
        except Exception as exc:  # a malformed encoded word is refused, not guessed at
            raise HeaderInjection(f"header {name} has a malformed encoded word: {value!r}") from exc
        for chunk, charset in parts:
            text = (
                chunk.decode(charset or "ascii", "replace") if isinstance(chunk, bytes) else chunk
            )
            if any(ch in text for ch in "\r\n\x00"):
                raise HeaderInjection(
                    f"header {name} hides a line break in an encoded word: {value!r}"
                )
    return value


def message_id_for(key: str, domain: str) -> str:
    """A Message-ID derived from the natural key: the same on every retry and after a crash."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<innspill.{digest}@{domain}>"


@dataclass(frozen=True)
class Attachment:
    """A file carried by a message. `params` go on its Content-Type (e.g. method=REQUEST).

    `alternative`: not a file but another rendering of the message beside the text and the
    HTML, in the multipart/alternative: the `text/calendar; method=REQUEST` part of a meeting
    invitation (iMIP, RFC 6047), which is what mail programs show with accept and decline.
    """

    filename: str
    content_type: str
    data: bytes
    params: tuple[tuple[str, str], ...] = ()
    alternative: bool = False


def encoded_words(value: str) -> str:
    """RFC 2047 base64 words of at most 75 characters, never splitting a character."""
    # Cut the UTF-8 bytes, not the characters: a loop over characters was most of the cost
    # of building a message with a non-ASCII subject.
    data = value.encode("utf-8")
    words: list[bytes] = []
    start = 0
    while start < len(data):
        end = min(start + 45, len(data))  # 45 bytes -> 60 base64 characters, inside 75
        while end < len(data) and data[end] & 0xC0 == 0x80:  # inside a character: back off
            end -= 1
        words.append(data[start:end])
        start = end
    return CRLF.join(
        f" =?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words or [b""]
    ).lstrip()


@lru_cache(maxsize=1024)  # most headers are the same in every message of a tick
def _header(name: str, value: str) -> bytes:
    # Written out directly: EmailMessage's header registry, and even email.header.Header,
    # cost more than rendering the templates (most of a tick for a large round).
    # The caller has checked the raw value; an encoded one may be folded over lines.
    if value.isascii() and len(name) + len(value) < 996:
        return f"{name}: {value}\r\n".encode("ascii")
    if value.isascii():
        encoded = Header(value, "us-ascii", header_name=name).encode(linesep=CRLF)
        return f"{name}: {encoded}\r\n".encode("ascii")
    return f"{name}: {encoded_words(value)}\r\n".encode("ascii")


@lru_cache(maxsize=64)
def _date(date: datetime) -> str:
    """The Date header's value: a tick dates all its messages alike."""
    return format_datetime(date.astimezone(OSLO))


@lru_cache(maxsize=1024)
def _address(name: str, address: str) -> str:
    # One encoded word for the whole name, as the standard library writes it: parsers insert
    # spaces between several words in a display name.
    return formataddr((name, address), charset="utf-8")


def qp_lines(text: str) -> bytes:
    """Text with CRLF line ends in quoted-printable, with CRLF line ends."""
    # b2a_qp (C) is ten times faster than email.quoprimime; its soft breaks follow the input's
    # line endings, bare LF when it has none, so they are made CRLF afterwards.
    body = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True, header=False)
    return body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@lru_cache(maxsize=16)
def part_head(subtype: str) -> bytes:
    """The head of a text part in quoted-printable UTF-8."""
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii")


def text_part(text: str, subtype: str) -> bytes:
    """A text part: head, the text in quoted-printable, and a closing CRLF."""
    return part_head(subtype) + qp_lines(text.replace("\r\n", "\n").replace("\n", "\r\n")) + b"\r\n"


def _attachment_part(item: Attachment) -> bytes:
    params = "".join(f"; {k}={v}" for k, v in item.params)
    check_header("filename", item.filename)
    if item.filename.isascii():
        name = f'"{item.filename}"'
        disposition = f"filename={name}"
    else:
        # RFC 2231 (filename*=utf-8''...), which the standard prefers, and an RFC 2047 name
        # on Content-Type for the mail programs that read only that.
        name = f'"{encoded_words(item.filename)}"'
        disposition = "filename*=utf-8''" + quote(item.filename, safe="")
    head = (
        f"Content-Type: {item.content_type}{params}; name={name}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f"Content-Disposition: attachment; {disposition}\r\n\r\n"
    )
    return head.encode("ascii") + base64.encodebytes(item.data).replace(b"\n", b"\r\n")


def _alternative_part(item: Attachment) -> bytes:
    """A body part beside the text and HTML (no file name, no disposition), in base64 as
    Outlook sends its own: a calendar's lines are UTF-8 and may be long."""
    params = "".join(f"; {k}={v}" for k, v in item.params)
    head = f"Content-Type: {item.content_type}{params}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    return head.encode("ascii") + base64.encodebytes(item.data).replace(b"\n", b"\r\n")


def _multipart(subtype: str, boundary: str, parts: list[bytes]) -> bytes:
    out = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()]
    for part in parts:
        out += [f"--{boundary}\r\n".encode(), part]
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def build_message(
    *,
    sender_name: str,
    sender_address: str,
    recipient_name: str,
    recipient_address: str,
    reply_to: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: datetime,
    extra_headers: dict[str, str] | None = None,
    attachments: Sequence[Attachment] = (),
    body: tuple[bytes, bytes] | None = None,
    encoded: dict[Attachment, bytes] | None = None,
) -> bytes:
    """The message as bytes with CRLF: text and HTML (and any alternative part, such as a
    calendar invitation) as alternatives, then any attachments.

    Boundaries derive from the Message-ID, so the same message always has the same bytes.
    `body` is the text and HTML parts already encoded (outbound.skeleton: `text` and `html`
    are then only checked), and `encoded` remembers each attachment's part across messages.
    """
    for label, raw_value in (
        ("From", sender_name),
        ("From", sender_address),
        ("To", recipient_name),
        ("To", recipient_address),
        ("Reply-To", reply_to),
        ("Subject", subject),
        ("Message-ID", message_id),
        *(extra_headers or {}).items(),
    ):
        check_header(label, raw_value)
    headers = {
        "From": _address(sender_name, sender_address),
        "To": _address(recipient_name, recipient_address),
        "Reply-To": reply_to,
        "Subject": subject,
        "Date": _date(date),
        "Message-ID": message_id,
        "MIME-Version": "1.0",
        "Auto-Submitted": "auto-generated",
        **(extra_headers or {}),
    }
    head = b"".join(_header(name, value) for name, value in headers.items())
    seed = hashlib.sha256(message_id.encode()).hexdigest()[:24]
    # The richest rendering comes last in a multipart/alternative (RFC 2046 5.1.4): the
    # calendar part after the HTML, as Outlook and Google Calendar send an invitation.
    text_bytes, html_bytes = body or (text_part(text, "plain"), text_part(html, "html"))
    alternative = _multipart(
        "alternative",
        f"=_alt_{seed}",
        [
            text_bytes,
            html_bytes,
            *(_alternative_part(a) for a in attachments if a.alternative),
        ],
    )
    files = [a for a in attachments if not a.alternative]
    if files:
        parts = [_cached(a, encoded) for a in files]
        return head + _multipart("mixed", f"=_mix_{seed}", [alternative, *parts])
    return head + alternative


def _cached(item: Attachment, encoded: dict[Attachment, bytes] | None) -> bytes:
    """The attachment's part, encoded once per batch: the same file goes to every participant
    (the dictionary hashes its bytes once, and finds the same bytes object by identity)."""
    if encoded is None:
        return _attachment_part(item)
    part = encoded.get(item)
    if part is None:
        part = encoded[item] = _attachment_part(item)
    return part
