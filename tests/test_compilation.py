"""The compilation of answers: the DOCX and the HTML page read back as documents, not as text."""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from sqlmodel import Session

from innspill.demo.scenario import reply_mail
from innspill.documents.compilation import (
    GENERAL,
    GENERAL_TITLE,
    LATE,
    NOT_ANSWERED,
    AnswerFile,
    CompilationInput,
    CompiledAnswer,
    build_docx,
    build_html,
    filename,
)
from innspill.documents.files import DOCX as DOCX_TYPE
from innspill.documents.layout import ATTACHMENTS_NOTE
from innspill.documents.store import make_compilation
from innspill.inbound.intake import import_mail
from innspill.models import Document
from innspill.models.db import session_scope
from innspill.process.deadlines import change_deadline
from innspill.process.definition import ProcessDefinition, RequestStep, Theme, load_definition
from innspill.process.loading import get_definition
from innspill.process.workdays import OSLO
from tests.conftest import SEED_ID, load_seed, oslo, tick_and_send

SEED = (
    Path(__file__).resolve().parent.parent
    / "config"
    / "processes"
    / "byvekstavtaler-sekretariat-2020.toml"
)
SCRIPT = "<script>alert(1)</script>"
HEADINGS_BEFORE = ["Sammendrag"]
HEADINGS_AFTER = ["Vedlegg", "Ikke mottatt innspill fra"]


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2020, month, day, hour, minute, tzinfo=OSLO)


@pytest.fixture(scope="module")
def definition() -> ProcessDefinition:
    return load_definition(SEED)


def make_input(definition: ProcessDefinition, *, answered: bool = True) -> CompilationInput:
    step = definition.step("innspill-retningslinjer")
    assert isinstance(step, RequestStep)
    themes = definition.themes_of(step)
    ids = [t.id for t in themes]

    def who(pid: str) -> tuple[str, str, str | None]:
        p = definition.participant(pid)
        return p.id, p.name, p.area

    answers = [
        CompiledAnswer(
            *who("oslo-akershus-sekretariat"),
            received_at=at(5, 28, 10, 5),
            late=False,
            version=1,
            texts={
                "rolle": "Første avsnitt om rollen.\n\nAndre avsnitt,\nmed linjeskift.",
                "kommunikasjon": "Oslo om kommunikasjon.",
                "okonomi": "Oslo om økonomi.",
                "organisering": "Oslo om organisering.",
            },
            attachments=(
                AnswerFile("innspill-oslo-akershus.pdf", "application/pdf", 123_456),
                AnswerFile("Vedlegg: kart.docx", DOCX_TYPE, 2_345_678),
            ),
        ),
        CompiledAnswer(
            *who("bergen-sekretariat"),
            received_at=at(6, 2, 14, 45),
            late=True,
            version=1,
            texts={i: f"Bergen om {i}." for i in ids},
        ),
        CompiledAnswer(
            *who("trondheim-sekretariat"),
            received_at=at(5, 29, 9, 0),
            late=False,
            version=2,
            texts={i: f"Trondheim om {i}: {SCRIPT} & mer." for i in ids},
        ),
        CompiledAnswer(
            *who("nord-jaeren-sekretariat"),
            received_at=at(5, 30, 16, 20),
            late=False,
            version=1,
            texts={"rolle": "Nord-Jæren om rollen.", "okonomi": "Nord-Jæren om økonomi."},
        ),
    ]
    missing = [
        (p.id, p.name)
        for p in (
            definition.participant("grenland-sekretariat"),
            definition.participant("tromso-sekretariat"),
        )
    ]
    if not answered:
        missing = [(p.id, p.name) for p in definition.audience(step.id)]
        answers = []
    return CompilationInput(
        process=definition.process,
        sender=definition.sender,
        step=step,
        themes=themes,
        answers=answers,
        missing=missing,
        version=2,
        made_at=at(6, 3, 8, 30),
        deadline=step.deadline,
    )


def expected_cell(answer: CompiledAnswer, theme_id: str) -> str:
    return answer.texts.get(theme_id, NOT_ANSWERED)


# --------------------------------------------------------------------------- DOCX


