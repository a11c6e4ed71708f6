"""The compilation as a Word document: real headings, a TOC field and one table a theme."""

from __future__ import annotations

import html
import io
from datetime import UTC

import docx
from docx.document import Document
from docx.enum.section import WD_ORIENT
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.shared import Cm, Mm
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from innspill.documents.layout import (
    ATTACHMENT_COLUMNS,
    ATTACHMENTS,
    ATTACHMENTS_NOTE,
    CLOSED,
    COLUMNS,
    CONTENTS,
    LATE,
    MISSING,
    NO_ANSWERS,
    NO_ATTACHMENTS,
    NONE_MISSING,
    NOT_ANSWERED,
    SUMMARY,
    CompilationInput,
    Layout,
    Row,
    ThemeSection,
    layout,
)

TOC_HINT = (
    "Innholdsfortegnelsen er et felt: høyreklikk her og velg «Oppdater felt» "
    "(eller trykk F9) for å vise den med sidetall."
)
_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_WIDTHS = (Cm(4.0), Cm(8.5), Cm(3.5))  # A4 with 2.5 cm margins leaves 16 cm
_TWIPS = tuple(w.twips for w in _WIDTHS)


def _run_text(paragraph: Paragraph, text: str, *, bold: bool = False, italic: bool = False) -> Run:
    """Add a run, turning line breaks and tabs into Word's elements.

    python-docx's own `add_run(text)` walks the text one character at a time in Python;
    splitting with str methods does the same far faster for long texts.
    """
    run = paragraph.add_run()
    if bold:
        run.bold = True
    if italic:
        run.italic = True
    r = run._r
    for index, line in enumerate(text.split("\n")):
        if index:
            r.add_br()
        for j, piece in enumerate(line.split("\t")):
            if j:
                r.add_tab()
            if piece:
                r.add_t(piece)
    return run


def _fill_cell(
    cell: _Cell, paragraphs: list[str], *, bold: bool = False, italic: bool = False
) -> None:
    """Put paragraphs in a cell, using the empty paragraph every new cell starts with."""
    for index, text in enumerate(paragraphs):
        paragraph = cell.paragraphs[0] if index == 0 else cell.add_paragraph()
        _run_text(paragraph, text, bold=bold, italic=italic)


class _Styled:
    """Adds paragraphs in a named style, looking each style id up only once.

    python-docx resolves a style name by scanning every style in the document for each
    paragraph (about 5 ms each); a list of 500 missing participants would cost seconds.
    """

    def __init__(self, document: Document) -> None:
        self.document = document
        self._ids: dict[str, str] = {}

    def para(self, text: str = "", style: str | None = None, **font: bool) -> Paragraph:
        paragraph = self.document.add_paragraph()
        if style is not None:
            if style not in self._ids:
                self._ids[style] = self.document.styles[style].style_id
            paragraph._p.style = self._ids[style]
        if text:
            _run_text(paragraph, text, **font)
        return paragraph


def _field_run(paragraph: Paragraph, kind: str) -> None:
    run = OxmlElement("w:r")
    char = OxmlElement("w:fldChar")
    char.set(qn("w:fldCharType"), kind)
    run.append(char)
    paragraph._p.append(run)


def _add_toc(out: _Styled, entries: list[str]) -> None:
    """A real TOC field Word fills on update, then a plain list that reads without updating."""
    paragraph = out.para()
    _field_run(paragraph, "begin")
    instr_run = OxmlElement("w:r")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = ' TOC \\o "1-2" \\h \\z \\u '
    instr_run.append(instr)
    paragraph._p.append(instr_run)
    _field_run(paragraph, "separate")
    _run_text(paragraph, TOC_HINT, italic=True)
    _field_run(paragraph, "end")
    for entry in entries:
        out.para(entry, "List Number")


def _simple_field(paragraph: Paragraph, instruction: str, placeholder: str) -> None:
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), instruction)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = placeholder
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def _set_language(document: Document, tag: str) -> None:
    """Bokmål as the default language, for spelling and for screen readers."""
    defaults = document.styles.element.find(qn("w:docDefaults"))
    if defaults is None:
        return
    rpr = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}")
    if rpr is None:
        return
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), tag)


def _repeat_header(table: Table) -> None:
    """Repeat the column headings on every page a long table runs over."""
    tr_pr = table.rows[0]._tr.get_or_add_trPr()
    tr_pr.append(OxmlElement("w:tblHeader"))


def _runs_xml(text: str, *, bold: bool = False, italic: bool = False) -> str:
    """One `w:r` with line breaks and tabs as Word's own elements."""
    props = ("<w:b/>" if bold else "") + ("<w:i/>" if italic else "")
    parts = [f"<w:r><w:rPr>{props}</w:rPr>" if props else "<w:r>"]
    for index, line in enumerate(text.split("\n")):
        if index:
            parts.append("<w:br/>")
        for j, piece in enumerate(line.split("\t")):
            if j:
                parts.append("<w:tab/>")
            if piece:
                parts.append(f'<w:t xml:space="preserve">{html.escape(piece, quote=False)}</w:t>')
    parts.append("</w:r>")
    return "".join(parts)


def _cell_xml(width: int, paragraphs: list[str] | tuple[str, ...], **style: bool) -> str:
    body = "".join(f"<w:p>{_runs_xml(p, **style)}</w:p>" for p in paragraphs) or "<w:p/>"
    return f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>{body}</w:tc>'


