"""The e-mail templates in email_templates/: every kind renders for every participant."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jinja2.exceptions import UndefinedError

from innspill.outbound.invitation import invitation_part
from innspill.outbound.templates import KINDS, TEMPLATES, Rendered, render
from innspill.planning.actions import Action, ActionKind
from innspill.process.deadlines import closes_on
from innspill.process.definition import Participant, ProcessDefinition, RequestStep, load_definition
from innspill.process.nbformat import nbdate, nbweekday
from innspill.process.texts import variants
from innspill.process.workdays import OSLO

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


#: Fixed words of the letters in each language (the process file's texts are in the letter's
#: language too: the seed gives each in bokmål and nynorsk).
WORDS: dict[str, dict[str, str]] = {
    "nb": {
        "officer": "Saksbehandler",
        "closing": "Med hilsen",
        "approval": (
            "Dokumentet er godkjent elektronisk og har derfor ingen håndskrevne signaturer."
        ),
        "answer": "Dere kan svare direkte på denne e-posten",
        "days": "om to arbeidsdager",
        "already": "Har dere allerede sendt innspill, kan dere se bort fra denne påminnelsen.",
        "asap": "så snart som mulig",
        "extended": "Utsatt frist",
        "extended_text": "utsatt fra {old} til {new}",
        "reminder": "Påminnelse: ",
    },
    "nn": {
        "officer": "Saksbehandlar",
        "closing": "Med helsing",
        "approval": "Dokumentet er godkjent elektronisk og har difor ingen handskrivne signaturar.",
        "answer": "De kan svare direkte på denne e-posten",
        "days": "om to arbeidsdagar",
        "already": "Har de alt sendt innspel, kan de sjå bort frå denne påminninga.",
        "asap": "så snart som råd",
        "extended": "Utsett frist",
        "extended_text": "utsett frå {old} til {new}",
        "reminder": "Påminning: ",
    },
}
LANGUAGES = tuple(WORDS)
#: The kinds a case officer would have signed: the named signature and the approval line.
SIGNED = {"invitation", "meeting_invitation", "circulation"}
NN_WEEKDAYS = ("måndag", "tysdag", "onsdag", "torsdag", "fredag", "laurdag", "sundag")
#: Bokmål words that must not be left in the fixed text of a nynorsk letter.
BOKMAL_ONLY = (
    " ikke ",
    " dere ",
    "Dere ",
    " deres",
    "innspillet",
    "mottatt",
    " fra ",
    "hilsen",
    "Påminnelse",
    "påminnelse",
    "følger",
    " hvert ",
    "saken",
    "tidligere",
    "nedenfor",
    "Saksbehandler",
    "enhet",
    "sammenstilling",
    "kommer",
    "beklager",
    "i morgen",
    "mandag",
    "tirsdag",
    "arbeidsdager",
)


def weekday(day: date, language: str) -> str:
    """`mandag 1. juni 2020` in bokmål, `måndag 1. juni 2020` in nynorsk."""
    return nbweekday(day) if language == "nb" else f"{NN_WEEKDAYS[day.weekday()]} {nbdate(day)}"


def fixed_text(text: str, data: list[str]) -> str:
    """The letter with the process file's data taken out: what the template itself says."""
    flat = " ".join(text.split())
    for value in sorted(data, key=len, reverse=True):
        flat = flat.replace(" ".join(value.split()), " ")
    return flat


def seed_data(definition: ProcessDefinition) -> list[str]:
    """Every text the seed file gives the letters, in every language it gives."""
    values = [*variants(definition.process.title), *definition.sender.address_lines]
    values += [*variants(definition.sender.signature_title), definition.sender.organisation]
    values += [*variants(definition.process.short_title or "")]
    values += [p.name for p in definition.participants]
    values += [t for s in definition.steps for t in variants(s.title)]
    values += [t for s in definition.steps for p in getattr(s, "intro", []) for t in variants(p)]
    for theme in definition.themes:
        values += [*variants(theme.title), *(t for q in theme.questions for t in variants(q))]
    return values


