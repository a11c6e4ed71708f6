"""The compilation (sammenstilling) of answers theme by theme, as a DOCX and an HTML page."""

from __future__ import annotations

from innspill.documents.docx_writer import build_docx
from innspill.documents.html_writer import build_html
from innspill.documents.layout import (
    GENERAL,
    GENERAL_TITLE,
    LATE,
    NOT_ANSWERED,
    AnswerFile,
    CompilationInput,
    CompiledAnswer,
    filename,
    summary_lines,
    title,
)

__all__ = [
    "GENERAL",
    "GENERAL_TITLE",
    "LATE",
    "NOT_ANSWERED",
    "AnswerFile",
    "CompilationInput",
    "CompiledAnswer",
    "build_docx",
    "build_html",
    "filename",
    "summary_lines",
    "title",
]
