"""Step attachments written as Markdown or plain text, sent as the PDF/A made from them.

Raw Markdown (`**`, `#`) is a file a municipality's mail program cannot open, so `oppdrag.md`
goes out as `oppdrag.pdf`: the text under the organisation's letterhead with the case's
reference, the date the step opens and the case officer. It is rendered when the process is
loaded, not per message; the same file and process facts give the same bytes, so loading an
unchanged process again changes nothing.
"""

from __future__ import annotations

from dataclasses import replace

from innspill.process.attachments import StepFile
from innspill.process.fields import RENDERED_SUFFIXES, sent_name
from innspill.process.nbformat import nbdate
from innspill.process.schema import ProcessDefinition, RequestStep
from innspill.process.workdays import local_datetime

PDF = "application/pdf"


def rendered(definition: ProcessDefinition, files: list[StepFile]) -> list[StepFile]:
    """The files as sent: each text or Markdown file replaced by its PDF, the others as read."""
    return [_as_sent(definition, f) for f in files]


def _as_sent(definition: ProcessDefinition, f: StepFile) -> StepFile:
    suffix = "." + f.filename.rpartition(".")[2].lower()
    if suffix not in RENDERED_SUFFIXES:
        return f
    from datetime import time

    from innspill.pdfa.markdown import Letterhead, document_pdf

    step = definition.step(f.step_id)
    assert isinstance(step, RequestStep)
    sender = definition.sender
    text = f.data.decode("utf-8")
    letterhead = Letterhead(
        organisation=sender.organisation,
        unit=sender.unit,
        fields=(
            ("Vår referanse", definition.process.reference),
            ("Dato", nbdate(step.opens)),
            ("Saksbehandler", sender.case_officer),
        ),
    )
    data = document_pdf(
        text,
        markdown=suffix == ".md",
        letterhead=letterhead,
        title=_title(text) or step.title,
        created=local_datetime(step.opens, time(0, 0)),
    )
    return replace(f, filename=sent_name(f.filename), content_type=PDF, data=data)


def _title(text: str) -> str | None:
    """The first level-one heading of a Markdown text."""
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip() or None
    return None