_UNDERLINE = re.compile(r"[-=~]{3,}")


def assert_underlines_fit(text: str) -> None:
    """Every underline (a line of -, = or ~) is as wide as the heading above it (its longest
    line, when a long heading is wrapped)."""
    lines = text.replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        if not _UNDERLINE.fullmatch(line) or index == 0:
            continue
        heading: list[str] = []
        above = index - 1
        while above >= 0 and lines[above].strip() and not _UNDERLINE.fullmatch(lines[above]):
            heading.insert(0, lines[above])
            above -= 1
        assert heading, f"an underline under nothing: line {index}"
        widest = max(len(h) for h in heading)
        assert len(line) == widest, f"{heading!r} is underlined with {len(line)}: {line}"


def test_every_literal_underline_in_the_templates_fits_its_heading() -> None:
    """The text templates' own headings ("Slik sender de innspel" and its 22 dashes)."""
    for path in sorted(TEMPLATES.glob("*.txt")):
        lines = path.read_text(encoding="utf-8").split("\n")
        for index, line in enumerate(lines):
            heading = lines[index - 1] if index else ""
            if _UNDERLINE.fullmatch(line) and heading.strip() and "{" not in heading:
                assert len(line) == len(heading), f"{path.name}:{index + 1}: {heading!r}"


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
    # The participant reads the process file's texts in their own language, as compose() gives
    # them (the one accessor); a step passed in edited keeps its edits.
    definition = definition.in_language(participant.language)
    if step == definition.step(step.id):
        localized = definition.step(step.id)
        assert isinstance(localized, RequestStep)
        step = localized
    context: dict[str, Any] = {
        "process": definition.process,
        "sender": definition.sender,
        "participant": participant,
        "step": step,
        "themes": definition.themes_of(step),
        "deadline": step.deadline,
        "written_deadline": None,  # a deadline on a working day: see the holiday tests
        "closes": closes_on(definition, step, step.deadline),
        "previous_deadline": None,
        "letter_date": step.opens,
        "working_days_left": None,
        "overdue_number": None,
        "reply_to": definition.sender.email,
    }
    invitation = Action(definition.id, step.id, participant.id, ActionKind.INVITATION, "1")
    context["parts"] = [
        invitation_part(
            definition,
            replace(invitation, deadline=step.deadline),
            reply_to=str(definition.sender.email),
        )
    ]
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


def cases() -> list[tuple[str, str, str]]:
    definition = load_definition(SEED)
    step = first_request_step(definition)
    return [
        (language, kind, p.id)
        for language in LANGUAGES
        for kind in KINDS
        for p in definition.audience(step.id)
    ]


def test_the_seed_has_an_audience(definition: ProcessDefinition) -> None:
    step = first_request_step(definition)
    assert len(definition.audience(step.id)) == 9


