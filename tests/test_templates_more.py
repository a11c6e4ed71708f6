"""The e-mail templates for meetings, the compilation and the circulation of the draft.

Each context is built by hand, as the engine will build it: the process, the sender and the
participants come from the seed process file, the steps are made here.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import pytest
from jinja2.exceptions import UndefinedError

from innspill.outbound.templates import Rendered, render
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    Participant,
    ProcessDefinition,
    RequestStep,
    load_definition,
)
from innspill.rsvp import ReplyCounts
from tests.test_templates import (
    BOKMAL_ONLY,
    LANGUAGES,
    SEED,
    WORDS,
    assert_underlines_fit,
    fixed_text,
    parse_html,
    seed_data,
)

KINDS = (
    "meeting_invitation",
    "meeting_reminder",
    "meeting_cancel",
    "compilation",
    "circulation",
    "treatment_reminder",
)
#: Who receives each kind (a role in the seed file).
AUDIENCE = {
    "meeting_invitation": "secretariat",
    "meeting_reminder": "secretariat",
    "meeting_cancel": "secretariat",
    "compilation": "drafter",
    "circulation": "steering_group",
    "treatment_reminder": "steering_group",
}
#: The names each kind needs besides the common ones.
EXTRAS = {
    "meeting_invitation": ("revision",),
    "meeting_reminder": ("compilation_attached", "replies"),
    "meeting_cancel": (),
    "compilation": (
        "source_step",
        "version",
        "answered",
        "expected",
        "late",
        "missing",
        "deadline",
    ),
    "circulation": ("version", "filename"),
    "treatment_reminder": ("version", "sent_on", "reminder_number"),
}
AGENDA = [
    "Velkommen og gjennomgang av sammenstillingen",
    "Drøfting av innspillene tema for tema",
    "Videre prosess fram mot utkast til retningslinjer",
]
NOTE = (
    "Kapittelet om kommunikasjon og møtevirksomhet er skrevet om etter innspillene fra "
    "Bergen og Trondheim.\nFullmaktene under økonomi og kostnadsstyring er presisert."
)
FILENAME = "utkast-retningslinjer-sekretariatene-v2.docx"


@pytest.fixture(scope="module")
def definition() -> ProcessDefinition:
    return load_definition(SEED)


def meeting_step(**update: Any) -> MeetingStep:
    fields: dict[str, Any] = {
        "id": "halvdagsmote",
        "kind": "meeting",
        "title": "Halvdagsmøte om innspillene",
        "audience": ["secretariat"],
        "date": date(2020, 6, 5),
        "start": time(9),
        "end": time(12, 30),
        "place": "Videomøte",
        "video_link": "https://mote.vegvesen.example/halvdagsmote",
        "agenda": AGENDA,
    }
    fields.update(update)
    return MeetingStep(**fields)


def compilation_step() -> CompilationStep:
    return CompilationStep(
        id="sammenstilling",
        kind="compilation",
        title="Sammenstilling av innspill",
        source="innspill-retningslinjer",
        due=date(2020, 6, 3),
        audience=["drafter"],
    )


def circulation_step() -> CirculationStep:
    return CirculationStep(
        id="oversendelse",
        kind="circulation",
        title="Utkast til retningslinjer for sekretariatene – til behandling i styringsgruppen",
        audience=["steering_group"],
        deadline=date(2020, 6, 15),
    )


def source_step(definition: ProcessDefinition) -> RequestStep:
    step = definition.step("innspill-retningslinjer")
    assert isinstance(step, RequestStep)
    return step


def secretariat_names(definition: ProcessDefinition) -> list[str]:
    return [p.name for p in definition.participants if p.role == "secretariat"]


def participants_for(definition: ProcessDefinition, kind: str) -> list[Participant]:
    return [p for p in definition.participants if p.role == AUDIENCE[kind]]


def context_for(
    definition: ProcessDefinition, kind: str, participant: Participant | None = None, **update: Any
) -> dict[str, Any]:
    """A realistic context for one kind; `update` overrides or adds names."""
    if participant is None:
        participant = participants_for(definition, kind)[0]
    context: dict[str, Any] = {
        "process": definition.process,
        "sender": definition.sender,
        "participant": participant,
        "reply_to": definition.sender.email,
    }
    if kind == "meeting_invitation":
        context.update(step=meeting_step(), letter_date=date(2020, 5, 22), revision=1)
    elif kind == "meeting_reminder":
        context.update(
            step=meeting_step(),
            letter_date=date(2020, 6, 4),
            compilation_attached=True,
            replies=ReplyCounts(accepted=7, declined=1, no_reply=1),
        )
    elif kind == "meeting_cancel":
        context.update(step=meeting_step(), letter_date=date(2020, 6, 2), revision=2)
    elif kind == "compilation":
        source = source_step(definition)
        names = secretariat_names(definition)
        context.update(
            step=compilation_step(),
            letter_date=date(2020, 6, 3),
            source_step=source,
            version=1,
            answered=7,
            expected=9,
            late=[names[3]],
            missing=names[7:],
            deadline=source.deadline,
        )
    elif kind == "circulation":
        context.update(
            step=circulation_step(),
            letter_date=date(2020, 6, 22),
            version=2,
            note=NOTE,
            filename=FILENAME,
        )
    elif kind == "treatment_reminder":
        step = circulation_step()
        context.update(
            step=step,
            letter_date=date(2020, 6, 29),
            version=2,
            sent_on=date(2020, 6, 15),
            reminder_number=1,
            deadline=step.deadline,
        )
    else:
        raise AssertionError(kind)
    context.update(update)
    return context


def rendered(
    definition: ProcessDefinition, kind: str, language: str = "nb", **update: Any
) -> Rendered:
    return render(kind, language, context_for(definition, kind, **update))


def flat(text: str) -> str:
    """The text with its line breaks and runs of spaces made single spaces."""
    return " ".join(text.split())


def html_text(html: str) -> str:
    return flat("".join(parse_html(html).text))


def cases() -> list[tuple[str, str, str]]:
    definition = load_definition(SEED)
    return [
        (language, kind, p.id)
        for language in LANGUAGES
        for kind in KINDS
        for p in participants_for(definition, kind)
    ]


@pytest.mark.parametrize(("language", "kind", "participant_id"), cases())
def test_every_kind_renders_a_letter(
    definition: ProcessDefinition, language: str, kind: str, participant_id: str
) -> None:
    participant = definition.participant(participant_id).model_copy(update={"language": language})
    context = context_for(definition, kind, participant)
    result = render(kind, language, context)
    sender = definition.sender
    words = WORDS[language]
    signed = kind in ("meeting_invitation", "circulation")

    # Subject: one line, under 100 characters, with our reference at the end.
    assert result.subject
    assert "\n" not in result.subject and "\r" not in result.subject
    assert result.subject.endswith("(vår ref. 20/64758)")
    assert len(result.subject) < 100, result.subject

    # Text part: the letter, wrapped, without markup.
    text = result.text
    assert participant.name in text
    assert "Vår referanse: 20/64758" in text
    assert f"Vår dato: {context['letter_date']:%d.%m.%Y}" in text
    assert f"{words['officer']}: {sender.case_officer}" in text
    assert words["closing"] in text
    if signed:  # a case officer would sign the meeting invitation and the draft
        assert text.index(words["closing"]) < text.index(sender.signature_name)
        assert sender.signature_title in text
        assert words["approval"] in text
    else:  # a reminder, a notice, the compilation to our own section: the unit closes it
        assert sender.signature_name not in text and sender.signature_title not in text
        assert words["approval"] not in text
        assert f"{words['closing']}\n\n{sender.organisation}, {sender.unit}\n" in text
    assert "<" not in text and ">" not in text
    assert "{{" not in text and "{%" not in text and "{#" not in text and "None" not in text
    assert "\u00a0" not in text
    assert all(len(line) <= 80 for line in text.splitlines()), "text part is not wrapped"
    assert "\n\n\n" not in text
    assert_underlines_fit(text)
    assert text.endswith(f"E-post: {sender.email}\n")
    *heading, underline = text.split("\n\n")[2].splitlines()
    assert set(underline) == {"="}
    assert len(underline) == max(len(line) for line in heading)

    # HTML part: well formed, in the participant's language, one h1, the same letter.
    parser = parse_html(result.html)
    html_tag = next(attrs for tag, attrs in parser.tags if tag == "html")
    assert html_tag.get("lang") == language
    assert parser.title.strip()
    assert sum(1 for tag, _ in parser.tags if tag == "h1") == 1
    body = flat("".join(parser.text))
    assert participant.name in body
    assert "Vår referanse: 20/64758" in body
    assert words["closing"] in body
    assert (sender.signature_name in body) == signed

    if language == "nn":
        data = [*seed_data(definition), *AGENDA, NOTE, FILENAME, context["step"].title]
        for part in (text, body):
            leftovers = [w for w in BOKMAL_ONLY if w in fixed_text(part, data)]
            assert not leftovers, leftovers


# Meeting invitation -----------------------------------------------------------------------------


def test_meeting_invitation(definition: ProcessDefinition) -> None:
    result = rendered(definition, "meeting_invitation")
    # What it is and the case (the process's short title); the date gives way to them.
    assert result.subject == (
        "Innkalling til halvdagsmøte om innspillene – retningslinjer for sekretariatene "
        "(vår ref. 20/64758)"
    )
    text, html = result.text, result.html
    assert "Innkalling til halvdagsmøte om innspillene\n=====" in text
    assert "Tid:        fredag 5. juni 2020 kl. 09.00–12.30" in text
    assert "Sted:       Videomøte" in text
    assert "Videolenke: https://mote.vegvesen.example/halvdagsmote" in text
    for number, item in enumerate(AGENDA, start=1):
        assert f"\n{number}. {item}\n" in text
    assert "kalenderinvitasjon (.ics-fil)" in text
    assert "Kan dere ikke delta" in text
    assert definition.sender.email in text
    assert "Oppdatert" not in text and "erstatter" not in text

    body = html_text(html)
    assert "fredag 5. juni 2020 kl. 09.00–12.30" in body
    assert '<a href="https://mote.vegvesen.example/halvdagsmote">' in html
    assert "<ol>\n<li>Velkommen og gjennomgang av sammenstillingen</li>" in html
    assert "kalenderinvitasjon (.ics-fil)" in body


def test_a_changed_meeting_gets_an_updated_invitation(definition: ProcessDefinition) -> None:
    result = rendered(
        definition, "meeting_invitation", revision=2, step=meeting_step(start=time(10))
    )
    # The subject says that the meeting changed ("Oppdatert innkalling til ..." does not fit
    # with the case after it).
    assert result.subject == (
        "Endret møte: Halvdagsmøte om innspillene – retningslinjer for sekretariatene "
        "(vår ref. 20/64758)"
    )
    short = definition.process.model_copy(update={"short_title": "Retningslinjer"})
    again = rendered(
        definition, "meeting_invitation", revision=2, step=meeting_step(), process=short
    )
    assert again.subject == (
        "Oppdatert innkalling til halvdagsmøte om innspillene – retningslinjer (vår ref. 20/64758)"
    )
    assert "Oppdatert innkalling til halvdagsmøte om innspillene\n=====" in result.text
    for part in (flat(result.text), html_text(result.html)):
        assert "Oppdatert innkalling til halvdagsmøte om innspillene" in part
        assert "Møtet er endret, og denne innkallingen erstatter den forrige." in part
        assert "ny kalenderinvitasjon (.ics-fil) som oppdaterer møtet i kalenderen deres" in part
        assert "fredag 5. juni 2020 kl. 10.00–12.30" in part


def test_a_title_that_starts_with_an_abbreviation_keeps_its_capitals(
    definition: ProcessDefinition,
) -> None:
    step = meeting_step(title="KVU-møte om sekretariatene")
    result = rendered(definition, "meeting_invitation", step=step)
    assert result.subject.startswith("Innkalling til KVU-møte om sekretariatene – ")
    assert "kaller med dette inn til KVU-møte om sekretariatene." in flat(result.text)


def test_a_meeting_without_video_link_or_agenda(definition: ProcessDefinition) -> None:
    step = meeting_step(
        place="Vegdirektoratet, Brynsengfaret 6A, Oslo, møterom Glitretind, inngang fra "
        "gårdsplassen bak bygget",
        video_link=None,
        agenda=[],
    )
    for kind in ("meeting_invitation", "meeting_reminder"):
        result = rendered(definition, kind, step=step)
        assert "Videolenke" not in result.text and "Videolenke" not in result.html
        assert "Saksliste" not in result.text and "<ol>" not in result.html
        # A long place is wrapped, its continuation indented under the value.
        assert "\nSted:       Vegdirektoratet, Brynsengfaret 6A, Oslo, møterom Glitretind,\n" in (
            result.text
        )
        assert "\n            inngang fra gårdsplassen bak bygget\n" in result.text
        assert all(len(line) <= 80 for line in result.text.splitlines())


# Meeting reminder and cancellation --------------------------------------------------------------


def test_meeting_reminder_the_day_before(definition: ProcessDefinition) -> None:
    result = rendered(definition, "meeting_reminder")
    assert result.subject == (
        "Påminnelse: Halvdagsmøte om innspillene – retningslinjer for sekretariatene "
        "(vår ref. 20/64758)"
    )
    for part in (flat(result.text), html_text(result.html)):
        assert (
            "minner om møtet «Halvdagsmøte om innspillene» i morgen, fredag 5. juni 2020." in part
        )
        assert "Vedlagt følger sammenstillingen av innspillene, som bakgrunn for møtet." in part
        assert "fredag 5. juni 2020 kl. 09.00–12.30" in part
        assert "Kan dere likevel ikke delta" in part
        for item in AGENDA:
            assert item in part


@pytest.mark.parametrize(
    ("language", "counts", "sentence"),
    [
        # Numbers under 13 in words, as running text has them.
        (
            "nb",
            ReplyCounts(7, 1, 0, 1),
            "Så langt har sju deltakere takket ja og én har takket nei.",
        ),
        ("nb", ReplyCounts(1, 0, 0, 8), "Så langt har én deltaker takket ja."),
        (
            "nb",
            ReplyCounts(2, 1, 3, 3),
            "Så langt har to deltakere takket ja, én har takket nei og tre har svart kanskje.",
        ),
        ("nb", ReplyCounts(0, 1, 0, 8), "Så langt har én deltaker takket nei."),
        ("nb", ReplyCounts(14, 0, 0, 1), "Så langt har 14 deltakere takket ja."),
        (
            "nn",
            ReplyCounts(7, 1, 0, 1),
            "Så langt har sju deltakarar takka ja og ein har takka nei.",
        ),
        ("nn", ReplyCounts(0, 0, 1, 8), "Så langt har ein deltakar svart kanskje."),
    ],
)
def test_meeting_reminder_tells_the_calendar_replies(
    definition: ProcessDefinition, language: str, counts: ReplyCounts, sentence: str
) -> None:
    context = context_for(definition, "meeting_reminder", replies=counts)
    result = render("meeting_reminder", language, context)
    for part in (flat(result.text), html_text(result.html)):
        assert sentence in part
    # its own paragraph, after the meeting's facts and before how to say one cannot come
    text = result.text
    assert text.index("kl. 09.00") < text.index("Så langt har") < text.index("Kan de")
    assert sentence in [flat(paragraph) for paragraph in text.split("\n\n")]


def test_meeting_reminder_without_calendar_replies_says_nothing_of_them(
    definition: ProcessDefinition,
) -> None:
    for language in LANGUAGES:
        context = context_for(definition, "meeting_reminder", replies=ReplyCounts(no_reply=9))
        result = render("meeting_reminder", language, context)
        assert "Så langt" not in result.text and "Så langt" not in result.html
        assert "\n\n\n" not in result.text


def test_meeting_reminder_without_compilation_and_over_a_weekend(
    definition: ProcessDefinition,
) -> None:
    monday = meeting_step(date=date(2020, 6, 8))
    friday = datetime(2020, 6, 5, 9, 0)  # a datetime works as well as a date
    result = rendered(
        definition, "meeting_reminder", step=monday, letter_date=friday, compilation_attached=False
    )
    assert result.subject.startswith("Påminnelse: Halvdagsmøte om innspillene – retningslinjer")
    for part in (flat(result.text), html_text(result.html)):
        assert "«Halvdagsmøte om innspillene» mandag 8. juni 2020." in part
        assert "i morgen" not in part
        assert "sammenstillingen av innspillene" not in part


def test_meeting_cancel(definition: ProcessDefinition) -> None:
    result = rendered(definition, "meeting_cancel")
    assert result.subject == (
        "Avlyst: Halvdagsmøte om innspillene – retningslinjer for sekretariatene "
        "(vår ref. 20/64758)"
    )
    for part in (flat(result.text), html_text(result.html)):
        assert (
            "Møtet «Halvdagsmøte om innspillene» fredag 5. juni 2020 kl. 09.00–12.30 er avlyst."
            in part
        )
        assert "avlysning (.ics-fil) som fjerner møtet fra kalenderen deres" in part
        assert "kommer vi tilbake med nytt tidspunkt" in part
        assert "Saksliste" not in part


# Compilation ------------------------------------------------------------------------------------


def test_compilation_lists_late_and_missing_answers(definition: ProcessDefinition) -> None:
    names = secretariat_names(definition)
    result = rendered(definition, "compilation")
    # The step's title says what was asked: "Sammenstilling av innspill til ...".
    assert result.subject == (
        "Sammenstilling av innspill til retningslinjer for sekretariatene (vår ref. 20/64758)"
    )
    text = result.text
    assert "både som Word-dokument og som HTML-fil" in flat(text)
    # "7 av 9" alone does not say 9 what; numbers under 13 in words.
    assert (
        "Fristen for innspill var 1. juni 2020. Av de ni som ble bedt om innspill, har sju svart."
        in flat(text)
    )
    # Not "sammenstillingen av innspillene til «Innspill til ...»".
    assert (
        "sammenstillingen av svarene på «Innspill til retningslinjer for sekretariatene», "
        "stilt opp tema for tema" in flat(text)
    )
    assert "innspillene til «" not in flat(text)
    late = text.index("Disse sendte innspill etter fristen:\n")
    missing = text.index("Vi har ikke mottatt innspill fra:\n")
    assert late < text.index(f"- {names[3]}\n") < missing
    assert missing < text.index(f"- {names[7]}\n") < text.index(f"- {names[8]}\n")
    assert "tar vi med i en ny versjon av sammenstillingen" in flat(text)
    assert "Dette er versjon" not in text

    body = html_text(result.html)
    assert "Av de ni som ble bedt om innspill, har sju svart." in body
    assert f"Disse sendte innspill etter fristen: {names[3]} Vi har ikke mottatt" in body
    assert f"Vi har ikke mottatt innspill fra: {names[7]} {names[8]}" in body


def test_a_later_compilation_replaces_the_earlier(definition: ProcessDefinition) -> None:
    names = secretariat_names(definition)
    result = rendered(
        definition, "compilation", version=2, answered=9, late=[names[3], *names[7:]], missing=[]
    )
    assert result.subject.endswith("(versjon 2) (vår ref. 20/64758)")
    sentence = (
        "Dette er versjon 2. Den erstatter tidligere versjoner og tar med innspill mottatt "
        "etter forrige versjon."
    )
    for part in (flat(result.text), html_text(result.html)):
        assert sentence in part
        assert "Alle de ni som ble bedt om innspill, har svart." in part
        assert "Vi har ikke mottatt innspill fra" not in part
        assert "ny versjon av sammenstillingen" not in part
        for name in (names[3], names[7], names[8]):
            assert name in part


# Circulation and treatment reminder -------------------------------------------------------------


def test_circulation_of_the_first_draft(definition: ProcessDefinition) -> None:
    result = rendered(
        definition, "circulation", version=1, note=None, filename="utkast-retningslinjer.docx"
    )
    # The title names the case already: it is the subject.
    assert result.subject == (
        "Utkast til retningslinjer for sekretariatene – til behandling i styringsgruppen "
        "(vår ref. 20/64758)"
    )
    for part in (flat(result.text), html_text(result.html)):
        assert (
            "Vedlagt følger utkastet, som vi med dette oversender til drøfting og behandling"
            in (part)
        )
        assert "Vedlegg: utkast-retningslinjer.docx" in part
        assert "gir oss beskjed om når saken står på sakslisten" in part
        assert "ber vi om å få vedtaket" in part
        assert "Svar på denne e-posten" in part
        assert "Revidert" not in part and "Endringer fra forrige versjon" not in part


def test_circulation_of_a_revised_draft(definition: ProcessDefinition) -> None:
    result = rendered(definition, "circulation")
    # The title does not fit after "Revidert utkast (versjon 2): ": the subject says what it
    # is, and the case.
    assert result.subject == (
        "Revidert utkast (versjon 2) til behandling: Retningslinjer for sekretariatene "
        "(vår ref. 20/64758)"
    )
    text = result.text
    assert "Revidert utkast (versjon 2): Utkast til retningslinjer for sekretariatene –\n" in text
    assert "Endringer fra forrige versjon\n-----" in text
    assert text.index("Endringer fra forrige versjon") < text.index("Kapittelet om kommunikasjon")
    for part in (flat(text), html_text(result.html)):
        assert "et revidert utkast (versjon 2)" in part
        assert "Det erstatter versjon 1." in part
        assert f"Vedlegg: {FILENAME}" in part
        for line in NOTE.splitlines():
            assert line in part
    assert "<h2>Endringer fra forrige versjon</h2>" in result.html
    assert "<p>Fullmaktene under økonomi og kostnadsstyring er presisert.</p>" in result.html


def test_a_revised_draft_without_note(definition: ProcessDefinition) -> None:
    result = rendered(definition, "circulation", version=3, note=None)
    assert result.subject.startswith("Revidert utkast (versjon 3)")
    assert "Det erstatter versjon 2." in flat(result.text)
    assert "Endringer fra forrige versjon" not in result.text
    assert "Endringer fra forrige versjon" not in result.html


def test_treatment_reminder(definition: ProcessDefinition) -> None:
    result = rendered(definition, "treatment_reminder")
    assert result.subject == (
        "Påminnelse: behandling av utkastet – retningslinjer for sekretariatene (vår ref. 20/64758)"
    )
    for part in (flat(result.text), html_text(result.html)):
        assert "utkastet (versjon 2) som vi sendte dere 15. juni 2020" in part
        assert "Vi har ennå ikke fått beskjed om når styringsgruppen skal behandle saken." in part
        assert "når saken skal behandles i styringsgruppen" in part
        assert "Er saken allerede behandlet, ber vi om å få vedtaket." in part
        assert "påminnelse nr." not in part


def test_later_treatment_reminders_are_numbered(definition: ProcessDefinition) -> None:
    result = rendered(definition, "treatment_reminder", reminder_number=2, version=1)
    # "Påminnelse nr. 2" reads like an invoice.
    assert result.subject.startswith("Ny påminnelse: ")
    for part in (flat(result.text), html_text(result.html)):
        assert "nr. 2" not in part
        assert "Vi har også minnet om dette tidligere." in part
        assert "til utkastet som vi sendte dere 15. juni 2020" in part


# Escaping, strictness, wrapping -----------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_data_is_escaped_in_html_and_raw_in_text(
    definition: ProcessDefinition, kind: str, language: str
) -> None:
    evil = "Gruppen <b>fet</b> & co"
    participant = participants_for(definition, kind)[0].model_copy(update={"name": evil})
    update: dict[str, Any] = {}
    if kind == "compilation":
        update = {"late": [evil], "missing": [evil]}
    elif kind == "circulation":
        update = {"note": evil}
    result = render(kind, language, context_for(definition, kind, participant, **update))
    assert "<b>" not in result.html
    assert "Gruppen &lt;b&gt;fet&lt;/b&gt; &amp; co" in result.html
    parser = parse_html(result.html)
    assert all(tag != "b" for tag, _ in parser.tags)
    assert evil in "".join(parser.text)
    assert evil in result.text
    assert "&lt;" not in result.text
    if update:
        assert result.html.count("&lt;b&gt;") >= 2
        assert result.text.count(evil) >= 2


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_context_variable_is_an_error(
    definition: ProcessDefinition, kind: str, language: str
) -> None:
    common: tuple[str, ...] = ("process", "sender", "participant", "letter_date")
    if kind != "compilation":  # the compilation names its source step, not its own step
        common = (*common, "step")
    if kind not in ("compilation", "meeting_cancel"):  # these ask for no answer
        common = (*common, "reply_to")
    for name in (*common, *EXTRAS[kind]):
        context = context_for(definition, kind)
        del context[name]
        with pytest.raises(UndefinedError):
            render(kind, language, context)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_wrapping_never_splits_a_date(
    definition: ProcessDefinition, kind: str, language: str
) -> None:
    context = context_for(definition, kind)
    dates = {
        "meeting_invitation": ["fredag 5. juni 2020 kl. 09.00–12.30"],  # a line of its own
        "meeting_reminder": ["fredag 5. juni 2020."],
        "meeting_cancel": ["fredag 5. juni 2020", "kl. 09.00–12.30"],
        "compilation": ["1. juni 2020"],
        "circulation": [],
        "treatment_reminder": ["15. juni 2020"],
    }[kind]
    for extra in range(80):
        process = definition.process.model_copy(
            update={"title": definition.process.title + " x" * (extra // 2) + "y" * (extra % 2)}
        )
        text = render(kind, language, {**context, "process": process}).text
        for phrase in dates:
            assert phrase in text
        assert "\u00a0" not in text
        assert all(len(line) <= 80 for line in text.splitlines())
