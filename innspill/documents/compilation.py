"""The compilation (sammenstilling) of answers theme by theme, as a DOCX and an HTML page."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import docx
from docx.enum.section import WD_ORIENT
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.shared import Cm, Mm
from docx.table import Table
from docx.text.paragraph import Paragraph

from innspill.process.definition import ProcessInfo, RequestStep, Sender, Theme
from innspill.process.nbformat import nbdate, nbtime
from innspill.process.workdays import OSLO


@dataclass(frozen=True)
class CompiledAnswer:
    """One participant's (latest) answer to the request step."""

    participant_id: str
    participant_name: str
    area: str | None
    received_at: datetime  # aware
    late: bool
    version: int  # a participant may answer again; the latest version counts
    texts: dict[str, str]  # theme id -> text (may lack some themes)
    attachments: tuple[str, ...] = ()  # file names


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
    deadline: date


NOT_ANSWERED = "(ikke besvart for dette temaet)"
LATE = "(etter fristen)"
COLUMNS = ("Deltaker", "Innspill", "Mottatt")
SUMMARY = "Sammendrag"
ATTACHMENTS = "Vedlegg"
MISSING = "Ikke mottatt innspill fra"
TOC_HINT = (
    "Innholdsfortegnelsen er et felt: høyreklikk her og velg «Oppdater felt» "
    "(eller trykk F9) for å vise den med sidetall."
)

# Characters XML 1.0 forbids (lxml refuses them) and HTML treats as errors; answers pasted
# from other programs sometimes carry them (vertical tab, form feed, NUL).
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_ASCII_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def _clean(text: str) -> str:
    return _INVALID.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _paragraphs(text: str) -> list[str]:
    """Blank lines separate paragraphs; single line breaks stay inside a paragraph."""
    cleaned = _clean(text).strip()
    return [p for p in _PARAGRAPH_BREAK.split(cleaned) if p.strip()] if cleaned else []


def _when(moment: datetime) -> str:
    """`2. juni 2020 kl. 14.45` in Oslo time, whatever zone the moment was stored in."""
    local = moment.astimezone(OSLO)
    return f"{nbdate(local.date())} {nbtime(local)}"


def _latest(answers: Sequence[CompiledAnswer]) -> list[CompiledAnswer]:
    """One answer per participant, the latest version, in the order the engine gave them."""
    best: dict[str, CompiledAnswer] = {}
    for answer in answers:
        current = best.get(answer.participant_id)
        if current is None or (answer.version, answer.received_at) > (
            current.version,
            current.received_at,
        ):
            best[answer.participant_id] = answer
    # Keep the first position of each participant so that a new version does not reorder rows.
    order: dict[str, int] = {}
    for index, answer in enumerate(answers):
        order.setdefault(answer.participant_id, index)
    return sorted(best.values(), key=lambda a: order[a.participant_id])


def _answered(answer: CompiledAnswer, theme: Theme) -> bool:
    return bool(_paragraphs(answer.texts.get(theme.id, "")))


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
        f"Vår referanse: {data.process.reference}",
        f"Dato: {nbdate(data.made_at.astimezone(OSLO).date())}",
        f"Versjon {data.version}",
    ]


def summary_lines(data: CompilationInput) -> list[str]:
    """The short summary in plain sentences, shared by the DOCX and the HTML page."""
    answers = _latest(data.answers)
    total = len(answers) + len(data.missing)
    lines = [f"Frist for innspill: {nbdate(data.deadline)}."]
    if not answers:
        lines.append(f"Ingen innspill er mottatt (0 av {total} deltakere har svart).")
    else:
        lines.append(f"Innspill er mottatt fra {len(answers)} av {total} deltakere.")
    late = [a for a in answers if a.late]
    if late:
        lines.append(
            "Mottatt etter fristen: "
            + _names(f"{a.participant_name} ({_when(a.received_at)})" for a in late)
            + "."
        )
    elif answers:
        lines.append("Alle innspillene kom innen fristen.")
    partial = []
    for answer in answers:
        skipped = [t.title for t in data.themes if not _answered(answer, t)]
        if skipped:
            partial.append(f"{answer.participant_name} (ikke: {', '.join(skipped)})")
    if partial:
        lines.append("Svarte ikke på alle temaene: " + "; ".join(partial) + ".")
    if data.missing:
        lines.append(f"{MISSING}: " + _names(name for _, name in data.missing) + ".")
    else:
        lines.append("Alle deltakerne har sendt innspill.")
    return [_clean(line) for line in lines]