@dataclass
class DocxSections:
    """The body split at each Heading 1: its paragraphs' texts and its tables."""

    headings: list[str] = field(default_factory=list)
    paragraphs: dict[str, list[str]] = field(default_factory=dict)
    tables: dict[str, list[Table]] = field(default_factory=dict)
    before_first: list[str] = field(default_factory=list)


def read_docx(data: bytes) -> tuple[docx.document.Document, DocxSections]:
    document = docx.Document(io.BytesIO(data))
    out = DocxSections()
    current: str | None = None
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            style = block.style.name if block.style is not None else ""
            if style.startswith("Heading 1"):
                current = block.text
                out.headings.append(current)
                out.paragraphs[current] = []
                out.tables[current] = []
            elif current is None:
                out.before_first.append(block.text)
            else:
                out.paragraphs[current].append(block.text)
        else:
            assert current is not None, "a table before the first heading"
            out.tables[current].append(block)
    return document, out


def cell_paragraphs(cell) -> list[str]:
    return [p.text for p in cell.paragraphs]


def test_docx_headings_tables_and_rows(definition: ProcessDefinition) -> None:
    data = make_input(definition)
    document, sections = read_docx(build_docx(data))
    titles = [t.title for t in data.themes]
    assert sections.headings == HEADINGS_BEFORE + titles + HEADINGS_AFTER
    assert document.paragraphs[0].style.name == "Title"
    assert document.paragraphs[0].text == (
        "Sammenstilling av innspill: Innspill til retningslinjer for sekretariatene"
    )
    assert "Vår referanse: 20/64758" in sections.before_first
    assert "Dato: 3. juni 2020" in sections.before_first
    assert "Versjon 2" in sections.before_first
    # The plain contents list after the field reads even if the field is never updated.
    for title in titles:
        assert title in sections.before_first

    assert len(document.tables) == len(data.themes) + 1  # and the files, under "Vedlegg"
    for theme in data.themes:
        (table,) = sections.tables[theme.title]
        assert table.style.name == "Table Grid"
        rows = table.rows
        assert len(rows) == 1 + len(data.answers)
        assert [c.text for c in rows[0].cells] == ["Deltaker", "Innspill", "Mottatt"]
        # The guiding questions are there, in italics.
        for question in theme.questions:
            assert question in sections.paragraphs[theme.title]
        for row, answer in zip(rows[1:], data.answers, strict=True):
            who, what, when = row.cells
            assert who.paragraphs[0].text == answer.participant_name
            expected = expected_cell(answer, theme.id)
            assert "\n".join(cell_paragraphs(what)) == expected.replace("\n\n", "\n")
            if answer.late:
                assert cell_paragraphs(when)[:2] == ["2. juni 2020 kl. 14.45", LATE]
            else:
                assert LATE not in when.text
    rolle = sections.tables["Funksjon, rolle og ansvar"][0]
    oslo_cell = rolle.rows[1].cells[1]
    assert len(oslo_cell.paragraphs) == 2  # the blank line made two paragraphs
    organisering = sections.tables["Organisering"][0]
    assert organisering.rows[4].cells[1].text == NOT_ANSWERED
    assert organisering.rows[4].cells[1].paragraphs[0].runs[0].italic
    assert SCRIPT in organisering.rows[3].cells[1].text
    assert "versjon 2" in organisering.rows[3].cells[2].text


def test_docx_toc_field_questions_summary_lists_and_header(definition: ProcessDefinition) -> None:
    data = make_input(definition)
    document, sections = read_docx(build_docx(data))
    instructions = [el.text for el in document.element.body.iter(qn("w:instrText"))]
    assert any('TOC \\o "1-2" \\h \\z \\u' in text for text in instructions)
    kinds = [el.get(qn("w:fldCharType")) for el in document.element.body.iter(qn("w:fldChar"))]
    assert kinds == ["begin", "separate", "end"]

    question = data.themes[0].questions[0]
    (paragraph,) = [p for p in document.paragraphs if p.text == question]
    assert all(run.italic for run in paragraph.runs)

    summary = " ".join(sections.paragraphs["Sammendrag"])
    assert "4 av 6 deltakere" in summary
    assert "Mottatt etter fristen: Sekretariatet for byvekstavtalen i Bergen" in summary
    assert "Nord-Jæren (ikke: Kommunikasjon" in summary

    missing = sections.paragraphs["Ikke mottatt innspill fra"]
    assert missing == [name for _, name in data.missing]
    # Every file of every answer: who sent it, its name, type and size; the files travel
    # beside the document (in the drafters' mail), which says so.
    assert sections.paragraphs["Vedlegg"] == [ATTACHMENTS_NOTE]
    (files,) = sections.tables["Vedlegg"]
    oslo_name = "Sekretariatet for byvekstavtalen i Oslo og Akershus"
    assert [[c.text for c in row.cells] for row in files.rows] == [
        ["Deltaker", "Fil", "Type", "Størrelse"],
        [oslo_name, "innspill-oslo-akershus.pdf", "PDF", "123 kB"],
        [oslo_name, "Vedlegg: kart.docx", "Word (.docx)", "2,3 MB"],
    ]

    header = " ".join(p.text for p in document.sections[0].header.paragraphs)
    assert "20/64758" in header
    assert "3. juni 2020" in header
    assert document.core_properties.title.startswith("Sammenstilling av innspill")


