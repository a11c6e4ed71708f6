"""The MIME tree of an incoming message walked without recursion, bounded in depth and parts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message

from innspill.inbound.headers import decode_bytes, header

MAX_DEPTH = 20
MAX_PARTS = 200


@dataclass
class Walk:
    leaves: list[Message] = field(default_factory=list)
    delivery_status: list[Message] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    parts: int = 0


def walk(msg: Message) -> Walk:
    walk = Walk()
    stack: list[tuple[Message, int]] = [(msg, 0)]
    deep = False
    while stack:
        part, depth = stack.pop()
        if walk.parts >= MAX_PARTS:
            walk.notes.append(f"more than {MAX_PARTS} MIME parts; the rest was not read")
            break
        walk.parts += 1
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
    for part in _messages(msg, walk.parts):
        for defect in getattr(part, "defects", ()):
            note = {
                "NoBoundaryInMultipartDefect": "broken MIME: a multipart without a boundary",
                "StartBoundaryNotFoundDefect": "broken MIME: a multipart boundary never starts",
                "CloseBoundaryNotFoundDefect": "broken MIME: an unterminated multipart",
            }.get(type(defect).__name__)
            if note and note not in walk.notes:
                walk.notes.append(note)
    return walk


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


def is_attachment(part: Message) -> bool:
    disposition = (header(part, "Content-Disposition") or "").split(";", 1)[0].strip().lower()
    if disposition == "attachment" or part.get_param("filename", header="content-disposition"):
        return True
    if part.get_param("name"):
        return not part.get_content_type().startswith("text/") or disposition != "inline"
    ctype = part.get_content_type()
    return not (ctype.startswith(("text/", "multipart/")) or ctype == "message/delivery-status")


def payload_bytes(part: Message) -> bytes:
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
