"""Documents in the browser: every compilation, draft and answer file listed and downloadable,
and a new draft version uploaded (the same `store_draft` as `innspill draft add`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import func, select
from sqlmodel import Session, col
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.responses import Response

from innspill.dashboard.actions import common as acting
from innspill.dashboard.actions.common import Admin, Db, Now
from innspill.dashboard.deps import RowId, current_user, render, require_admin
from innspill.dashboard.documents.downloads import download
from innspill.dashboard.pages import progress
from innspill.dashboard.pages.names import names_of
from innspill.documents.store import MAX_DRAFT_BYTES, DraftRefused, store_draft
from innspill.errors import InnspillError, UnknownProcess
from innspill.i18n import N_, Labels, _
from innspill.models import Answer, AnswerAttachment, Document
from innspill.process.definition import CirculationStep, ProcessDefinition
from innspill.process.loading import get_definition

pages = APIRouter(dependencies=[Depends(current_user)])
actions = APIRouter(dependencies=[Depends(require_admin)])

KINDS = {"compilation": "Sammenstilling", "draft": "Utkast"}
MAX_NOTE_CHARS = 2000


@dataclass(frozen=True)
class DocumentRow:
    """One version of a compilation or draft, without its bytes."""

    id: int
    step_key: str
    kind: str
    version: int
    filename: str
    content_type: str
    size: int
    note: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class StepDocuments:
    step_id: str
    title: str
    kind: str  # the step's kind
    documents: list[DocumentRow]  # newest first


@dataclass(frozen=True)
class AnswerFile:
    id: int
    step_key: str
    version: int
    filename: str
    content_type: str
    size: int
    received_at: datetime


def step_documents(db: Session, definition: ProcessDefinition) -> list[StepDocuments]:
    """The documents of each compilation and circulation step, newest version first."""
    rows = [
        DocumentRow(**r._asdict())
        for r in db.execute(
            select(
                col(Document.id),
                col(Document.step_key),
                col(Document.kind),
                col(Document.version),
                col(Document.filename),
                col(Document.content_type),
                func.length(col(Document.content)).label("size"),
                col(Document.note),
                col(Document.created_at),
                col(Document.created_by),
            )
            .where(col(Document.process_id) == definition.id)
            .order_by(col(Document.step_key), col(Document.version).desc())
        ).all()
    ]
    return [
        StepDocuments(s.id, s.title, s.kind, [r for r in rows if r.step_key == s.id])
        for s in definition.steps
        if s.kind in ("compilation", "circulation") or any(r.step_key == s.id for r in rows)
    ]


def answer_files(db: Session, process_id: str, participant: str) -> list[AnswerFile]:
    """The files that came with a participant's answers, by step and version."""
    return [
        AnswerFile(**r._asdict())
        for r in db.execute(
            select(
                col(AnswerAttachment.id),
                col(Answer.step_key),
                col(Answer.version),
                col(AnswerAttachment.filename),
                col(AnswerAttachment.content_type),
                col(AnswerAttachment.size),
                col(Answer.received_at),
            )
            .join(Answer, col(Answer.id) == col(AnswerAttachment.answer_id))
            .where(col(Answer.process_id) == process_id, col(Answer.participant_key) == participant)
            .order_by(col(Answer.step_key), col(Answer.version), col(AnswerAttachment.id))
        ).all()
    ]


def process_context(db: Session, definition: ProcessDefinition, now: datetime) -> dict[str, Any]:
    """What the process page's documents section needs (documents_section.html)."""
    circulations = [s for s in definition.steps if isinstance(s, CirculationStep)]
    return {
        "step_docs": step_documents(db, definition),
        "draft_steps": {s.id for s in circulations},
        "draft_next": {
            s.id: acting.upcoming(db, definition, now, step=s.id, limit=acting.NEXT_LINES)
            for s in circulations
        },
        "draft_error": "",
        "draft_note": "",
        "draft_step": "",
    }


@pages.get("/documents/{document_id}")
def document_file(document_id: RowId, db: Db) -> Response:
    row = db.get(Document, document_id)
    if row is None:
        raise HTTPException(404, _("Fant ikke dokument nr. %(id)s.", id=document_id))
    return download(row.content, row.filename, row.content_type)