@pytest.mark.parametrize(("language", "kind", "participant_id"), cases())
def test_every_kind_renders_for_every_participant(
    definition: ProcessDefinition, language: str, kind: str, participant_id: str
) -> None:
    step = first_request_step(definition)
    participant = definition.participant(participant_id).model_copy(update={"language": language})
    context = context_for(definition, step, participant, kind)
    rendered = render(kind, participant.language, context)
    deadline = context["deadline"]
    sender = context["sender"]  # in the participant's language (its signature title)
    words = WORDS[language]

    # Subject: one line, under 100 characters, with our reference.
    assert rendered.subject
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert rendered.subject.endswith(f"(vår ref. {definition.process.reference})")
    assert len(rendered.subject) < 100, rendered.subject

    # Text part: the letter, without markup.
    text = rendered.text
    assert participant.name in text
    assert nbdate(deadline) in text
    assert "Vår referanse: 20/64758" in text
    assert f"Vår dato: {context['letter_date']:%d.%m.%Y}" in text
    assert f"{words['officer']}: {sender.case_officer}" in text
    assert words["closing"] in text
    if kind in SIGNED:
        assert sender.signature_name in text and sender.signature_title in text
        assert words["approval"] in text
        assert text.index(words["closing"]) < text.index(sender.signature_name)
    else:  # nobody signed a reminder or a notice: the unit closes it
        assert sender.signature_name not in text and sender.signature_title not in text
        assert words["approval"] not in text
        assert f"{words['closing']}\n\n{sender.organisation}, {sender.unit}\n" in text
    for line in sender.address_lines:
        assert line in text
    assert "<" not in text and ">" not in text
    assert "{{" not in text and "{%" not in text and "{#" not in text and "None" not in text
    assert all(len(line) <= 80 for line in text.splitlines()), "text part is not wrapped"
    assert "\n\n\n" not in text
    assert_underlines_fit(text)

    # HTML part: well formed, in the participant's language, with the same content.
    parser = parse_html(rendered.html)
    html_tag = next(attrs for tag, attrs in parser.tags if tag == "html")
    assert html_tag.get("lang") == language
    assert parser.title.strip()
    assert sum(1 for tag, _ in parser.tags if tag == "h1") == 1
    html_text = " ".join("".join(parser.text).split())
    assert participant.name in html_text
    assert nbdate(deadline) in html_text
    assert "Vår referanse: 20/64758" in html_text
    assert words["closing"] in html_text
    assert (sender.signature_name in html_text) == (kind in SIGNED)
    assert (words["approval"] in html_text) == (kind in SIGNED)

    if language == "nn":
        data = seed_data(definition)
        for part in (text, html_text):
            leftovers = [w for w in BOKMAL_ONLY if w in fixed_text(part, data)]
            assert not leftovers, leftovers

    if kind == "invitation":
        assert weekday(deadline, language) in text
        assert words["answer"] in text
        assert context["reply_to"] in text
        for theme in context["themes"]:
            assert theme.title in text
            assert theme.title in html_text
            for question in theme.questions:
                assert question in " ".join(text.split())
                assert question in html_text
    elif kind == "reminder":
        assert words["days"] in text and words["days"] in html_text
        assert weekday(deadline, language) in text
        assert words["already"] in " ".join(text.split())
        assert rendered.subject.startswith(words["reminder"])
        for theme in context["themes"]:
            assert theme.title in text and theme.title in html_text
    elif kind == "overdue":
        assert rendered.subject.startswith("Purring: ")
        assert words["asap"] in text and words["asap"] in html_text
    elif kind == "deadline_changed":
        assert rendered.subject.startswith(words["extended"])
        sentence = words["extended_text"].format(
            old=nbdate(step.deadline), new=weekday(deadline, language)
        )
        for part in (" ".join(text.split()), html_text):
            assert sentence in part


def render_one(
    definition: ProcessDefinition, kind: str, language: str = "nb", **update: Any
) -> Rendered:
    step = first_request_step(definition)
    participant = definition.audience(step.id)[0]
    context = context_for(definition, step, participant, kind)
    context.update(update)
    return render(kind, language, context)


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
    ("language", "days", "phrase"),
    [
        ("nb", 1, "om én arbeidsdag"),
        ("nb", 5, "om fem arbeidsdager"),
        ("nb", 12, "om tolv arbeidsdager"),
        ("nb", 13, "om 13 arbeidsdager"),
        ("nb", 0, "i dag"),
        ("nn", 1, "om éin arbeidsdag"),
        ("nn", 5, "om fem arbeidsdagar"),
        ("nn", 12, "om tolv arbeidsdagar"),
        ("nn", 0, "i dag"),
    ],
)
def test_reminder_counts_working_days(
    definition: ProcessDefinition, language: str, days: int, phrase: str
) -> None:
    rendered = render_one(definition, "reminder", language, working_days_left=days)
    assert phrase in " ".join(rendered.text.split())
    assert phrase in rendered.html