def filename(data: CompilationInput, ext: str) -> str:
    """`sammenstilling-innspill-retningslinjer-v2.docx`: ASCII only, safe in any archive."""
    stem = _ASCII_UNSAFE.sub("-", data.step.id.lower()).strip("-") or "steg"
    suffix = _ASCII_UNSAFE.sub("", ext.lower().lstrip("."))
    if not suffix:
        raise ValueError(f"not a file extension: {ext!r}")
    return f"sammenstilling-{stem}-v{data.version}.{suffix}"


# --------------------------------------------------------------------------- DOCX


def _run_text(paragraph: Paragraph, text: str, *, bold: bool = False, italic: bool = False):
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


def _fill_cell(cell, paragraphs: list[str], *, bold: bool = False, italic: bool = False):
    """Put paragraphs in a cell, using the empty paragraph every new cell starts with."""
    for index, text in enumerate(paragraphs):
        paragraph = cell.paragraphs[0] if index == 0 else cell.add_paragraph()
        _run_text(paragraph, text, bold=bold, italic=italic)


class _Styled:
    """Adds paragraphs in a named style, looking each style id up only once.

    python-docx resolves a style name by scanning every style in the document for each
    paragraph (about 5 ms each); a list of 500 missing participants would cost seconds.
    """

    def __init__(self, document) -> None:
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
        out.para(_clean(entry), "List Number")


def _simple_field(paragraph: Paragraph, instruction: str, placeholder: str) -> None:
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), instruction)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = placeholder
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def _set_language(document, tag: str) -> None:
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


_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _xml_text(text: str) -> str:
    return html.escape(text, quote=False)


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
                parts.append(f'<w:t xml:space="preserve">{_xml_text(piece)}</w:t>')
    parts.append("</w:r>")
    return "".join(parts)


def _cell_xml(width: int, paragraphs: list[str], **style: bool) -> str:
    body = "".join(f"<w:p>{_runs_xml(p, **style)}</w:p>" for p in paragraphs) or "<w:p/>"
    return f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>{body}</w:tc>'


def _answer_row_xml(answer: CompiledAnswer, theme: Theme) -> str:
    who_lines = [_clean(answer.participant_name)]
    if answer.area and answer.area not in answer.participant_name:
        who_lines.append(_clean(answer.area))
    paragraphs = _paragraphs(answer.texts.get(theme.id, ""))
    if paragraphs:
        what = _cell_xml(_TWIPS[1], paragraphs)
    else:
        what = _cell_xml(_TWIPS[1], [NOT_ANSWERED], italic=True)
    when = [f"<w:p>{_runs_xml(_when(answer.received_at))}</w:p>"]
    if answer.late:
        when.append(f"<w:p>{_runs_xml(LATE, bold=True)}</w:p>")
    if answer.version > 1:
        when.append(f"<w:p>{_runs_xml(f'versjon {answer.version}')}</w:p>")
    return (
        "<w:tr>"
        + _cell_xml(_TWIPS[0], who_lines)
        + what
        + f'<w:tc><w:tcPr><w:tcW w:w="{_TWIPS[2]}" w:type="dxa"/></w:tcPr>{"".join(when)}</w:tc>'
        + "</w:tr>"
    )


_WIDTHS = (Cm(4.0), Cm(8.5), Cm(3.5))  # A4 with 2.5 cm margins leaves 16 cm
_TWIPS = tuple(w.twips for w in _WIDTHS)