def _row_xml(row: Row) -> str:
    if row.paragraphs:
        what = _cell_xml(_TWIPS[1], row.paragraphs)
    else:
        what = _cell_xml(_TWIPS[1], [NOT_ANSWERED], italic=True)
    when = [f"<w:p>{_runs_xml(row.received)}</w:p>"]
    if row.late:
        when.append(f"<w:p>{_runs_xml(LATE, bold=True)}</w:p>")
    if row.version > 1:
        when.append(f"<w:p>{_runs_xml(f'versjon {row.version}')}</w:p>")
    if row.closed:
        when.append(f"<w:p>{_runs_xml(CLOSED.format(day=row.closed), italic=True)}</w:p>")
    return (
        "<w:tr>"
        + _cell_xml(_TWIPS[0], row.who)
        + what
        + f'<w:tc><w:tcPr><w:tcW w:w="{_TWIPS[2]}" w:type="dxa"/></w:tcPr>{"".join(when)}</w:tc>'
        + "</w:tr>"
    )


def _theme_table(document: Document, theme: ThemeSection) -> Table:
    # python-docx's Document.add_table has no return annotation; it returns a Table.
    table: Table = document.add_table(rows=1, cols=len(COLUMNS))
    table.style = "Table Grid"
    table.autofit = False
    for column, width in zip(table.columns, _WIDTHS, strict=True):
        column.width = width
    for cell, heading, width in zip(table.rows[0].cells, COLUMNS, _WIDTHS, strict=True):
        cell.width = width
        _fill_cell(cell, [heading], bold=True)
    _repeat_header(table)
    # The rows are written as one XML string and parsed once by lxml. Building them through
    # python-docx's objects (add_row, row.cells, cell.add_paragraph, add_run) creates every
    # element through Python-level lookups: ~3 s for 500 participants x 4 themes of 2 KB,
    # against ~0.4 s this way (bench/compile.py).
    rows = "".join(_row_xml(row) for row in theme.rows)
    holder = parse_xml(f'<w:tbl xmlns:w="{_W_NS}">{rows}</w:tbl>')
    tbl = table._tbl
    for tr in list(holder):
        tbl.append(tr)
    return table


_FILE_WIDTHS = (Cm(4.5), Cm(6.0), Cm(3.5), Cm(2.0))


def _attachment_table(document: Document, page: Layout) -> Table:
    """Every file of every answer: who sent it, its name, type and size."""
    table: Table = document.add_table(rows=1, cols=len(ATTACHMENT_COLUMNS))
    table.style = "Table Grid"
    table.autofit = False
    for cell, heading, width in zip(
        table.rows[0].cells, ATTACHMENT_COLUMNS, _FILE_WIDTHS, strict=True
    ):
        cell.width = width
        _fill_cell(cell, [heading], bold=True)
    _repeat_header(table)
    twips = [w.twips for w in _FILE_WIDTHS]
    rows = "".join(
        "<w:tr>"
        + "".join(
            _cell_xml(width, [text])
            for width, text in zip(
                twips, (files.participant, line.name, line.kind, line.size), strict=True
            )
        )
        + "</w:tr>"
        for files in page.attachments
        for line in files.files
    )
    holder = parse_xml(f'<w:tbl xmlns:w="{_W_NS}">{rows}</w:tbl>')
    for tr in list(holder):
        table._tbl.append(tr)
    return table


def _page_setup(document: Document, page: Layout) -> None:
    """A4 portrait, a header naming the document and a footer with page numbers."""
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Cm(2.5)
    section.top_margin = section.bottom_margin = Cm(2.5)
    header = section.header
    header.is_linked_to_previous = False
    header.paragraphs[0].text = (
        f"{page.organisation} · Vår referanse: {page.reference} · "
        f"Dato: {page.made_on} · Sammenstilling, versjon {page.version}"
    )
    footer = section.footer
    footer.is_linked_to_previous = False
    numbers = footer.paragraphs[0]
    numbers.add_run("Side ")
    _simple_field(numbers, " PAGE ", "1")
    numbers.add_run(" av ")
    _simple_field(numbers, " NUMPAGES ", "1")


def _properties(document: Document, page: Layout) -> None:
    properties = document.core_properties
    properties.title = page.title
    properties.subject = page.process_title
    properties.author = f"{page.organisation}, {page.unit}"
    properties.language = "nb-NO"
    properties.identifier = page.reference
    properties.version = str(page.version)
    properties.revision = page.version
    # python-docx writes these as UTC ("Z") and wants them naive.
    properties.created = page.made_at.astimezone(UTC).replace(tzinfo=None)
    properties.modified = properties.created


def _body(document: Document, page: Layout) -> None:
    out = _Styled(document)
    out.para(page.title, "Title")
    for line in page.meta:
        out.para(line)
    out.para(CONTENTS, "TOC Heading")
    _add_toc(out, [heading for _, heading in page.contents])
    out.para(SUMMARY, "Heading 1")
    for line in page.summary:
        out.para(line)
    for theme in page.themes:
        out.para(theme.title, "Heading 1")
        for question in theme.questions:
            out.para(question, "List Bullet", italic=True)
        if page.answered:
            _theme_table(document, theme)
        else:
            out.para(NO_ANSWERS)
    out.para(ATTACHMENTS, "Heading 1")
    if not page.attachments:
        out.para(NO_ATTACHMENTS)
    else:
        out.para(ATTACHMENTS_NOTE)
        _attachment_table(document, page)
    out.para(MISSING, "Heading 1")
    if not page.missing:
        out.para(NONE_MISSING)
    for name in page.missing:
        out.para(name, "List Bullet")


def build_docx(data: CompilationInput) -> bytes:
    """The compilation as a Word document with real headings, a TOC field and one table a theme."""
    page = layout(data)
    document = docx.Document()
    _set_language(document, "nb-NO")
    _page_setup(document, page)
    _properties(document, page)
    _body(document, page)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
