"""Letters and answers as archival pages (PDF/A-2b): the case and the facts of the mail (from,
to, date, subject, Message-ID, the files it carried), then its text; pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, Template, select_autoescape
from markupsafe import Markup

from innspill.archival.mailview import MailFile, MailView, read_mail
from innspill.pdfa.render import Meta, html_to_pdfa
from innspill.process.nbformat import nbdate, nbtime
from innspill.process.workdays import OSLO

_CSS = """
.letterhead { border-bottom: 1.5pt solid #000; padding-bottom: .4em; margin-bottom: .9em; }
.letterhead .org { font-size: 14pt; font-weight: bold; margin: 0; }
.letterhead .unit { margin: 0; }
.kind { font-size: 9pt; text-transform: uppercase; letter-spacing: .06em; margin: 0 0 .4em; }
table.facts { font-size: 9.5pt; margin: 0 0 1.2em; width: 100%; table-layout: fixed; }
table.facts th { text-align: left; font-weight: normal; color: #333; width: 7.5em;
  padding: .1em 1em .1em 0; vertical-align: top; }
table.facts td { padding: .1em 0; overflow-wrap: anywhere; vertical-align: top; }
h1 { border-top: .5pt solid #777; padding-top: .8em; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
p.text { margin: 0 0 .7em; }
.none { font-style: italic; }
.html img { display: none; }
"""

CHANNELS = {"email": "E-post", "form": "Skjema", "registered": "Registrert manuelt"}


@dataclass(frozen=True)
class Case:
    """The case a document belongs to, as its letterhead and facts show it."""

    organisation: str
    unit: str
    reference: str
    title: str


@dataclass(frozen=True)
class AnswerFacts:
    """What an answer's page tells besides its text."""

    participant: str  # the body's name
    address: str
    received_at: datetime
    channel: str  # email | form | registered
    registered_by: str
    version: int


def when(value: datetime | None) -> str:
    """`30. mars 2020 kl. 10.00` in Europe/Oslo."""
    if value is None:
        return "ukjent"
    local = value.astimezone(OSLO)
    return f"{nbdate(local.date())} {nbtime(local)}"


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} byte"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} kB"
    return f"{size / 1024 / 1024:.1f} MB".replace(".", ",")


def file_line(name: str, content_type: str, size: int) -> str:
    return f"{name} ({content_type}, {size_text(size)})"


def safe_html(markup: str) -> Markup:
    """A mail's HTML reduced to text markup: no scripts, styles, forms, frames or images
    (nothing remote is fetched when it is rendered either)."""
    import nh3

    tags = {
        "a", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "i", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table",
        "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
    }  # fmt: skip
    return Markup(nh3.clean(markup, tags=tags, attributes={}, url_schemes=set()))  # noqa: S704


def letter_pdf(raw: bytes, case: Case) -> bytes:
    """A letter as sent (its stored raw MIME) as a PDF/A-2b page."""
    mail = read_mail(raw)
    facts = [
        ("Sak", f"{case.reference} {case.title}"),
        ("Fra", mail.sender),
        ("Til", mail.to),
        *([("Kopi", mail.cc)] if mail.cc else []),
        ("Sendt", when(mail.date)),
        ("Message-ID", mail.message_id),
    ]
    return _render(
        heading="Utgående brev (e-post)",
        case=case,
        facts=facts,
        mail=mail,
        files=_mail_files(mail.files),
        created=mail.date,
        author=case.organisation,
    )


def mail_answer_pdf(raw: bytes, case: Case, answer: AnswerFacts) -> bytes:
    """An answer that came by mail, from the mail as received."""
    mail = read_mail(raw)
    facts = [
        ("Sak", f"{case.reference} {case.title}"),
        ("Fra", mail.sender),
        ("Avsender", answer.participant),
        ("Til", mail.to),
        ("Datert", when(mail.date)),
        ("Mottatt", when(answer.received_at)),
        ("Kanal", _channel(answer)),
        ("Versjon", str(answer.version)),
        ("Message-ID", mail.message_id),
    ]
    return _render(
        heading="Inngående innspill",
        case=case,
        facts=facts,
        mail=mail,
        files=_mail_files(mail.files),
        created=answer.received_at,
        author=answer.participant,
    )


def text_answer_pdf(
    case: Case,
    answer: AnswerFacts,
    *,
    themes: Sequence[tuple[str, str]],
    files: Sequence[tuple[str, str, int]],
) -> bytes:
    """An answer given in the form or registered by hand: its text per theme, with titles."""
    facts = [
        ("Sak", f"{case.reference} {case.title}"),
        ("Avsender", f"{answer.participant} <{answer.address}>"),
        ("Mottatt", when(answer.received_at)),
        ("Kanal", _channel(answer)),
        ("Versjon", str(answer.version)),
    ]
    return _render(
        heading="Inngående innspill",
        case=case,
        facts=facts,
        mail=MailView(subject=f"Innspill fra {answer.participant}"),
        files=[file_line(*f) for f in files],
        created=answer.received_at,
        author=answer.participant,
        themes=themes,
    )


def _channel(answer: AnswerFacts) -> str:
    channel = CHANNELS.get(answer.channel, answer.channel)
    if answer.registered_by and answer.registered_by.lower() != channel.lower():
        return f"{channel}, registrert av {answer.registered_by}"
    return channel


def _mail_files(files: list[MailFile]) -> list[str]:
    return [file_line(f.filename, f.content_type, f.size) for f in files]


def _render(
    *,
    heading: str,
    case: Case,
    facts: Sequence[tuple[str, str | Sequence[str]]],
    mail: MailView,
    files: list[str],
    created: datetime | None,
    author: str,
    themes: Sequence[tuple[str, str]] | None = None,
) -> bytes:
    html = None
    if themes is None and mail.text is None and mail.html is not None:
        html = safe_html(mail.html)
    page = _template().render(
        case=case,
        heading=heading,
        facts=facts,
        files=files,
        subject=mail.subject,
        themes=themes,
        html=html,
        text=mail.text or "",
    )
    title = mail.subject or heading
    return html_to_pdfa(page, Meta(title=title, author=author, created=created), css=_CSS)


@lru_cache(maxsize=1)
def _template() -> Template:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("page.html")
