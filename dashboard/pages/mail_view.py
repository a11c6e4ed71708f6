"""A stored raw message (incoming or outgoing) made safe to show: bounded, inert, as text.

The pages never render a message's HTML live. Its HTML part is rebuilt by `inert_html` from
a short list of harmless tags with no attributes at all (no links, images, styles or scripts
survive; a link's address is shown as text), and that is served from its own route under
`Content-Security-Policy: sandbox; default-src 'none'` into an `<iframe sandbox>`: a unique
origin that can run nothing, load nothing (no tracking pixel tells the sender it was read),
submit nothing and navigate nothing. Either layer alone would make it inert; both are cheap.

Hostile mail is read with the intake's own bounds (innspill.inbound.bounds and .mimewalk):
headers over the bounds are not parsed, at most 200 parts and 20 levels are walked, the text
shown is cut at `MAX_TEXT_CHARS`; the whole message stays downloadable as .eml.
"""

from __future__ import annotations

import contextlib
import html
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from functools import lru_cache
from html.parser import HTMLParser

from innspill.i18n import _, current
from innspill.inbound.attachments import clean_filename
from innspill.inbound.bounds import strip_long_headers, too_long_header
from innspill.inbound.headers import header
from innspill.inbound.mimewalk import is_attachment, param_text, part_text, payload_bytes, walk

#: The headers a person needs to judge a message, in this order.
SHOWN_HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To")
MAX_HEADER_CHARS = 2_000
MAX_TEXT_CHARS = 100_000
MAX_HTML_CHARS = 500_000


@dataclass(frozen=True)
class Attachment:
    """A file part of a message: its place among the files (for the download link)."""

    index: int
    filename: str
    content_type: str
    size: int


