"""Headers bounded before the mail parser reads them: its parameter parsing is quadratic."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

#: The standard parser's `_parseparam` is quadratic in the `;` of a header: 200,000 took 3.6 s.
#: Real headers are far below these bounds (a long To: list is some KB, a Content-Type has a
#: handful of parameters, a long file name in RFC 2231 pieces a few dozen).
MAX_HEADER_BYTES = 16 * 1024
MAX_PARAMETERS = 100

_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:")
_CONTENT = re.compile(rb"content-", re.IGNORECASE)


@dataclass
class _Header:
    name: str
    lines: list[bytes]
    top: bool  # in the message's own header block (not a MIME part's)

    @property
    def size(self) -> int:
        return sum(len(line) + 1 for line in self.lines)

    @property
    def semicolons(self) -> int:
        return sum(line.count(b";") for line in self.lines)


def _headers(raw: bytes) -> Iterator[_Header]:
    """Every header of the top-level block, and the Content-* headers further in (a MIME
    part's, whose parameters the parser reads); a line scan, linear in the message's size."""
    top = True
    current: _Header | None = None
    for line in raw.split(b"\n"):
        if current is not None and line[:1] in (b" ", b"\t"):
            current.lines.append(line)
            continue
        if current is not None:
            yield current
            current = None
        if not top and line[:8].lower() != b"content-":
            continue  # a body line (most of a big message): skipped without a regex
        if top and not line.strip(b"\r"):
            top = False
            continue
        match = _FIELD.match(line)
        if match and (top or _CONTENT.match(line)):
            current = _Header(match[1].decode("ascii", "replace"), [line], top)
    if current is not None:
        yield current


def _problem(item: _Header) -> str | None:
    if item.size > MAX_HEADER_BYTES:
        return (
            f"header too long: {item.name} has {item.size:,} bytes "
            f"(at most {MAX_HEADER_BYTES:,}); the message was not read"
        )
    if _CONTENT.match(item.name.encode()) and item.semicolons > MAX_PARAMETERS:
        return (
            f"header too long: {item.name} has {item.semicolons:,} parameters "
            f"(at most {MAX_PARAMETERS}); the message was not read"
        )
    return None


def too_long_header(raw: bytes) -> str | None:
    """Why the message must not be parsed (a header over the bounds), or None."""
    for item in _headers(raw):
        problem = _problem(item)
        if problem is not None:
            return problem
    return None


def strip_long_headers(raw: bytes) -> bytes:
    """The top-level header block without the headers over the bounds (to read who sent it)."""
    kept: list[bytes] = []
    for item in _headers(raw):
        if not item.top:
            break
        if _problem(item) is None:
            kept.extend(item.lines)
    return b"\n".join(kept) + b"\n\n"