def test_docx_keeps_latest_version_and_drops_invalid_characters(
    definition: ProcessDefinition,
) -> None:
    data = make_input(definition)
    older = replace(data.answers[2], version=1, texts={"rolle": "Gammel tekst."})
    odd = replace(data.answers[0], texts={"rolle": "Limt inn\x0bfra\x00 Word\x0c."})
    data = replace(data, answers=[older, odd, *data.answers[1:]])
    _, sections = read_docx(build_docx(data))
    rolle = sections.tables["Funksjon, rolle og ansvar"][0]
    assert len(rolle.rows) == 1 + 4  # the older version of Trondheim's answer is not shown
    texts = {row.cells[0].paragraphs[0].text: row.cells[1].text for row in rolle.rows[1:]}
    assert texts["Sekretariatet for byvekstavtalen i Trondheim"].startswith("Trondheim om rolle")
    assert texts["Sekretariatet for byvekstavtalen i Oslo og Akershus"] == "Limt innfra Word."
    assert "Gammel tekst." not in build_html(data)


# --------------------------------------------------------------------------- HTML


@dataclass
class HtmlTable:
    caption: str = ""
    head: list[tuple[str, str | None]] = field(default_factory=list)  # (text, scope)
    rows: list[list[str]] = field(default_factory=list)
    paragraphs: list[list[int]] = field(default_factory=list)  # <p> count per cell


