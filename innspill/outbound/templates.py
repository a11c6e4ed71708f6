"""Render messages from the Jinja2 templates in email_templates/: subject, text and HTML."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_environment,
    select_autoescape,
)
from jinja2.filters import do_wordwrap

from innspill.process import nbformat
from innspill.process.schema import sent_name

TEMPLATES = Path(__file__).resolve().parent.parent / "email_templates"
KINDS = ("invitation", "reminder", "overdue", "deadline_changed")


@dataclass(frozen=True)
class Rendered:
    """A rendered message: one-line subject, plain-text part, HTML part."""

    subject: str
    text: str
    html: str


@lru_cache(maxsize=4)
def environment(folder: Path = TEMPLATES) -> Environment:
    """The template environment: undefined names are errors, HTML is autoescaped."""
    env = Environment(
        loader=FileSystemLoader(folder),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # The templates are part of the release: checking each file's mtime on every
        # get_template (and every extends and include) cost 6 % of a large tick.
        auto_reload=False,
    )
    env.filters.update(
        wordwrap=_wordwrap,
        nbdate=nbformat.nbdate,
        nbdate_short=nbformat.nbdate_short,
        nbweekday=nbformat.nbweekday,
        nbtime=nbformat.nbtime,
        day_off=nbformat.day_off,
        basename=sent_name,  # an attachment's file name, as sent (oppdrag.md goes as oppdrag.pdf)
        # An attachment as letters name it: its title and file name as sent, or the file name.
        label=lambda path: getattr(path, "label", None) or sent_name(path),
        words=nbformat.in_words,  # `{{ n|words("nn") }}`: numbers under 13 as words
    )
    return env


@pass_environment
def _wordwrap(
    environment: Environment,
    s: str,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    """Jinja's wordwrap, remembered: most paragraphs are the same in every participant's
    message, and textwrap was a fifth of a large tick."""
    s = str(s)
    if break_long_words or break_on_hyphens or "\x00" in s or "\x00" in (wrapstring or ""):
        return _wrapped(environment, s, width, break_long_words, wrapstring, break_on_hyphens)
    # Without breaking words, wrapping sees only each word's length and where the ASCII
    # whitespace is. So a participant's token (32 characters, no whitespace) is wrapped as a
    # placeholder of the same length and put back: the paragraph with the reply address is
    # then one remembered result for the whole round, not a new textwrap per message.
    tokens = _token().findall(s)
    if not tokens:
        return _wrapped(environment, s, width, False, wrapstring, False)
    shape = _wrapped(environment, _token().sub(_SLOT, s), width, False, wrapstring, False)
    pieces = shape.split(_SLOT)
    out = [pieces[0]]
    for token, piece in zip(tokens, pieces[1:], strict=True):
        out += [token, piece]
    return "".join(out)


def _token() -> re.Pattern[str]:
    """The tokens' pattern, imported when a message is rendered: `innspill validate` checks
    the templates without the database layer that innspill.tokens brings in."""
    from innspill.tokens import TOKEN_PATTERN

    return TOKEN_PATTERN


_SLOT = "\x00" * 32


@lru_cache(maxsize=4096)
def _wrapped(
    environment: Environment,
    s: str,
    width: int,
    break_long_words: bool,
    wrapstring: str | None,
    break_on_hyphens: bool,
) -> str:
    return do_wordwrap(environment, s, width, break_long_words, wrapstring, break_on_hyphens)


def template_names(kind: str, language: str) -> tuple[str, str, str]:
    return (
        f"{kind}.{language}.subject.txt",
        f"{kind}.{language}.txt",
        f"{kind}.{language}.html",
    )


def render(kind: str, language: str, context: dict[str, Any]) -> Rendered:
    """Render one message kind in one language with the given context."""
    env = environment()
    subject_name, text_name, html_name = template_names(kind, language)
    subject = " ".join(env.get_template(subject_name).render(context).split())
    text = env.get_template(text_name).render(context)
    html = env.get_template(html_name).render(context)
    return Rendered(subject=subject, text=text, html=html)