@dataclass
class MailView:
    headers: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""
    html: str | None = None  # inert HTML (see `inert_html`), or None when there is no HTML part
    attachments: list[Attachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # Norwegian: what was not shown, and why
    size: int = 0


def _headers(msg: Message) -> list[tuple[str, str]]:
    out = []
    for name in SHOWN_HEADERS:
        value = header(msg, name)
        if value is not None:
            out.append((name, value[:MAX_HEADER_CHARS]))
    return out


def _head_only(raw: bytes, why: str) -> MailView:
    """The headers that are within bounds, and nothing else."""
    try:
        msg = BytesParser(policy=compat32).parsebytes(strip_long_headers(raw), headersonly=True)
        headers = _headers(msg)
    except Exception:
        headers = []
    return MailView(headers=headers, notes=[why], size=len(raw))


#: The standard parser is quadratic in nested multiparts (3,000 levels took 4 s): more
#: multipart containers than this and the body is not parsed at all. Real mail has a handful.
MAX_MULTIPARTS = 50
#: Parsing takes about 0.17 s per MB (a 15 MB message: 2.6 s); bigger ones show their headers.
MAX_PARSED_BYTES = 30 * 1024 * 1024


def _parsed(raw: bytes) -> tuple[Message | None, str]:
    if len(raw) > MAX_PARSED_BYTES:
        return None, _(
            "Meldingen er for stor til å vises her (%(mb)s MB); last ned hele meldingen (.eml).",
            mb=len(raw) // (1024 * 1024),
        )
    problem = too_long_header(raw)
    if problem is not None:
        return None, _("Meldingen er ikke lest: %(problem)s.", problem=problem)
    if raw.lower().count(b"multipart/") > MAX_MULTIPARTS:  # a cheap upper bound
        return None, _(
            "Meldingen er ikke lest: den har mer enn %(n)s MIME-beholdere "
            "(multipart) i hverandre eller etter hverandre.",
            n=MAX_MULTIPARTS,
        )
    try:
        return BytesParser(policy=compat32).parsebytes(raw), ""
    except Exception as exc:  # deep nesting (RecursionError) and other broken structure
        return None, _("Meldingen kunne ikke leses (%(error)s).", error=type(exc).__name__)


def _filename(part: Message, index: int) -> str:
    name = param_text(part, "filename", header_name="content-disposition") or param_text(
        part, "name"
    )
    # A calendar part has no name when it is the invitation itself (beside text and HTML, as
    # our meeting invitations and Outlook's replies have it): saved, it should open as one.
    suffix = ".ics" if part.get_content_type() == "text/calendar" else ""
    return clean_filename(name) or f"vedlegg-{index + 1}{suffix}"


def _leaves(msg: Message) -> tuple[list[Message], list[Message], list[Message], list[str]]:
    """The text parts, the HTML parts and the files, and notes on what was not walked."""
    parts = walk(msg)
    texts, htmls, files = [], [], []
    for part in parts.leaves:
        ctype = part.get_content_type()
        if is_attachment(part) or ctype == "message/rfc822":
            files.append(part)
        elif ctype == "text/html":
            htmls.append(part)
        elif ctype == "text/plain" or ctype.startswith("multipart/"):
            texts.append(part)  # a multipart here is one whose parts were not found
        else:
            files.append(part)  # e.g. an invitation's text/calendar
    notes = [_("Ikke lest: %(note)s.", note=note) for note in parts.notes]
    return texts, htmls, files, notes


def _size(part: Message) -> int:
    try:
        return len(payload_bytes(part))
    except Exception:
        return 0


@lru_cache(maxsize=2)  # the page, then its HTML frame: one parse of a big message
def view(raw: bytes) -> MailView:
    """What the message page shows; never raises for the message's content (not to be
    changed by the caller: it is cached)."""
    raw = bytes(raw)
    msg, why = _parsed(raw)
    if msg is None:
        return _head_only(raw, why)
    try:
        texts, htmls, files, notes = _leaves(msg)
        out = MailView(headers=_headers(msg), notes=notes, size=len(raw))
        if texts:
            out.text = _cut(part_text(texts[0]), MAX_TEXT_CHARS, out.notes, _("Teksten"))
        if htmls:
            source = _cut(part_text(htmls[0]), MAX_HTML_CHARS, out.notes, _("HTML-delen"))
            out.html = inert_html(source)
        out.attachments = [
            Attachment(
                index=i,
                filename=_filename(part, i),
                content_type=part.get_content_type()[:120],
                size=_size(part),
            )
            for i, part in enumerate(files)
        ]
        return out
    except Exception as exc:  # one broken part does not lose the rest: headers and .eml
        return _head_only(
            raw, _("Meldingen kunne ikke leses (%(error)s).", error=type(exc).__name__)
        )


def _cut(text: str, limit: int, notes: list[str], what: str) -> str:
    if len(text) <= limit:
        return text
    notes.append(
        _(
            "%(what)s er kortet ned til %(limit)s av %(length)s tegn. Last ned hele meldingen "
            "(.eml) for resten.",
            what=what,
            limit=format(limit, ",").replace(",", " "),
            length=format(len(text), ",").replace(",", " "),
        )
    )
    return text[:limit]


def attachment(raw: bytes, index: int) -> tuple[str, bytes] | None:
    """The file name and bytes of the message's `index`th file, or None."""
    msg, _problem = _parsed(bytes(raw))
    if msg is None or index < 0:
        return None
    _texts, _htmls, files, _notes = _leaves(msg)
    if index >= len(files):
        return None
    part = files[index]
    return _filename(part, index), payload_bytes(part)


# --- inert HTML -------------------------------------------------------------------------------

#: Tags kept (without any attribute): structure and emphasis only.
_KEPT = frozenset(
    [
        "p",
        "br",
        "div",
        "span",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "s",
        "small",
        "sub",
        "sup",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "td",
        "th",
        "caption",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "code",
        "hr",
    ]
)
_VOID = frozenset({"br", "hr"})
#: Elements dropped with everything inside them.
_DROPPED = frozenset(
    [
        "script",
        "style",
        "head",
        "title",
        "template",
        "iframe",
        "object",
        "embed",
        "noscript",
        "svg",
        "math",
        "textarea",
        "select",
        "frameset",
        "frame",
        "applet",
        "noembed",
        "noframes",
        "xmp",
        "plaintext",
    ]
)
_SHOWN_SCHEMES = ("http://", "https://", "mailto:")


class _Inert(HTMLParser):
    """Rebuilds the HTML from parsed tokens: every text escaped, only `_KEPT` tags, no
    attributes; the output cannot hold markup the input smuggled in."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.dropping: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.dropping:
            if tag == self.dropping[-1]:
                self.dropping.append(tag)
            return
        if tag in _DROPPED:
            self.dropping.append(tag)
            return
        if tag == "a":
            href = next((v or "" for k, v in attrs if k == "href"), "").strip()
            self.links.append(href if href.lower().startswith(_SHOWN_SCHEMES) else "")
            return
        if tag in _KEPT:
            self.out.append(f"<{tag}>")
            if tag not in _VOID:
                self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.dropping and tag in _VOID:
            self.out.append(f"<{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if self.dropping:
            if tag == self.dropping[-1]:
                self.dropping.pop()
            return
        if tag == "a" and self.links:
            href = self.links.pop()
            if href:
                self.out.append(f" [{html.escape(href[:500])}]")
            return
        if tag in self.open:
            while self.open:
                top = self.open.pop()
                self.out.append(f"</{top}>")
                if top == tag:
                    break

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(html.escape(data))


def inert_html(source: str) -> str:
    """The HTML's text and plain structure, as a document that can run and load nothing."""
    parser = _Inert()
    with contextlib.suppress(Exception):  # it gave up: what was rebuilt is still escaped
        parser.feed(source)
        parser.close()
    body = "".join(parser.out) + "".join(f"</{t}>" for t in reversed(parser.open))
    return (
        f'<!doctype html><html lang="{current()}"><head><meta charset="utf-8">'
        f"<title>{_('HTML-delen av meldingen')}</title></head><body>" + body + "</body></html>"
    )