def test_later_overdue_reminders_are_numbered(definition: ProcessDefinition) -> None:
    rendered = render_one(definition, "overdue", overdue_number=2)
    # "Purring nr. 2" reads like an invoice, and a "Ny påminnelse" after a "Purring" like a
    # step back: the second overdue reminder is a new "Purring".
    assert rendered.subject.startswith("Ny purring: ")
    assert "påminnelse" not in rendered.subject.lower()
    assert "påminnelse" not in rendered.text.lower()
    assert "nr. 2" not in rendered.subject and "nr. 2" not in rendered.text
    assert "Vi har også tidligere minnet om fristen." in " ".join(rendered.text.split())
    assert "kan dere se bort fra denne purringen." in " ".join(rendered.text.split())


def test_later_overdue_reminders_in_nynorsk(definition: ProcessDefinition) -> None:
    first = render_one(definition, "overdue", "nn", overdue_number=1)
    assert first.subject.startswith("Purring: ")
    assert "kan de sjå bort frå denne purringa." in " ".join(first.text.split())
    later = render_one(definition, "overdue", "nn", overdue_number=2)
    assert later.subject.startswith("Ny purring: ")
    assert "påminning" not in later.subject.lower() and "påminning" not in later.text.lower()
    assert "Vi har òg tidlegare mint om fristen." in " ".join(later.text.split())
    assert "kan de sjå bort frå denne purringa." in " ".join(later.text.split())


def test_an_earlier_deadline_in_nynorsk_is_changed(definition: ProcessDefinition) -> None:
    step = first_request_step(definition)
    earlier = step.deadline - timedelta(days=3)
    rendered = render_one(
        definition, "deadline_changed", "nn", previous_deadline=step.deadline, deadline=earlier
    )
    assert rendered.subject.startswith("Endra frist")
    assert f"endra frå {nbdate(step.deadline)} til {weekday(earlier, 'nn')}" in " ".join(
        rendered.text.split()
    )
    assert "Merk at den nye fristen er tidlegare enn den førre." in " ".join(rendered.text.split())


def test_subjects_keep_the_reference_when_the_title_is_too_long(
    definition: ProcessDefinition,
) -> None:
    """The fixed words give way first, then the date; our reference always stays."""
    step = first_request_step(definition).model_copy(update={"title": "Innspill " + "x" * 120})
    for language in LANGUAGES:
        for kind in KINDS:
            participant = definition.audience(step.id)[0]
            context = context_for(definition, step, participant, kind)
            subject = render(kind, language, context).subject
            assert subject.endswith("(vår ref. 20/64758)")
            # What the mail is about stays, even at the cost of the length.
            assert step.title in subject
    # A short case name leaves room for the date; the case follows the step it is about.
    short = first_request_step(definition)
    context = context_for(definition, short, definition.audience(short.id)[0], "reminder")
    context["process"] = definition.process.model_copy(update={"short_title": "Retningslinjer"})
    assert render("reminder", "nb", context).subject == (
        "Påminnelse: Innspill til oppdraget – retningslinjer, frist "
        f"{nbdate(short.deadline)} (vår ref. 20/64758)"
    )
    # A step title that names the case already is not followed by it again.
    context["step"] = short.model_copy(update={"title": "Retningslinjer: innspill til oppdraget"})
    assert render("reminder", "nb", context).subject == (
        "Påminnelse: Retningslinjer: innspill til oppdraget, frist "
        f"{nbdate(short.deadline)} (vår ref. 20/64758)"
    )


