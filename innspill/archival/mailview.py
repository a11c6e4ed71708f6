"""A stored mail (as sent, or as received) read for its letter page: pure, no network."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

from innspill.inbound.headers import decode_header_value, header, raw_headers
from innspill.inbound.mimewalk import is_attachment, param_text, part_text, payload_bytes, walk


@dataclass(frozen=True)
class MailFile:
    """A file the mail carries: its name, type, size and SHA-256 (the export finds the file's
    own archival copy by it)."""

    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass
class MailView:
    sender: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    date: datetime | None = None
    subject: str = ""
    message_id: str = ""
    text: str | None = None  # the plain text part
    html: str | None = None  # the HTML part, when there is no plain text (not yet made safe)
    files: list[MailFile] = field(default_factory=list)


def read_mail(raw: bytes) -> MailView:
    """The headers, the text (or HTML) and the files of a raw RFC 5322 message."""
    msg = BytesParser(policy=compat32).parsebytes(bytes(raw))
    view = MailView(
        sender=", ".join(_people(msg, "From")),
        to=_people(msg, "To"),
        cc=_people(msg, "Cc"),
        date=_date(header(msg, "Date")),
        subject=header(msg, "Subject") or "",
        message_id=header(msg, "Message-ID") or "",
    )
    for part in walk(msg).leaves:
        ctype = part.get_content_type()
        if is_attachment(part):
            view.files.append(_file(part))
        elif ctype == "text/plain" and view.text is None:
            view.text = part_text(part)
        elif ctype == "text/html" and view.html is None:
            view.html = part_text(part)
    return view


def _people(msg: Message, name: str) -> list[str]:
    """Each address of a header as `Name <address>` (or the address alone)."""
    values = raw_headers(msg, name)
    try:
        pairs = getaddresses(values)
    except Exception:  # a mangled list: shown as it is
        return [decode_header_value(v) for v in values if v.strip()]
    out = []
    for display, address in pairs:
        display = decode_header_value(display)
        if address:
            out.append(f"{display} <{address}>" if display else address)
        elif display:
            out.append(display)
    return out


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else None


def _file(part: Message) -> MailFile:
    data = payload_bytes(part)
    name = param_text(part, "filename", header_name="content-disposition") or param_text(
        part, "name"
    )
    return MailFile(
        filename=name or "(uten navn)",
        content_type=part.get_content_type(),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
