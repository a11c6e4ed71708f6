"""A Markdown or plain-text document (the assignment a process sends) as a PDF/A-2b letter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from innspill.pdfa.render import Meta, html_to_pdfa

_CSS = """
.letterhead { border-bottom: 1.5pt solid #000; padding-bottom: .4em; margin-bottom: 1.2em; }
.letterhead .org { font-size: 14pt; font-weight: bold; margin: 0; }
.letterhead .unit { margin: 0; }
table.refs { margin: 0 0 1.6em; font-size: 9.5pt; }
table.refs th { text-align: left; font-weight: normal; color: #333; padding: 0 1.2em 0 0; }
table.refs td { padding: 0 1.2em 0 0; }
.body p, .body li { orphans: 2; widows: 2; }
.body h1, .body h2, .body h3 { page-break-after: avoid; }
.body ul, .body ol { padding-left: 1.4em; }
.body li { margin-bottom: .3em; }
.plain p { white-space: pre-wrap; }
"""


@dataclass(frozen=True)
class Letterhead:
    """Who sends the document and under which reference; `fields` are label and value pairs
    (Vår referanse, Dato, Saksbehandler) shown under the organisation's name."""

    organisation: str
    unit: str
    fields: tuple[tuple[str, str], ...]


def markdown_html(text: str) -> str:
    """CommonMark (with tables) to HTML; HTML written in the Markdown is shown as text."""
    from markdown_it import MarkdownIt

    html: str = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return html


def plain_html(text: str) -> str:
    """Plain text to HTML: paragraphs at blank lines, line breaks kept."""
    paragraphs = [p.strip("\n") for p in text.replace("\r\n", "\n").split("\n\n")]
    return "".join(f"<p>{escape(p)}</p>" for p in paragraphs if p.strip())


def document_pdf(
    text: str,
    *,
    markdown: bool,
    letterhead: Letterhead,
    title: str,
    created: datetime | None = None,
) -> bytes:
    """The text as a PDF/A-2b document under the organisation's letterhead."""
    body = markdown_html(text) if markdown else plain_html(text)
    refs = "".join(
        f"<tr><th scope='row'>{escape(label)}</th><td>{escape(value)}</td></tr>"
        for label, value in letterhead.fields
        if value
    )
    unit = f"<p class='unit'>{escape(letterhead.unit)}</p>" if letterhead.unit else ""
    html = (
        f"<!DOCTYPE html><html lang='nb'><head><meta charset='utf-8'></head><body>"
        f"<header class='letterhead'><p class='org'>{escape(letterhead.organisation)}</p>"
        f"{unit}</header><table class='refs'>{refs}</table>"
        f"<main class='body{'' if markdown else ' plain'}'>{body}</main></body></html>"
    )
    meta = Meta(title=title, author=letterhead.organisation, created=created)
    return html_to_pdfa(html, meta, css=_CSS)