def test_the_letter_date_is_shown_short(definition: ProcessDefinition) -> None:
    rendered = render_one(definition, "invitation", letter_date=date(2020, 3, 30))
    assert "Vår dato: 30.03.2020" in rendered.text
    assert "Vår dato: 30.03.2020" in rendered.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_data_is_escaped_in_html_and_raw_in_text(
    definition: ProcessDefinition, language: str
) -> None:
    step = first_request_step(definition)
    evil = "Sekretariatet <script>alert(1)</script> & co"
    participant = definition.audience(step.id)[0].model_copy(update={"name": evil})
    for kind in KINDS:
        context = context_for(definition, step, participant, kind)
        rendered = render(kind, language, context)
        assert "<script>" not in rendered.html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in rendered.html
        parser = parse_html(rendered.html)
        assert all(tag != "script" for tag, _ in parser.tags)
        assert evil in "".join(parser.text)
        assert evil in rendered.text
        assert "&lt;" not in rendered.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_missing_context_variable_is_an_error(
    definition: ProcessDefinition, language: str
) -> None:
    step = first_request_step(definition)
    participant = definition.audience(step.id)[0]
    for kind in KINDS:
        for name in ("deadline", "reply_to", "participant"):
            context = context_for(definition, step, participant, kind)
            del context[name]
            with pytest.raises(UndefinedError):
                render(kind, language, context)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_wrapping_never_splits_a_date(
    definition: ProcessDefinition, kind: str, language: str
) -> None:
    step = first_request_step(definition)
    participant = definition.audience(step.id)[0]
    for extra in range(80):
        process = definition.process.model_copy(
            update={"title": definition.process.title + " x" * (extra // 2) + "y" * (extra % 2)}
        )
        context = context_for(definition, step, participant, kind)
        context["process"] = process
        text = render(kind, language, context).text
        assert nbdate(context["deadline"]) in text
        assert "\u00a0" not in text
        if kind == "reminder":
            assert WORDS[language]["days"] in text
        if kind == "deadline_changed":
            assert nbdate(context["previous_deadline"]) in text
        assert all(len(line) <= 80 for line in text.splitlines())


# The receipt ------------------------------------------------------------------------------------

RECEIPT_WORDS = {
    "nb": ("Kvittering for mottatt innspill", "Takk for innspillet.", "Gjelder:  ", "Mottatt:  "),
    "nn": ("Kvittering for motteke innspel", "Takk for innspelet.", "Gjeld:    ", "Motteke:  "),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_receipt_says_what_was_received_without_a_signature(
    definition: ProcessDefinition, language: str
) -> None:
    step = first_request_step(definition)
    participant = definition.audience(step.id)[0].model_copy(update={"language": language})
    context = context_for(definition, step, participant, "invitation")
    context.update(
        answer_texts=[(t.title, f"Tekst om {t.title.lower()}.") for t in definition.themes],
        general_text="",
        files=["innspill.pdf"],
        version=1,
        received_at=datetime(2020, 4, 20, 10, 15, tzinfo=OSLO),
        late=False,
        channel="email",
        answer_url="https://innspill.example/svar/abc",
    )
    heading, thanks, about, received = RECEIPT_WORDS[language]
    rendered = render("receipt", language, context)
    assert rendered.subject.endswith("(vår ref. 20/64758)") and len(rendered.subject) < 100
    text = rendered.text
    assert f"{heading}\n{'=' * len(heading)}\n\n{thanks}" in text
    # The step is named in a field of its own: no "innspillet deres til «Innspill til …»".
    assert f"\n{about}{step.title}\n" in text
    assert f"\n{received}20. april 2020 kl. 10.15\n" in text
    assert "deres til «" not in text and "dykkar til «" not in text
    assert definition.sender.signature_name not in text
    assert WORDS[language]["approval"] not in text
    assert "https://innspill.example/svar/abc\n\n" + WORDS[language]["closing"] in text
    assert "\n\n\n" not in text and all(len(line) <= 80 for line in text.splitlines())
    parser = parse_html(rendered.html)
    body = " ".join("".join(parser.text).split())
    assert f"{about.strip()} {step.title}" in body
    if language == "nn":
        leftovers = [w for w in BOKMAL_ONLY if w in fixed_text(text, seed_data(definition))]
        assert not leftovers, leftovers