class Page(HTMLParser):
    """Collects what a reader meets: title, h1, h2 with ids, nav links, tables, text per h2."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.title = ""
        self.h1 = ""
        self.h2: list[tuple[str | None, str]] = []
        self.nav_links: list[tuple[str, str]] = []
        self.tables: list[HtmlTable] = []
        self.table_h2: list[str] = []  # the h2 each table follows
        self.text_by_h2: dict[str, list[str]] = {}
        self.tags: dict[str, int] = {}
        self.after_h1: list[str] = []  # text between the h1 and the nav
        self._seen_h1 = False
        self._capture: str | None = None
        self._buffer: list[str] = []
        self._h2_id: str | None = None
        self._href: str | None = None
        self._in_nav = False
        self._in_head = False
        self._table: HtmlTable | None = None
        self._cell: list[str] | None = None
        self._cell_scope: str | None = None
        self._cell_paragraphs = 0
        self._row: list[str] | None = None
        self._row_paragraphs: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "html":
            self.lang = attributes.get("lang")
        elif tag in ("title", "h1", "h2", "caption", "a"):
            self._capture, self._buffer = tag, []
            self._h2_id = attributes.get("id") if tag == "h2" else self._h2_id
            self._href = attributes.get("href") if tag == "a" else self._href
        elif tag == "nav":
            self._in_nav = True
            self._seen_h1 = False
        elif tag == "table":
            self._table = HtmlTable()
            self.tables.append(self._table)
            self.table_h2.append(self.h2[-1][1] if self.h2 else "")
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row, self._row_paragraphs = [], []
        elif tag in ("th", "td"):
            self._cell, self._cell_scope, self._cell_paragraphs = [], attributes.get("scope"), 0
        elif tag == "p" and self._cell is not None:
            self._cell_paragraphs += 1
            if self._cell:
                self._cell.append("\n\n")  # a new paragraph reads as a blank line
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._capture:
            text = "".join(self._buffer).strip()
            if tag == "title":
                self.title = text
            elif tag == "h1":
                self.h1 = text
                self._seen_h1 = True
            elif tag == "h2":
                self.h2.append((self._h2_id, text))
                self.text_by_h2[text] = []
            elif tag == "caption" and self._table is not None:
                self._table.caption = text
            elif tag == "a" and self._in_nav and self._href:
                self.nav_links.append((self._href, text))
            self._capture = None
        elif tag == "nav":
            self._in_nav = False
        elif tag == "thead":
            self._in_head = False
        elif tag in ("th", "td") and self._cell is not None and self._table is not None:
            text = "".join(self._cell).strip()
            if self._in_head:
                self._table.head.append((text, self._cell_scope))
            elif self._row is not None:
                self._row.append(text)
                self._row_paragraphs.append(self._cell_paragraphs)
            self._cell = None
        elif tag == "tr" and self._row and self._table is not None and not self._in_head:
            self._table.rows.append(self._row)
            self._table.paragraphs.append(self._row_paragraphs)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._seen_h1 and self._capture is None and data.strip():
            self.after_h1.append(data.strip())
        if self._capture is not None:
            self._buffer.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self.h2 and self._capture != "h2" and data.strip():
            self.text_by_h2[self.h2[-1][1]].append(data.strip())


def read_html(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


def test_html_structure_tables_and_escaping(definition: ProcessDefinition) -> None:
    data = make_input(definition)
    page = read_html(build_html(data))
    titles = [t.title for t in data.themes]
    assert page.lang == "nb"
    assert (
        page.title
        == page.h1
        == ("Sammenstilling av innspill: Innspill til retningslinjer for sekretariatene")
    )
    assert [text for _, text in page.h2] == ["Innhold", *HEADINGS_BEFORE, *titles, *HEADINGS_AFTER]
    ids = {text: ident for ident, text in page.h2}
    # Every theme is in the nav and its link leads to its heading.
    links = dict((text, href) for href, text in page.nav_links)
    for title in titles:
        assert links[title] == f"#{ids[title]}"

    # The script is text inside a cell, never an element.
    assert page.tags.get("script", 0) == 0
    assert page.table_h2 == [*titles, "Vedlegg"]
    for theme, table in zip(data.themes, page.tables[:-1], strict=True):
        assert theme.title in table.caption
        assert table.head == [("Deltaker", "col"), ("Innspill", "col"), ("Mottatt", "col")]
        assert len(table.rows) == len(data.answers)
        for row, answer in zip(table.rows, data.answers, strict=True):
            who, what, when = row
            assert who.splitlines()[0] == answer.participant_name
            assert what == expected_cell(answer, theme.id)
            assert (LATE in when) == answer.late
            if answer.late:
                assert when.startswith("2. juni 2020 kl. 14.45")
    rolle = page.tables[0]
    assert rolle.paragraphs[0][1] == 2  # Oslo's two paragraphs stay two <p>
    assert SCRIPT in rolle.rows[2][1]
    assert rolle.rows[2][1] == f"Trondheim om rolle: {SCRIPT} & mer."

    summary = " ".join(page.text_by_h2["Sammendrag"])
    assert "4 av 6 deltakere" in summary
    assert "Bergen (2. juni 2020 kl. 14.45)" in summary
    missing = page.text_by_h2["Ikke mottatt innspill fra"]
    assert missing == [name for _, name in data.missing]
    files = page.tables[-1]
    assert files.head == [(c, "col") for c in ("Deltaker", "Fil", "Type", "Størrelse")]
    assert files.rows[0] == [
        "Sekretariatet for byvekstavtalen i Oslo og Akershus",
        "innspill-oslo-akershus.pdf",
        "PDF",
        "123 kB",
    ]


def test_html_meta_lines_between_title_and_contents(definition: ProcessDefinition) -> None:
    page = read_html(build_html(make_input(definition)))
    assert page.after_h1 == ["Vår referanse: 20/64758", "Dato: 3. juni 2020", "Versjon 2"]


def test_html_escapes_names_and_titles(definition: ProcessDefinition) -> None:
    data = make_input(definition)
    evil = replace(data.answers[0], participant_name='A & B <img src=x onerror="x">')
    theme = data.themes[0].model_copy(update={"title": "Rolle <b>fet</b>"})
    data = replace(data, answers=[evil], themes=[theme])
    page = read_html(build_html(data))
    assert "img" not in page.tags and "b" not in page.tags
    assert page.tables[0].rows[0][0].splitlines()[0] == 'A & B <img src=x onerror="x">'
    assert ("tema-rolle", "Rolle <b>fet</b>") in page.h2


def test_docx_and_html_show_the_same_sections_and_cells(definition: ProcessDefinition) -> None:
    """Both writers walk one layout: the same headings, the same rows and cells in each theme."""
    data = make_input(definition)
    _, sections = read_docx(build_docx(data))
    page = read_html(build_html(data))
    assert [text for _, text in page.h2][1:] == sections.headings
    for table, heading in zip(page.tables, page.table_h2, strict=True):
        (word,) = sections.tables[heading]
        word_rows = [
            ["\n".join(cell_paragraphs(cell)) for cell in row.cells] for row in word.rows[1:]
        ]
        html_rows = [[cell.replace("\n\n", "\n") for cell in row] for row in table.rows]
        assert html_rows == word_rows
    for heading in ("Sammendrag", "Ikke mottatt innspill fra"):
        assert page.text_by_h2[heading] == sections.paragraphs[heading]


# --------------------------------------------------------------------------- empty and names


def test_empty_compilation_still_builds(definition: ProcessDefinition) -> None:
    data = make_input(definition, answered=False)
    document, sections = read_docx(build_docx(data))
    titles = [t.title for t in data.themes]
    assert sections.headings == HEADINGS_BEFORE + titles + HEADINGS_AFTER
    assert document.tables == []
    summary = " ".join(sections.paragraphs["Sammendrag"])
    assert "Ingen innspill er mottatt (0 av 9 deltakere har svart)" in summary
    assert len(sections.paragraphs["Ikke mottatt innspill fra"]) == 9
    page = read_html(build_html(data))
    assert page.tables == []
    assert "Ingen innspill er mottatt" in " ".join(page.text_by_h2["Sammendrag"])
    assert page.text_by_h2[titles[0]][-1] == "Ingen innspill er mottatt."


def test_filename(definition: ProcessDefinition) -> None:
    data = make_input(definition)
    assert filename(data, "docx") == "sammenstilling-innspill-retningslinjer-v2.docx"
    assert filename(data, ".html") == "sammenstilling-innspill-retningslinjer-v2.html"
    assert filename(replace(data, version=1), "pdf").endswith("-v1.pdf")
    with pytest.raises(ValueError):
        filename(data, "../")


# --------------------------------------------------------------------------- from real replies


def _docx_text(data: bytes) -> tuple[list[str], dict[str, list[list[str]]]]:
    """The body's paragraphs and, per Heading 1, its tables' rows as cell texts."""
    document = docx.Document(io.BytesIO(data))
    paragraphs = [p.text for p in document.paragraphs]
    tables: dict[str, list[list[str]]] = {}
    heading = ""
    for block in document.element.body.iterchildren():
        if block.tag == qn("w:p"):
            paragraph = Paragraph(block, document)
            if paragraph.style is not None and paragraph.style.name == "Heading 1":
                heading = paragraph.text
        elif block.tag == qn("w:tbl"):
            table = Table(block, document)
            tables.setdefault(heading, []).extend(
                ["\n".join(p.text for p in cell.paragraphs) for cell in row.cells]
                for row in table.rows[1:]
            )
    return paragraphs, tables


def test_a_compilation_of_mailed_replies_after_an_extension(engine, settings) -> None:  # type: ignore[no-untyped-def]
    """Replies as people write them, the step's deadline moved to 5 June and one person's to
    10 June: the compilation shows the deadline in effect and the extension, no greeting or
    signature as a theme, complete answers as complete, and late only what came late."""
    step_id = "innspill-retningslinjer"
    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 3, 30, 9, 30))
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        change_deadline(
            session, definition, step_id=step_id, deadline=date(2020, 6, 5), at=oslo(2020, 5, 25)
        )
        change_deadline(
            session,
            definition,
            step_id=step_id,
            deadline=date(2020, 6, 10),
            participant_id="grenland-sekretariat",
            at=oslo(2020, 5, 26),
        )
    every = {
        "rolle": "Sekretariatet skal støtte styringsgruppen.",
        "kommunikasjon": "Felles nettside.",
        "okonomi": "Delt likt mellom partene.",
        "organisering": "En felles stilling i fylket.",
    }
    replies = [  # who, when, texts, body (empty: the demo's own greeting)
        ("bergen-sekretariat", oslo(2020, 5, 28, 10), every, ""),
        ("oslo-akershus-sekretariat", oslo(2020, 6, 4, 10), every, ""),  # by the moved deadline
        ("trondheim-sekretariat", oslo(2020, 6, 8, 10), every, "Hei alle,"),  # late
        ("grenland-sekretariat", oslo(2020, 6, 9, 10), {"rolle": "Kun om rollen."}, "God dag."),
    ]
    for uid, (who, when, texts, body) in enumerate(replies):
        with session_scope(engine) as session:
            definition = get_definition(session, SEED_ID)
            raw = reply_mail(session, definition, step_id, who, when, texts=texts, body=body)
            result = import_mail(
                session, raw, source="test", uid=str(uid), received_at=when, now=when
            )
            assert result.message.status == "accepted", result.message.reason
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        made = make_compilation(session, definition, "sammenstilling", now=oslo(2020, 6, 11, 9))
        made_id = made.id
    with Session(engine) as session:
        document = session.get(Document, made_id)
        assert document is not None
        content, page = document.content, document.html or ""

    paragraphs, tables = _docx_text(content)
    html = read_html(page)
    headings = [t for _, t in html.h2]
    for text in (paragraphs, [*html.text_by_h2["Sammendrag"], *headings]):
        joined = "\n".join(text)
        assert "Frist for innspill: 5. juni 2020 (endret fra 1. juni 2020)." in joined
        assert "Utsatt frist for Sekretariatet for byvekstavtalen i Grenland (10. juni 2020)." in (
            joined.replace("\n", " ")
        )
        assert "Mottatt etter fristen: Sekretariatet for byvekstavtalen i Trondheim" in joined
        # Three complete answers are complete; only Grenland skipped themes.
        assert (
            "Svarte ikke på alle temaene: Sekretariatet for byvekstavtalen i Grenland (ikke:"
            in (joined.replace("\n", " "))
        )
        assert "Innspill uten tema" not in joined and "Generelle merknader" not in joined
    cells = [cell for rows in tables.values() for row in rows for cell in row]
    assert not [c for c in cells if "hilsen" in c.lower() or c.startswith(("Hei", "God dag"))]
    assert not [c for c in cells if "innspillet vårt" in c]
    rolle = {row[0].split("\n")[0]: row for row in tables["Funksjon, rolle og ansvar"]}
    assert rolle["Sekretariatet for byvekstavtalen i Bergen"][1] == every["rolle"]
    late = {
        who.split("\n")[0]
        for who, _, received in tables["Funksjon, rolle og ansvar"]
        if LATE in received
    }
    assert late == {"Sekretariatet for byvekstavtalen i Trondheim"}


def test_general_remarks_are_a_section_and_never_a_missing_theme(
    definition: ProcessDefinition,
) -> None:
    data = make_input(definition)
    oslo_answer = data.answers[0]
    with_general = replace(
        oslo_answer, texts={**oslo_answer.texts, GENERAL: "Tidsplanen er stram."}
    )
    data = replace(
        data,
        answers=[with_general, *data.answers[1:]],
        themes=[Theme.model_construct(id=GENERAL, title=GENERAL_TITLE, questions=[]), *data.themes],
    )
    html = read_html(build_html(data))
    assert GENERAL_TITLE in [t for _, t in html.h2]
    _, tables = _docx_text(build_docx(data))
    assert [row[0].split("\n")[0] for row in tables[GENERAL_TITLE]] == [
        oslo_answer.participant_name
    ]
    assert tables[GENERAL_TITLE][0][1] == "Tidsplanen er stram."
    summary = " ".join(html.text_by_h2["Sammendrag"])
    # Oslo answered every theme asked: not partial, although others wrote general remarks.
    assert f"{oslo_answer.participant_name} (ikke:" not in summary
    assert f"{data.answers[1].participant_name} (ikke:" not in summary  # Bergen: complete
    assert "(ikke: Generelle merknader" not in summary
