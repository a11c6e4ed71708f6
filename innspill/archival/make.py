"""One archival copy made from its source (`sources.Job`): a letter or an answer as a page, a
compilation from its HTML, a file by its type. Raises ConversionFailed with the reason."""

from __future__ import annotations

from dataclasses import dataclass

from innspill.archival.office import Converted, Tools, office_to_pdfa, pdf_to_pdfa
from innspill.archival.pages import (
    AnswerFacts,
    Case,
    letter_pdf,
    mail_answer_pdf,
    text_answer_pdf,
)
from innspill.archival.sources import Job
from innspill.documents.files import DOCX, EXTENSIONS, ODT, PDF, sniff
from innspill.documents.layout import GENERAL, GENERAL_TITLE
from innspill.errors import ConversionFailed
from innspill.models import SourceKind
from innspill.pdfa.render import Meta, RenderError, html_to_pdfa, weasyprint_version
from innspill.process.definition import ProcessDefinition

#: The variant names of Noark 5 (M700) for the copy and for an original kept beside it.
ARCHIVAL = "Arkivformat"
PRODUCTION = "Produksjonsformat"


@dataclass(frozen=True)
class Made:
    copy: Converted
    original_variant: str | None  # PRODUCTION when the original goes beside the copy


def make_copy(job: Job, definition: ProcessDefinition | None, *, tools: Tools) -> Made:
    """The archival copy of `job`; `definition` is its process (None: not known any more)."""
    try:
        if job.kind == SourceKind.LETTER:
            return Made(_page(letter_pdf(job.original, _case(definition)), "e-post (MIME)"), None)
        if job.kind == SourceKind.ANSWER:
            return Made(_answer(job, definition), None)
        if job.kind == SourceKind.DOCUMENT and job.facts.get("html"):
            return Made(_compilation(job, definition), PRODUCTION)
    except RenderError as exc:
        raise ConversionFailed(f"WeasyPrint could not render it: {exc}") from exc
    return _file(job, definition, tools=tools)


def _case(definition: ProcessDefinition | None) -> Case:
    if definition is None:
        return Case("", "", "", "")
    return Case(
        definition.sender.organisation,
        definition.sender.unit,
        definition.process.reference,
        definition.process.title,
    )


def _page(data: bytes, original: str) -> Converted:
    return Converted(data, "PDF/A-2b", weasyprint_version(), f"{original} til PDF/A-2b")


def _answer(job: Job, definition: ProcessDefinition | None) -> Converted:
    f = job.facts
    name, address = f["participant"], ""
    if definition is not None:
        try:
            participant = definition.participant(f["participant"])
            name, address = participant.name, str(participant.email)
        except KeyError:
            pass  # no longer in the process file: named by its key
    facts = AnswerFacts(
        participant=name,
        address=address,
        received_at=f["received_at"],
        channel=f["channel"],
        registered_by=f["registered_by"],
        version=f["version"],
    )
    case = _case(definition)
    if job.original_type == "message/rfc822":
        return _page(mail_answer_pdf(job.original, case, facts), "e-post (MIME)")
    texts: dict[str, str] = f["texts"]
    order = [t.id for t in definition.themes] if definition is not None else []
    titles = {t.id: t.title for t in definition.themes} if definition is not None else {}
    ids = [i for i in order if i in texts] + [i for i in texts if i not in order and i != GENERAL]
    themes = [(titles.get(i, i), texts[i]) for i in ids]
    if texts.get(GENERAL, "").strip():
        themes.append((GENERAL_TITLE, texts[GENERAL]))
    data = text_answer_pdf(case, facts, themes=themes, files=f["files"])
    return _page(data, "tekst per tema (skjema eller registrert)")


def _compilation(job: Job, definition: ProcessDefinition | None) -> Converted:
    author = definition.sender.organisation if definition is not None else ""
    meta = Meta(title=job.facts["source_name"], author=author, created=job.facts["created_at"])
    data = html_to_pdfa(job.facts["html"], meta)
    return _page(data, "HTML-utgaven av sammenstillingen")


def _text(job: Job, definition: ProcessDefinition | None) -> Converted:
    from innspill.pdfa.markdown import Letterhead, document_pdf

    case = _case(definition)
    letterhead = Letterhead(case.organisation, case.unit, (("Vår referanse", case.reference),))
    try:
        data = document_pdf(
            job.original.decode("utf-8", "replace"),
            markdown="markdown" in job.original_type,
            letterhead=letterhead,
            title=str(job.facts.get("source_name", job.filename)),
        )
    except RenderError as exc:
        raise ConversionFailed(f"WeasyPrint could not render it: {exc}") from exc
    return _page(data, "tekst (Markdown)" if "markdown" in job.original_type else "tekst")


def _file(job: Job, definition: ProcessDefinition | None, *, tools: Tools) -> Made:
    kind = sniff(job.original)
    if kind is None and job.original_type.startswith(("text/plain", "text/markdown")):
        # A step's Markdown or text file stored before such files were sent as PDF.
        return Made(_text(job, definition), PRODUCTION)
    if kind == PDF:
        copy = pdf_to_pdfa(job.original, tools=tools)
        return Made(copy, None if copy.tool is None else PRODUCTION)
    if kind in (DOCX, ODT):
        return Made(office_to_pdfa(job.original, suffix=EXTENSIONS[kind], tools=tools), PRODUCTION)
    raise ConversionFailed(
        f"no conversion to PDF/A for this file ({job.original_type}, "
        f"{job.facts.get('source_name', job.filename)})"
    )
