"""The MIME tree of an incoming message walked without recursion, bounded in depth and parts."""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.utils import collapse_rfc2231_value

from innspill.inbound.headers import decode_bytes, decode_header_value, header

MAX_DEPTH = 20
MAX_PARTS = 200


@dataclass
class Walk:
    leaves: list[Message] = field(default_factory=list)
    delivery_status: list[Message] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    parts: int = 0
    # The structure was not read whole (parts cut, too deep, a multipart's boundary not
    # found): what was read may be a fragment, so the message is held, never an answer.
    cut: bool = False


#: Defects of the standard parser that mean the parts of a multipart were not found (or the
#: headers that say where they are), and the notes they give; an unterminated last part
#: (CloseBoundaryNotFound) is read whole.
_CUT_DEFECTS = {
    "NoBoundaryInMultipartDefect": "broken MIME: a multipart without a boundary",
    "StartBoundaryNotFoundDefect": "broken MIME: a multipart boundary never starts",
    "MissingHeaderBodySeparatorDefect": (
        "a header the parser gave up on (a line without a colon): the headers after it "
        "were read as text"
    ),
}
_DEFECTS = {
    **_CUT_DEFECTS,
    "CloseBoundaryNotFoundDefect": "broken MIME: an unterminated multipart",
}


def walk(msg: Message) -> Walk:
    walk = Walk()
    stack: list[tuple[Message, int]] = [(msg, 0)]
    deep = False
    while stack:
        part, depth = stack.pop()
        if walk.parts >= MAX_PARTS:
            walk.notes.append(f"more than {MAX_PARTS} MIME parts; the rest was not read")
            walk.cut = True
            break
        walk.parts += 1
        _plain_charset(part)
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            walk.delivery_status.append(part)
            continue
        if ctype == "message/rfc822" or not part.is_multipart():
            walk.leaves.append(part)
            continue
        if depth >= MAX_DEPTH:
            deep = True
            continue
        children = part.get_payload()
        if isinstance(children, list):
            stack.extend((c, depth + 1) for c in reversed(children) if isinstance(c, Message))
    if deep:
        walk.notes.append(f"MIME nested deeper than {MAX_DEPTH} levels; the rest was not read")
        walk.cut = True
    for part in _messages(msg, walk.parts):
        for defect in getattr(part, "defects", ()):
            name = type(defect).__name__
            note = _DEFECTS.get(name)
            if note and note not in walk.notes:
                walk.notes.append(note)
            walk.cut = walk.cut or name in _CUT_DEFECTS
    return walk


def _plain_charset(part: Message) -> None:
    """An RFC 2231 charset (charset*=utf-8''utf-8) made plain: the standard parser passes the
    (charset, language, value) tuple to bytes.decode and fails on 8-bit text otherwise."""
    raw = part.get_param("charset")
    if isinstance(raw, tuple):
        charset = collapse_rfc2231_value(raw).strip() or "utf-8"
        part.del_param("charset")
        part.set_param("charset", charset)


def _messages(msg: Message, limit: int) -> Iterator[Message]:
    """The first `limit` parts, breadth first, without recursion."""
    queue = [(msg, 0)]
    seen = 0
    while queue and seen < limit:
        part, depth = queue.pop(0)
        seen += 1
        yield part
        payload = part.get_payload()
        if depth < MAX_DEPTH and isinstance(payload, list):
            queue.extend((c, depth + 1) for c in payload if isinstance(c, Message))


def param_text(part: Message, name: str, *, header_name: str = "content-type") -> str:
    """A parameter as text (RFC 2231 and encoded words decoded), "" when absent or empty."""
    raw = part.get_param(name, header=header_name)
    if raw is None:
        return ""
    value = collapse_rfc2231_value(raw) if isinstance(raw, tuple) else str(raw)
    return decode_header_value(value).strip()


def is_attachment(part: Message) -> bool:
    disposition = (header(part, "Content-Disposition") or "").split(";", 1)[0].strip().lower()
    if disposition == "attachment":
        return True
    # Only a file name that says something makes a file: a text part whose RFC 2231
    # parameters decode to nothing (filename*=utf-8'') is the text of the reply.
    if param_text(part, "filename", header_name="content-disposition"):
        return True
    if param_text(part, "name"):
        # A text part named only in Content-Type, not marked as an attachment, is a body
        # (mail programs add name*= to the text they send); other types are files.
        return not part.get_content_type().startswith("text/")
    ctype = part.get_content_type()
    return not (ctype.startswith(("text/", "multipart/")) or ctype == "message/delivery-status")


_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def _lenient_base64(payload: str) -> bytes:
    """Broken base64 (stray characters, a cut last group) decoded as far as it goes; the
    standard parser hands back the undecoded text instead, which became the answer's text."""
    data = _NOT_BASE64.sub(b"", payload.encode("ascii", "ignore"))
    return binascii.a2b_base64(data[: len(data) - len(data) % 4])


def payload_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, str) and part.get("Content-Transfer-Encoding", "").strip().lower() == (
        "base64"
    ):
        try:
            return binascii.a2b_base64(payload.encode("ascii"), strict_mode=False)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            return _lenient_base64(payload)
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def part_text(part: Message) -> str:
    try:
        charset = part.get_content_charset()
    except Exception:  # a mangled charset parameter: guessed from the bytes
        charset = None
    return decode_bytes(payload_bytes(part), charset)
