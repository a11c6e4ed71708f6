"""The compilation as one accessible HTML page, rendered from an autoescaped Jinja2 template."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from innspill.documents import layout as words
from innspill.documents.layout import CompilationInput, layout

TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def _template() -> Template:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=True,  # everything in the page but the markup comes from outside
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template("compilation.html")


def build_html(data: CompilationInput) -> str:
    """The compilation as one accessible HTML page; every value from outside is escaped."""
    return _template().render(
        page=layout(data),
        columns=words.COLUMNS,
        contents=words.CONTENTS,
        summary=words.SUMMARY,
        attachments=words.ATTACHMENTS,
        missing=words.MISSING,
        no_answers=words.NO_ANSWERS,
        no_attachments=words.NO_ATTACHMENTS,
        none_missing=words.NONE_MISSING,
        not_answered=words.NOT_ANSWERED,
        late=words.LATE,
        closed=words.CLOSED,
        attachments_note=words.ATTACHMENTS_NOTE,
        attachment_columns=words.ATTACHMENT_COLUMNS,
    )
