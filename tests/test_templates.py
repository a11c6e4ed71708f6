"""The e-mail templates in email_templates/: every kind renders for every participant."""

from __future__ import annotations

from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jinja2.exceptions import UndefinedError

from innspill.outbound.templates import KINDS, Rendered, render
from innspill.process.definition import Participant, ProcessDefinition, RequestStep, load_definition
from innspill.process.nbformat import nbdate, nbweekday

SEED = (
    Path(__file__).resolve().parent.parent
    / "config"
    / "processes"
    / "byvekstavtaler-sekretariat-2020.toml"
)
VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class StrictHTML(HTMLParser):
    """Collects what the checks need and fails on tags that are not closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "title":
            self._in_title = True
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> closes nothing"
        opened = self.stack.pop()
        assert opened == tag, f"</{tag}> closes <{opened}>"
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_title:
            self.title += data


def parse_html(html: str) -> StrictHTML:
    parser = StrictHTML()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], f"unclosed tags: {parser.stack}"
    return parser


@pytest.fixture(scope="module")
def definition() -> ProcessDefinition:
    return load_definition(SEED)


def first_request_step(definition: ProcessDefinition) -> RequestStep:
    return next(s for s in definition.steps if isinstance(s, RequestStep))


def context_for(
    definition: ProcessDefinition,
    step: RequestStep,
    participant: Participant,
    kind: str,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "process": definition.process,
        "sender": definition.sender,
        "participant": participant,
        "step": step,
        "themes": definition.themes_of(step),
        "deadline": step.deadline,
        "previous_deadline": None,
        "letter_date": step.opens,
        "working_days_left": None,
        "overdue_number": None,
        "reply_to": definition.sender.email,
    }
    if kind == "reminder":
        context.update(working_days_left=2, letter_date=step.deadline - timedelta(days=4))
    elif kind == "overdue":
        context.update(overdue_number=1, letter_date=step.deadline + timedelta(days=3))
    elif kind == "deadline_changed":
        context.update(
            previous_deadline=step.deadline,
            deadline=step.deadline + timedelta(days=7),
            letter_date=step.deadline - timedelta(days=7),
        )
    return context


def cases() -> list[tuple[str, str]]:
    definition = load_definition(SEED)
    step = first_request_step(definition)
    return [(kind, p.id) for kind in KINDS for p in definition.audience(step.id)]


def test_the_seed_has_an_audience(definition: ProcessDefinition) -> None:
    step = first_request_step(definition)
    assert len(definition.audience(step.id)) == 9


@pytest.mark.parametrize(("kind", "participant_id"), cases())
def test_every_kind_renders_for_every_participant(
    definition: ProcessDefinition, kind: str, participant_id: str
) -> None:
    step = first_request_step(definition)
    participant = definition.participant(participant_id)
    context = context_for(definition, step, participant, kind)
    rendered = render(kind, participant.language, context)
    deadline = context["deadline"]
    sender = definition.sender

    # Subject: one line, with our reference.
    assert rendered.subject
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert "20/64758" in rendered.subject
    assert f"Vår referanse: {definition.process.reference}" in rendered.subject

    # Text part: the letter, without markup.
    text = rendered.text
    assert participant.name in text
    assert nbdate(deadline) in text
    assert "Vår referanse: 20/64758" in text
    assert f"Vår dato: {context['letter_date']:%d.%m.%Y}" in text
    assert f"Saksbehandler: {sender.case_officer}" in text
    assert "Med hilsen" in text
    assert sender.signature_name in text
    assert sender.signature_title in text
    assert "Dokumentet er godkjent elektronisk og har derfor ingen håndskrevne signaturer." in text
    for line in sender.address_lines:
        assert line in text
    assert "<" not in text and ">" not in text
    assert "{{" not in text and "{%" not in text
    assert text.index("Med hilsen") < text.index(sender.signature_name)
    assert all(len(line) <= 80 for line in text.splitlines()), "text part is not wrapped"
    assert "\n\n\n" not in text

    # HTML part: well formed, in bokmål, with the same content.
    parser = parse_html(rendered.html)
    html_tag = next(attrs for tag, attrs in parser.tags if tag == "html")
    assert html_tag.get("lang") == "nb"
    assert 'lang="nb"' in rendered.html
    assert parser.title.strip()
    assert sum(1 for tag, _ in parser.tags if tag == "h1") == 1
    html_text = " ".join("".join(parser.text).split())
    assert participant.name in html_text
    assert nbdate(deadline) in html_text
    assert "Vår referanse: 20/64758" in html_text
    assert "Med hilsen" in html_text
    assert sender.signature_name in html_text

    if kind == "invitation":
        assert nbweekday(deadline) in text
        assert "Svar ved å svare på denne e-posten" in text
        assert context["reply_to"] in text
        for theme in context["themes"]:
            assert theme.title in text
            assert theme.title in html_text
            for question in theme.questions:
                assert question in " ".join(text.split())
                assert question in html_text
    elif kind == "reminder":
        assert "om 2 arbeidsdager" in text and "om 2 arbeidsdager" in html_text
        assert nbweekday(deadline) in text
        assert "Har dere allerede sendt innspill, kan dere se bort fra denne påminnelsen." in text
        for theme in context["themes"]:
            assert theme.title in text and theme.title in html_text
    elif kind == "overdue":
        assert rendered.subject.startswith("Purring: ")
        assert "så snart som mulig" in text and "så snart som mulig" in html_text
    elif kind == "deadline_changed":
        assert rendered.subject.startswith("Utsatt frist")
        for part in (" ".join(text.split()), html_text):
            assert f"utsatt fra {nbdate(step.deadline)} til {nbweekday(deadline)}" in part


def render_one(definition: ProcessDefinition, kind: str, **update: Any) -> Rendered:
    step = first_request_step(definition)
    participant = definition.audience(step.id)[0]
    context = context_for(definition, step, participant, kind)
    context.update(update)
    return render(kind, "nb", context)


def test_an_earlier_deadline_is_changed_not_extended(definition: ProcessDefinition) -> None:
    step = first_request_step(definition)
    earlier = step.deadline - timedelta(days=3)
    rendered = render_one(
        definition, "deadline_changed", previous_deadline=step.deadline, deadline=earlier
    )
    assert rendered.subject.startswith("Endret frist")
    assert "Utsatt" not in rendered.subject and "utsatt" not in rendered.text
    assert f"endret fra {nbdate(step.deadline)} til {nbweekday(earlier)}" in " ".join(
        rendered.text.split()
    )


@pytest.mark.parametrize(
    ("days", "phrase"), [(1, "om én arbeidsdag"), (5, "om 5 arbeidsdager"), (0, "i dag")]
)
def test_reminder_counts_working_days(
    definition: ProcessDefinition, days: int, phrase: str
) -> None:
    rendered = render_one(definition, "reminder", working_days_left=days)
    assert phrase in " ".join(rendered.text.split())
    assert phrase in rendered.html


def test_later_overdue_reminders_are_numbered(definition: ProcessDefinition) -> None:
    rendered = render_one(definition, "overdue", overdue_number=2)
    assert rendered.subject.startswith("Purring nr. 2: ")
    assert "purring nr. 2" in rendered.text


def test_the_letter_date_is_shown_short(definition: ProcessDefinition) -> None:
    rendered = render_one(definition, "invitation", letter_date=date(2020, 3, 30))
    assert "Vår dato: 30.03.2020" in rendered.text
    assert "Vår dato: 30.03.2020" in rendered.html


def test_data_is_escaped_in_html_and_raw_in_text(definition: ProcessDefinition) -> None:
    step = first_request_step(definition)
    evil = "Sekretariatet <script>alert(1)</script> & co"
    participant = definition.audience(step.id)[0].model_copy(update={"name": evil})
    for kind in KINDS:
        context = context_for(definition, step, participant, kind)
        rendered = render(kind, "nb", context)
        assert "<script>" not in rendered.html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in rendered.html
        parser = parse_html(rendered.html)
        assert all(tag != "script" for tag, _ in parser.tags)
        assert evil in "".join(parser.text)
        assert evil in rendered.text
        assert "&lt;" not in rendered.text


def test_a_missing_context_variable_is_an_error(definition: ProcessDefinition) -> None:
    step = first_request_step(definition)
    participant = definition.audience(step.id)[0]
    for kind in KINDS:
        for name in ("deadline", "reply_to", "participant"):
            context = context_for(definition, step, participant, kind)
            del context[name]
            with pytest.raises(UndefinedError):
                render(kind, "nb", context)


@pytest.mark.parametrize("kind", KINDS)
def test_wrapping_never_splits_a_date(definition: ProcessDefinition, kind: str) -> None:
    step = first_request_step(definition)
    participant = definition.audience(step.id)[0]
    for extra in range(80):
        process = definition.process.model_copy(
            update={"title": definition.process.title + " x" * (extra // 2) + "y" * (extra % 2)}
        )
        context = context_for(definition, step, participant, kind)
        context["process"] = process
        text = render(kind, "nb", context).text
        assert nbdate(context["deadline"]) in text
        assert "\u00a0" not in text
        if kind == "reminder":
            assert "om 2 arbeidsdager" in text
        if kind == "deadline_changed":
            assert nbdate(context["previous_deadline"]) in text
        assert all(len(line) <= 80 for line in text.splitlines())