def _theme_table(document, theme: Theme, answers: list[CompiledAnswer]) -> Table:
    table = document.add_table(rows=1, cols=len(COLUMNS))
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
    rows = "".join(_answer_row_xml(answer, theme) for answer in answers)
    holder = parse_xml(f'<w:tbl xmlns:w="{_W_NS}">{rows}</w:tbl>')
    tbl = table._tbl
    for tr in list(holder):
        tbl.append(tr)
    return table


def build_docx(data: CompilationInput) -> bytes:
    """The compilation as a Word document with real headings, a TOC field and one table a theme."""
    answers = _latest(data.answers)
    document = docx.Document()
    out = _Styled(document)
    _set_language(document, "nb-NO")
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Cm(2.5)
    section.top_margin = section.bottom_margin = Cm(2.5)

    made_local = data.made_at.astimezone(OSLO)
    header = section.header
    header.is_linked_to_previous = False
    header.paragraphs[0].text = _clean(
        f"{data.sender.organisation} · Vår referanse: {data.process.reference} · "
        f"Dato: {nbdate(made_local.date())} · Sammenstilling, versjon {data.version}"
    )
    footer = section.footer
    footer.is_linked_to_previous = False
    page = footer.paragraphs[0]
    page.add_run("Side ")
    _simple_field(page, " PAGE ", "1")
    page.add_run(" av ")
    _simple_field(page, " NUMPAGES ", "1")

    properties = document.core_properties
    properties.title = _clean(title(data))
    properties.subject = _clean(data.process.title)
    properties.author = _clean(f"{data.sender.organisation}, {data.sender.unit}")
    properties.language = "nb-NO"
    properties.identifier = data.process.reference
    properties.version = str(data.version)
    properties.revision = data.version
    # python-docx writes these as UTC ("Z") and wants them naive.
    properties.created = data.made_at.astimezone(UTC).replace(tzinfo=None)
    properties.modified = properties.created

    out.para(_clean(title(data)), "Title")
    for line in _meta_lines(data):
        out.para(_clean(line))

    out.para("Innhold", "TOC Heading")
    sections = [SUMMARY, *(t.title for t in data.themes), ATTACHMENTS, MISSING]
    _add_toc(out, sections)

    out.para(SUMMARY, "Heading 1")
    for line in summary_lines(data):
        out.para(line)

    for theme in data.themes:
        out.para(_clean(theme.title), "Heading 1")
        for question in theme.questions:
            out.para(_clean(question), "List Bullet", italic=True)
        if answers:
            _theme_table(document, theme, answers)
        else:
            out.para("Ingen innspill er mottatt.")

    out.para(ATTACHMENTS, "Heading 1")
    with_files = [a for a in answers if a.attachments]
    if not with_files:
        out.para("Ingen vedlegg er mottatt.")
    for answer in with_files:
        out.para(_clean(answer.participant_name), bold=True)
        for name in answer.attachments:
            out.para(_clean(name), "List Bullet")

    out.para(MISSING, "Heading 1")
    if not data.missing:
        out.para("Innspill er mottatt fra alle deltakerne.")
    for _, name in data.missing:
        out.para(_clean(name), "List Bullet")

    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- HTML


def _e(text: str) -> str:
    return html.escape(_clean(text), quote=True)


def _html_paragraphs(text: str) -> str:
    # _paragraphs has already removed the invalid characters: escaping is all that is left.
    return "".join(
        "<p>" + html.escape(p, quote=True).replace("\n", "<br>") + "</p>" for p in _paragraphs(text)
    )


