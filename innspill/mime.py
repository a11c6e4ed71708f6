"""Build the MIME message that is stored in the outbox and sent byte for byte."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import Header, decode_header
from email.quoprimime import body_encode
from email.utils import format_datetime, formataddr

from innspill.errors import HeaderInjection
from innspill.workdays import OSLO

CRLF = "\r\n"


def check_header(name: str, value: str) -> str:
    """Refuse a header value with a line break, literal or hidden in an encoded word."""
    if any(ch in value for ch in "\r\n\x00"):
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
    """A file carried by a message. `params` go on its Content-Type (e.g. method=REQUEST)."""

    filename: str
    content_type: str
    data: bytes
    params: tuple[tuple[str, str], ...] = ()


def _header(name: str, value: str) -> bytes:
    # Header() folds long values and encodes non-ASCII as RFC 2047 words; far cheaper than
    # EmailMessage's header registry, which dominated the time of a tick.
    check_header(name, value)
    encoded = Header(value, "utf-8" if not value.isascii() else "us-ascii", header_name=name)
    return f"{name}: {encoded.encode(linesep=CRLF)}".encode("ascii") + b"\r\n"


def _address(name: str, address: str) -> str:
    return formataddr((name, address), charset="utf-8")


def _text_part(text: str, subtype: str) -> bytes:
    body = body_encode(text.encode("utf-8").decode("latin-1"), maxlinelen=76, eol=CRLF)
    return (
        (
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode("ascii")
        + body.encode("ascii")
        + b"\r\n"
    )


def _attachment_part(item: Attachment) -> bytes:
    params = "".join(f"; {k}={v}" for k, v in item.params)
    name = Header(item.filename, "utf-8").encode() if not item.filename.isascii() else item.filename
    check_header("filename", item.filename)
    head = (
        f'Content-Type: {item.content_type}{params}; name="{name}"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="{name}"\r\n\r\n'
    )
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
) -> bytes:
    """The message as bytes with CRLF: text and HTML as alternatives, then any attachments.

    Boundaries derive from the Message-ID, so the same message always has the same bytes.
    """
    headers = {
        "From": _address(sender_name, sender_address),
        "To": _address(recipient_name, recipient_address),
        "Reply-To": reply_to,
        "Subject": subject,
        "Date": format_datetime(date.astimezone(OSLO)),
        "Message-ID": message_id,
        "MIME-Version": "1.0",
        "Auto-Submitted": "auto-generated",
        **(extra_headers or {}),
    }
    head = b"".join(_header(name, value) for name, value in headers.items())
    seed = hashlib.sha256(message_id.encode()).hexdigest()[:24]
    body = _multipart(
        "alternative", f"=_alt_{seed}", [_text_part(text, "plain"), _text_part(html, "html")]
    )
    if attachments:
        body = _multipart(
            "mixed", f"=_mix_{seed}", [body, *(_attachment_part(a) for a in attachments)]
        )
    return head + body
