"""A shape's MIME parts encoded once: the text and HTML parts' lines in quoted-printable, where
only the lines that hold a participant's value are encoded again for each message.

Quoted-printable encodes each line on its own (soft breaks and trailing spaces are decided
within the line), so a part is the encoded lines joined: the bytes are exactly those
`mime.build_message` writes, which tests/test_shapes.py checks message by message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import escape

from innspill.outbound.mime import part_head, qp_lines, text_part
from innspill.outbound.templates import Rendered

#: A message's text and HTML parts, encoded (head, body and the closing CRLF each).
Body = tuple[bytes, bytes]


def _lines(text: str) -> list[str]:
    """The text with CRLF line ends, cut after each line end."""
    crlf = text.replace("\r\n", "\n").replace("\n", "\r\n")
    lines = crlf.split("\r\n")
    out = [line + "\r\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


@dataclass(frozen=True)
class Part:
    """One text part: its lines encoded (runs of them as one), or (None, line) where a value
    is still to go in."""

    subtype: str
    lines: tuple[tuple[bytes | None, str], ...]
    escaped: bool  # HTML: values go in escaped

    @classmethod
    def of(cls, text: str, subtype: str, stand_ins: Iterable[str], *, escaped: bool) -> Part:
        marks = [str(escape(s)) if escaped else s for s in stand_ins]
        lines: list[tuple[bytes | None, str]] = []
        done: list[bytes] = []  # encoded lines in a row, kept as one
        for line in _lines(text):
            if any(m in line for m in marks):
                if done:
                    lines.append((b"".join(done), ""))
                    done = []
                lines.append((None, line))
            else:
                done.append(qp_lines(line))
        if done:
            lines.append((b"".join(done), ""))
        return cls(subtype, tuple(lines), escaped)

    def encode(self, pairs: Sequence[tuple[str, str]]) -> bytes:
        """The part with each (stand-in, value) put in: escaped ones for HTML."""
        out = [part_head(self.subtype)]
        for encoded, line in self.lines:
            if encoded is None:
                for stand_in, value in pairs:
                    line = line.replace(stand_in, value)
                encoded = qp_lines(line)
            out.append(encoded)
        out.append(b"\r\n")
        return b"".join(out)


@dataclass(frozen=True)
class Skeleton:
    """The text and HTML parts of a shape, encoded but for its stand-ins."""

    text: Part
    html: Part
    rendered: Rendered

    @classmethod
    def of(cls, rendered: Rendered, stand_ins: Iterable[str] = ()) -> Skeleton:
        marks = list(stand_ins)
        return cls(
            Part.of(rendered.text, "plain", marks, escaped=False),
            Part.of(rendered.html, "html", marks, escaped=True),
            rendered,
        )

    def body(
        self,
        pairs: Sequence[tuple[str, str]] = (),
        escaped: Sequence[tuple[str, str]] | None = None,
    ) -> Body:
        """The encoded parts with each (stand-in, value) put in; `escaped`: the same pairs
        escaped for HTML, when the caller has them already."""
        if escaped is None:
            escaped = [(str(escape(k)), str(escape(v))) for k, v in pairs]
        if any("\r" in v or "\n" in v for _, v in pairs):
            # a line break in a value would move the lines: encode the whole parts
            text, html = self.rendered.text, self.rendered.html
            for stand_in, value in pairs:
                text = text.replace(stand_in, value)
            for stand_in, value in escaped:
                html = html.replace(stand_in, value)
            return text_part(text, "plain"), text_part(html, "html")
        return self.text.encode(pairs), self.html.encode(escaped)
