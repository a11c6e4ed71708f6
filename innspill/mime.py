"""Build the MIME message that is stored in the outbox and sent byte for byte."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.header import decode_header
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from innspill.errors import HeaderInjection


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
) -> bytes:
    """A multipart/alternative message (text first, HTML second) as bytes with CRLF."""
    message = EmailMessage(policy=SMTP)
    headers = {
        "From": formataddr((sender_name, sender_address)),
        "To": formataddr((recipient_name, recipient_address)),
        "Reply-To": reply_to,
        "Subject": subject,
        "Date": format_datetime(date),
        "Message-ID": message_id,
        "Auto-Submitted": "auto-generated",
        **(extra_headers or {}),
    }
    for name, value in headers.items():
        message[name] = check_header(name, value)
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message.as_bytes()
