"""HTML to PDF/A-2b with WeasyPrint: fonts embedded, nothing fetched from outside."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

#: The print style every archival document shares: A4, a letter's margins, fonts that are
#: installed with LibreOffice and embedded by WeasyPrint (Liberation Sans has Arial's metrics).
BASE_CSS = """
@page { size: A4; margin: 2.2cm 2.2cm 2.4cm 2.2cm;
  @bottom-right { content: "Side " counter(page) " av " counter(pages);
    font: 8pt "Liberation Sans", "DejaVu Sans", sans-serif; color: #444; } }
html { font-family: "Liberation Sans", "DejaVu Sans", sans-serif !important; font-size: 10.5pt;
  line-height: 1.4; color: #000; }
body { margin: 0 !important; padding: 0 !important; max-width: none !important; }
h1 { font-size: 15pt; margin: 0 0 .6em; }
h2 { font-size: 12.5pt; margin: 1.2em 0 .4em; }
h3 { font-size: 11pt; margin: 1em 0 .3em; }
pre, code { font-family: "Liberation Mono", "DejaVu Sans Mono", monospace !important;
  font-size: 9pt; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; }
table { border-collapse: collapse; }
img { max-width: 100%; }
a { color: inherit; }
nav { display: none; }
"""


@dataclass(frozen=True)
class Meta:
    """What the PDF says about itself (XMP and the document information): the same every time
    for the same input, so a document rendered twice has the same bytes."""

    title: str
    author: str = ""
    created: datetime | None = None


class RenderError(Exception):
    """WeasyPrint could not make the PDF."""


def weasyprint_version() -> str:
    import weasyprint

    return f"WeasyPrint {weasyprint.__version__}"


@lru_cache(maxsize=1)
def _fetcher() -> Any:
    """A URL fetcher that refuses everything but inline data: a mail's HTML that points at a
    tracking pixel or a remote style sheet is rendered without it, and nothing is fetched."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, allow_redirects=False, timeout=1)


def html_to_pdfa(html: str, meta: Meta, *, css: str = "") -> bytes:
    """An HTML document as PDF/A-2b bytes (the document's own styles, then ours over them)."""
    from weasyprint import CSS, HTML

    head = _meta_tags(meta)
    document = html.replace("<head>", "<head>" + head, 1) if "<head>" in html else head + html
    try:
        pdf = HTML(string=document, url_fetcher=_fetcher(), base_url=None).write_pdf(
            stylesheets=[CSS(string=BASE_CSS + css)],
            pdf_variant="pdf/a-2b",
        )
    except Exception as exc:  # WeasyPrint raises many kinds; each is a failed conversion
        raise RenderError(f"{type(exc).__name__}: {exc}") from exc
    assert isinstance(pdf, bytes)
    return pdf


def _meta_tags(meta: Meta) -> str:
    from html import escape

    when = (meta.created or datetime(2000, 1, 1, tzinfo=UTC)).astimezone(UTC)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    tags = [
        f"<title>{escape(meta.title)}</title>",
        f'<meta name="dcterms.created" content="{stamp}">',
        f'<meta name="dcterms.modified" content="{stamp}">',
    ]
    if meta.author:
        tags.append(f'<meta name="author" content="{escape(meta.author)}">')
    return "".join(tags)
