"""What a compilation shows, as one plain structure that the DOCX and HTML writers both walk."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from innspill.process.definition import ProcessInfo, RequestStep, Sender, Theme
from innspill.process.nbformat import day_off, nbdate, nbtime
from innspill.process.workdays import OSLO


@dataclass(frozen=True)
class AnswerFile:
    """A file that came with an answer, as the compilation lists it (the bytes travel beside
    the document: innspill.outbound.step_parts attaches them to the drafters' mail)."""

    name: str
    content_type: str
    size: int  # bytes


@dataclass(frozen=True)
class CompiledAnswer:
    """One participant's answer to the request step: the version that counts."""

    participant_id: str
    participant_name: str
    area: str | None
    received_at: datetime  # aware
    late: bool
    version: int  # a participant may answer again; the one received last counts
    texts: dict[str, str]  # theme id -> text (may lack some themes)
    attachments: tuple[AnswerFile, ...] = ()
    # registered after the step had closed (a held message assigned late, say): the day it closed
    closed_before: date | None = None


@dataclass(frozen=True)
class CompilationInput:
    """Everything a compilation shows; the engine gathers it, this module only lays it out."""

    process: ProcessInfo
    sender: Sender
    step: RequestStep  # the request step whose answers are compiled
    themes: list[Theme]
    answers: list[CompiledAnswer]
    missing: list[tuple[str, str]]  # (participant id, name) of those who did not answer
    version: int  # version of this compilation (1, 2, ...)
    made_at: datetime  # aware
    deadline: date  # the deadline in effect for the whole step (after any change)
    # (name, date) of participants whose own deadline was extended past `deadline`
    extensions: list[tuple[str, date]] = field(default_factory=list)
    # The step's deadline as set, when it fell on a weekend or holiday and runs to `deadline`.
    written_deadline: date | None = None
    # its document number in the case (20/64758-31), when the process keeps a journal
    document_reference: str | None = None


#: The theme id of text that names no theme (the same key `innspill.inbound.intake` stores).
GENERAL = ""
GENERAL_TITLE = "Generelle merknader"
NOT_ANSWERED = "(ikke besvart for dette temaet)"
LATE = "(etter fristen)"
#: Under the time of an answer registered after the step closed (a held message assigned late).
CLOSED = "(registrert etter at innspillsrunden ble stengt {day})"
COLUMNS = ("Deltaker", "Innspill", "Mottatt")
CONTENTS = "Innhold"
SUMMARY = "Sammendrag"
ATTACHMENTS = "Vedlegg"
MISSING = "Ikke mottatt innspill fra"
NO_ANSWERS = "Ingen innspill er mottatt."
NO_ATTACHMENTS = "Ingen vedlegg er mottatt."
ATTACHMENT_COLUMNS = ("Deltaker", "Fil", "Type", "Størrelse")
ATTACHMENTS_NOTE = (
    "Filene følger som vedlegg til e-posten som sammenstillingen sendes til utrederne med; "
    "navnet på hver fil begynner der med deltakerens navn. De kan også lastes ned fra "
    "dashbordet, på siden til hver deltaker."
)
#: What kind of file each type is, in words a reader knows.
TYPE_NAMES = {
    "application/pdf": "PDF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word (.docx)",
    "application/vnd.oasis.opendocument.text": "OpenDocument-tekst (.odt)",
}
NONE_MISSING = "Innspill er mottatt fra alle deltakerne."

# Characters XML 1.0 forbids (lxml refuses them) and HTML treats as errors; answers pasted
# from other programs sometimes carry them (vertical tab, form feed, NUL).
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_ASCII_UNSAFE = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class Row:
    """One participant's answer to one theme: a row of the theme's table."""

    who: tuple[str, ...]  # the name, then the area when the name does not say it
    paragraphs: tuple[str, ...]  # empty when the participant did not answer this theme
    received_at: datetime  # in Oslo time
    received: str  # `2. juni 2020 kl. 14.45`
    late: bool
    version: int  # shown when above 1
    closed: str = ""  # `30. juni 2020` when registered after the step closed that day


@dataclass(frozen=True)
class ThemeSection:
    """One theme: its heading, its questions and one row per participant who answered."""

    anchor: str  # ASCII id, unique per theme id, for links to the section
    title: str
    questions: tuple[str, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class FileLine:
    """One file in the list of attachments: its name, type and size in words."""

    name: str
    kind: str  # "PDF", "Word (.docx)", ...
    size: str  # "120 kB", "1,4 MB"


@dataclass(frozen=True)
class Files:
    """The files one participant sent with the answer."""

    participant: str
    files: tuple[FileLine, ...]


@dataclass(frozen=True)
class Layout:
    """The compilation as sections of plain, cleaned text; writers only add the markup."""

    title: str
    process_title: str
    organisation: str
    unit: str
    reference: str
    made_at: datetime  # aware
    made_on: str  # `3. juni 2020`, the day it was made in Oslo
    version: int
    meta: tuple[str, ...]  # reference, date and version, under the title
    contents: tuple[tuple[str, str], ...]  # (anchor, heading) of every section
    summary: tuple[str, ...]
    themes: tuple[ThemeSection, ...]
    answered: bool  # False: no answer at all, the themes have no tables
    attachments: tuple[Files, ...]
    missing: tuple[str, ...]


def clean(text: str) -> str:
    """Line breaks as `\\n`, without the characters XML and HTML refuse."""
    return _INVALID.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def paragraphs(text: str) -> list[str]:
    """Blank lines separate paragraphs; single line breaks stay inside a paragraph."""
    cleaned = clean(text).strip()
    return [p for p in _PARAGRAPH_BREAK.split(cleaned) if p.strip()] if cleaned else []


def when(moment: datetime) -> str:
    """`2. juni 2020 kl. 14.45` in Oslo time, whatever zone the moment was stored in."""
    local = moment.astimezone(OSLO)
    return f"{nbdate(local.date())} {nbtime(local)}"


def size_label(size: int) -> str:
    """`950 byte`, `120 kB`, `1,4 MB`: a file's size as a Norwegian reader writes it."""
    if size < 1000:
        return f"{size} byte"
    if size < 1_000_000:
        return f"{round(size / 1000)} kB"
    return f"{size / 1_000_000:.1f} MB".replace(".", ",")


def file_line(file: AnswerFile) -> FileLine:
    kind = TYPE_NAMES.get(file.content_type, file.content_type)
    return FileLine(clean(file.name), kind, size_label(file.size))


def latest(answers: Sequence[CompiledAnswer]) -> list[CompiledAnswer]:
    """One answer per participant, the one received last, in the order the engine gave them."""
    best: dict[str, CompiledAnswer] = {}
    for answer in answers:
        current = best.get(answer.participant_id)
        if current is None or (answer.received_at, answer.version) > (
            current.received_at,
            current.version,
        ):
            best[answer.participant_id] = answer
    # Keep the first position of each participant so that a new version does not reorder rows.
    order: dict[str, int] = {}
    for index, answer in enumerate(answers):
        order.setdefault(answer.participant_id, index)
    return sorted(best.values(), key=lambda a: order[a.participant_id])


def _answered(answer: CompiledAnswer, theme: Theme) -> bool:
    return bool(paragraphs(answer.texts.get(theme.id, "")))


def _names(items: Iterable[str]) -> str:
    """`A, B og C`."""
    names = list(items)
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} og {names[-1]}"


def title(data: CompilationInput) -> str:
    return f"Sammenstilling av innspill: {data.step.title}"


def _meta_lines(data: CompilationInput) -> list[str]:
    return [
        f"Vår referanse: {data.document_reference or data.process.reference}",
        f"Dato: {nbdate(data.made_at.astimezone(OSLO).date())}",
        f"Versjon {data.version}",
    ]


def summary_lines(data: CompilationInput) -> list[str]:
    """The short summary in plain sentences, shared by the DOCX and the HTML page."""
    answers = latest(data.answers)
    total = len(answers) + len(data.missing)
    notes = []
    if (data.written_deadline or data.deadline) != data.step.deadline:
        notes.append(f"endret fra {nbdate(data.step.deadline)}")
    if data.written_deadline:
        written = data.written_deadline
        notes.append(
            f"satt til {nbdate(written)}, som er {day_off(written)}, og forlenget til neste "
            "arbeidsdag"
        )
    said = f" ({'; '.join(notes)})" if notes else ""
    lines = [f"Frist for innspill: {nbdate(data.deadline)}{said}."]
    if data.extensions:
        lines.append(
            "Utsatt frist for "
            + _names(f"{name} ({nbdate(day)})" for name, day in data.extensions)
            + "."
        )
    if not answers:
        lines.append(f"Ingen innspill er mottatt (0 av {total} deltakere har svart).")
    else:
        lines.append(f"Innspill er mottatt fra {len(answers)} av {total} deltakere.")
    late = [a for a in answers if a.late]
    if late:
        lines.append(
            "Mottatt etter fristen: "
            + _names(f"{a.participant_name} ({when(a.received_at)})" for a in late)
            + "."
        )
    elif answers:
        lines.append("Alle innspillene kom innen fristen.")
    partial = []
    for answer in answers:
        # Complete means every theme asked has text; general remarks are no theme asked.
        skipped = [t.title for t in data.themes if t.id != GENERAL and not _answered(answer, t)]
        if skipped:
            partial.append(f"{answer.participant_name} (ikke: {', '.join(skipped)})")
    if partial:
        lines.append("Svarte ikke på alle temaene: " + "; ".join(partial) + ".")
    if data.missing:
        lines.append(f"{MISSING}: " + _names(name for _, name in data.missing) + ".")
    else:
        lines.append("Alle deltakerne har sendt innspill.")
    return [clean(line) for line in lines]


def filename(data: CompilationInput, ext: str) -> str:
    """`sammenstilling-STEP-v2.docx` for the request step STEP: ASCII only, safe in any archive."""
    stem = _ASCII_UNSAFE.sub("-", data.step.id.lower()).strip("-") or "steg"
    suffix = _ASCII_UNSAFE.sub("", ext.lower().lstrip("."))
    if not suffix:
        raise ValueError(f"not a file extension: {ext!r}")
    return f"sammenstilling-{stem}-v{data.version}.{suffix}"


def _anchor(theme: Theme) -> str:
    return "tema-" + (_ASCII_UNSAFE.sub("-", theme.id.lower()).strip("-") or "x")


def _row(answer: CompiledAnswer, theme: Theme) -> Row:
    who = [clean(answer.participant_name)]
    if answer.area and answer.area not in answer.participant_name:
        who.append(clean(answer.area))
    local = answer.received_at.astimezone(OSLO)
    return Row(
        who=tuple(who),
        paragraphs=tuple(paragraphs(answer.texts.get(theme.id, ""))),
        received_at=local,
        received=when(local),
        late=answer.late,
        version=answer.version,
        closed=nbdate(answer.closed_before) if answer.closed_before else "",
    )


def _theme(theme: Theme, answers: list[CompiledAnswer]) -> ThemeSection:
    return ThemeSection(
        anchor=_anchor(theme),
        title=clean(theme.title),
        questions=tuple(clean(q) for q in theme.questions),
        rows=tuple(
            _row(answer, theme)
            for answer in answers
            # General remarks list only those who made some: nobody skipped them.
            if theme.id != GENERAL or _answered(answer, theme)
        ),
    )


def layout(data: CompilationInput) -> Layout:
    """Lay the input out: the latest answer per participant, theme by theme, all text cleaned."""
    answers = latest(data.answers)
    themes = tuple(_theme(theme, answers) for theme in data.themes)
    contents = [
        ("sammendrag", SUMMARY),
        *((t.anchor, t.title) for t in themes),
        ("vedlegg", ATTACHMENTS),
        ("ikke-mottatt", MISSING),
    ]
    return Layout(
        title=clean(title(data)),
        process_title=clean(data.process.title),
        organisation=clean(data.sender.organisation),
        unit=clean(data.sender.unit),
        reference=clean(data.document_reference or data.process.reference),
        made_at=data.made_at,
        made_on=nbdate(data.made_at.astimezone(OSLO).date()),
        version=data.version,
        meta=tuple(clean(line) for line in _meta_lines(data)),
        contents=tuple(contents),
        summary=tuple(summary_lines(data)),
        themes=themes,
        answered=bool(answers),
        attachments=tuple(
            Files(clean(a.participant_name), tuple(file_line(f) for f in a.attachments))
            for a in answers
            if a.attachments
        ),
        missing=tuple(clean(name) for _, name in data.missing),
    )