@pages.get("/answer-files/{file_id}")
def answer_file(file_id: RowId, db: Db) -> Response:
    row = db.get(AnswerAttachment, file_id)
    if row is None:
        raise HTTPException(404, _("Fant ikke vedlegg nr. %(id)s.", id=file_id))
    return download(row.data, row.filename, row.content_type)


REFUSED = Labels(
    {
        "too_big": N_("Filen er for stor: et utkast kan være høyst 20 MB."),
        "zip": N_(
            "Filen er en ZIP-fil, men ikke et Word-dokument (.docx). Last opp .docx eller PDF."
        ),
        "type": N_(
            "Filen er verken et Word-dokument (.docx) eller en PDF. Last opp .docx eller PDF."
        ),
        "note": N_("Skriv hva som er endret siden forrige versjon (merknad)."),
        "not_circulation": N_(
            "Utkast kan bare legges til et steg for oversendelse til behandling."
        ),
    }
)


async def _read(upload: UploadFile | None) -> bytes | None:
    """The upload's bytes, or None when it is over the limit (read no further than that)."""
    if upload is None:
        return b""
    data = await upload.read(MAX_DRAFT_BYTES + 1)
    return None if len(data) > MAX_DRAFT_BYTES else data


@dataclass
class _DraftForm:
    csrf_token: str
    note: str
    name: str
    content: bytes | None  # None: over the limit


async def _draft_form(request: Request) -> _DraftForm:
    """The posted form, read here and not by FastAPI, so that the sign-in and role checks (the
    router's dependencies) come before a byte of the upload is read."""
    try:
        form = await request.form(max_files=1, max_fields=10, max_part_size=64 * 1024)
    except MultiPartException:
        raise HTTPException(
            400, _("Skjemaet kunne ikke leses. Last inn siden og prøv igjen.")
        ) from None
    try:
        upload = form.get("file")
        upload = upload if isinstance(upload, UploadFile) and upload.filename else None
        note = form.get("note")
        return _DraftForm(
            csrf_token=str(form.get("csrf_token") or ""),
            note=note if isinstance(note, str) else "",
            name=(upload.filename or "") if upload is not None else "",
            content=await _read(upload),
        )
    finally:
        await form.close()


@actions.post("/processes/{process_id}/steps/{step_id}/drafts")
async def add_draft(
    request: Request, process_id: str, step_id: str, db: Db, now: Now, admin: Admin
) -> Response:
    posted = await _draft_form(request)
    acting.check_csrf(request, posted.csrf_token)
    try:
        definition = get_definition(db, process_id)
    except UnknownProcess:
        raise HTTPException(404, _("Fant ingen prosess med id «%(id)s».", id=process_id)) from None
    content, name, note = posted.content, posted.name, posted.note
    if len(note) > MAX_NOTE_CHARS:
        error = _("Merknaden er for lang (høyst %(n)s tegn).", n=MAX_NOTE_CHARS)
        return _again(request, db, definition, now, step_id, note[:MAX_NOTE_CHARS], error)
    if content is None:
        return _again(request, db, definition, now, step_id, note, REFUSED["too_big"])
    if not content:
        return _again(request, db, definition, now, step_id, note, _("Velg en fil å laste opp."))
    try:
        document = store_draft(
            db, definition, step_id, content, name=name, now=now, note=note, by=admin.username
        )
    except KeyError:
        raise HTTPException(404, _("Prosessen har ikke steget «%(step)s».", step=step_id)) from None
    except InnspillError as exc:
        db.rollback()
        why = REFUSED.get(exc.code, str(exc)) if isinstance(exc, DraftRefused) else str(exc)
        return _again(request, db, definition, now, step_id, note, why)
    db.commit()
    return acting.done(
        request,
        f"/processes/{process_id}#dokumenter",
        _(
            "Utkast versjon %(version)s (%(file)s) er registrert.",
            version=document.version,
            file=document.filename,
        ),
        acting.upcoming(db, definition, now, step=step_id, limit=acting.NEXT_LINES),
    )


def _again(
    request: Request,
    db: Session,
    definition: ProcessDefinition,
    now: datetime,
    step_id: str,
    note: str,
    error: str,
) -> Response:
    """The process page again, with the error by the form and the note as it was typed."""
    page = progress.process_page(db, definition.id, now=now)
    names = names_of(db, [definition.id])
    context = {"page": page, "now": now, "names": names} | process_context(db, definition, now)
    context |= {"draft_error": error, "draft_note": note, "draft_step": step_id}
    return render(request, "process.html", context, status_code=400)
