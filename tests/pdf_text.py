"""The text of a PDF, read by pypdf: what a reader of the document sees, for assertions."""

from __future__ import annotations

import io

from pypdf import PdfReader


def pdf_text(data: bytes) -> str:
    """Every page's text, in order."""
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