def _anchor(theme: Theme) -> str:
    return "tema-" + (_ASCII_UNSAFE.sub("-", theme.id.lower()).strip("-") or "x")


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;line-height:1.5;
margin:0 auto;max-width:72rem;padding:1rem 1.5rem;color:#1a1a1a;background:#fff}
table{border-collapse:collapse;width:100%;margin:1rem 0 2rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid #767676;padding:.5rem;vertical-align:top;text-align:left}
thead th{background:#f0f0f0}
td p{margin:0 0 .5rem}
.questions{font-style:italic}
.late{font-weight:700}
.none{font-style:italic}
a{color:#0b57a4}
a:focus{outline:3px solid #0b57a4;outline-offset:2px}
@media print{nav{display:none}thead{display:table-header-group}}
"""


def build_html(data: CompilationInput) -> str:
    """The compilation as one accessible HTML page; every value from outside is escaped."""
    answers = _latest(data.answers)
    page_title = _e(title(data))
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="nb">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{page_title}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<p>{_e(data.sender.organisation)}, {_e(data.sender.unit)}</p>",
        "</header>",
        "<main>",
        f"<h1>{page_title}</h1>",
    ]
    out += [f"<p>{_e(line)}</p>" for line in _meta_lines(data)]

    entries = [("sammendrag", SUMMARY)]
    entries += [(_anchor(t), t.title) for t in data.themes]
    entries += [("vedlegg", ATTACHMENTS), ("ikke-mottatt", MISSING)]
    out.append('<nav aria-labelledby="innhold">')
    out.append('<h2 id="innhold">Innhold</h2>')
    out.append("<ol>")
    out += [f'<li><a href="#{_e(ident)}">{_e(text)}</a></li>' for ident, text in entries]
    out.append("</ol>")
    out.append("</nav>")

    out.append('<section aria-labelledby="sammendrag">')
    out.append(f'<h2 id="sammendrag">{SUMMARY}</h2>')
    out += [f"<p>{_e(line)}</p>" for line in summary_lines(data)]
    out.append("</section>")

    for theme in data.themes:
        anchor = _e(_anchor(theme))
        out.append(f'<section aria-labelledby="{anchor}">')
        out.append(f'<h2 id="{anchor}">{_e(theme.title)}</h2>')
        if theme.questions:
            out.append('<ul class="questions">')
            out += [f"<li>{_e(q)}</li>" for q in theme.questions]
            out.append("</ul>")
        if not answers:
            out.append('<p class="none">Ingen innspill er mottatt.</p>')
            out.append("</section>")
            continue
        out.append("<table>")
        out.append(f"<caption>Innspill om «{_e(theme.title)}»</caption>")
        out.append("<thead><tr>")
        out += [f'<th scope="col">{name}</th>' for name in COLUMNS]
        out.append("</tr></thead>")
        out.append("<tbody>")
        for answer in answers:
            who = _e(answer.participant_name)
            if answer.area and answer.area not in answer.participant_name:
                who += f"<br>{_e(answer.area)}"
            what = _html_paragraphs(answer.texts.get(theme.id, "")) or (
                f'<p class="none">{_e(NOT_ANSWERED)}</p>'
            )
            local = answer.received_at.astimezone(OSLO)
            when = f'<time datetime="{local.isoformat()}">{_e(_when(local))}</time>'
            if answer.late:
                when += f'<br><span class="late">{LATE}</span>'
            if answer.version > 1:
                when += f"<br>versjon {answer.version}"
            out.append(f'<tr><th scope="row">{who}</th><td>{what}</td><td>{when}</td></tr>')
        out.append("</tbody>")
        out.append("</table>")
        out.append("</section>")

    out.append('<section aria-labelledby="vedlegg">')
    out.append(f'<h2 id="vedlegg">{ATTACHMENTS}</h2>')
    with_files = [a for a in answers if a.attachments]
    if not with_files:
        out.append("<p>Ingen vedlegg er mottatt.</p>")
    else:
        out.append("<dl>")
        for answer in with_files:
            out.append(f"<dt>{_e(answer.participant_name)}</dt>")
            out += [f"<dd>{_e(name)}</dd>" for name in answer.attachments]
        out.append("</dl>")
    out.append("</section>")

    out.append('<section aria-labelledby="ikke-mottatt">')
    out.append(f'<h2 id="ikke-mottatt">{MISSING}</h2>')
    if not data.missing:
        out.append("<p>Innspill er mottatt fra alle deltakerne.</p>")
    else:
        out.append("<ul>")
        out += [f"<li>{_e(name)}</li>" for _, name in data.missing]
        out.append("</ul>")
    out.append("</section>")

    out += ["</main>", "</body>", "</html>", ""]
    return "\n".join(out)
