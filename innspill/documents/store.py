"""Compilations and drafts as stored documents: make, register and fetch their versions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session, col, func, select

from innspill.documents.compilation import (
    GENERAL,
    GENERAL_TITLE,
    AnswerFile,
    CompilationInput,
    CompiledAnswer,
    build_docx,
    build_html,
    filename,
)
from innspill.documents.files import DOCX, EXTENSIONS, PDF, sniff
from innspill.errors import InnspillError
from innspill.events import record_event
from innspill.journal.numbers import Number
from innspill.journal.record import record_document, take_document_number
from innspill.models import Answer, AnswerAttachment, Document
from innspill.process.deadlines import deadlines_in
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    Participant,
    ProcessDefinition,
    RequestStep,
    Theme,
)
from innspill.process.text_checks import readers_language
from innspill.process.workdays import end_of_day

MAX_DRAFT_BYTES = 20 * 1024 * 1024


def latest(session: Session, process_id: str, step_id: str, kind: str) -> Document | None:
    """The newest version of a step's compilation or draft, if any."""
    return session.exec(
        select(Document)
        .where(
            Document.process_id == process_id, Document.step_key == step_id, Document.kind == kind
        )
        .order_by(col(Document.version).desc())
        .limit(1)
    ).first()


def _next_version(session: Session, process_id: str, step_id: str, kind: str) -> int:
    current = session.exec(
        select(func.max(Document.version)).where(
            Document.process_id == process_id, Document.step_key == step_id, Document.kind == kind
        )
    ).one()
    return (current or 0) + 1


def compilation_input(
    session: Session,
    definition: ProcessDefinition,
    step: CompilationStep,
    *,
    now: datetime,
    version: int,
) -> CompilationInput:
    """Gather the latest answer of every participant of the source step, as of `now`."""
    source = definition.step(step.source)
    assert isinstance(source, RequestStep)
    book = deadlines_in(session, definition)
    deadlines = book.in_effect
    rows = session.exec(
        select(Answer)
        .where(
            Answer.process_id == definition.id,
            Answer.step_key == source.id,
            Answer.received_at <= now,
        )
        .order_by(col(Answer.participant_key), col(Answer.version))
    ).all()
    people = definition.audience(source.id)
    answers = _compiled_answers(
        session, rows, people, deadlines=deadlines, closes=book.closes, step_id=source.id
    )
    answered = {row.participant_key for row in rows}
    deadline = book.steps[source.id]
    return CompilationInput(
        process=definition.process,
        sender=definition.sender,
        step=source,
        themes=_themes(definition, source, answers),
        answers=answers,
        missing=[(p.id, p.name) for p in people if p.id not in answered],
        version=version,
        made_at=now,
        deadline=deadline,
        extensions=[
            (p.name, own) for p in people if (own := deadlines[(source.id, p.id)]) > deadline
        ],
        written_deadline=(
            book.steps_written[source.id] if book.steps_written[source.id] != deadline else None
        ),
    )


def current_answer(
    session: Session, process_id: str, step_id: str, participant_id: str
) -> Answer | None:
    """The version that counts: the one received last (then the one registered last)."""
    return session.exec(
        select(Answer)
        .where(
            Answer.process_id == process_id,
            Answer.step_key == step_id,
            Answer.participant_key == participant_id,
        )
        .order_by(col(Answer.received_at).desc(), col(Answer.version).desc())
    ).first()


def newest(rows: Sequence[Answer]) -> dict[str, Answer]:
    """Each participant's version that counts: the one received last (then registered last).

    Never the one registered last: a held message assigned later may have come earlier."""
    out: dict[str, Answer] = {}
    for row in rows:
        best = out.get(row.participant_key)
        if best is None or (row.received_at, row.version) > (best.received_at, best.version):
            out[row.participant_key] = row
    return out


def _compiled_answers(
    session: Session,
    rows: Sequence[Answer],
    people: list[Participant],
    *,
    deadlines: Mapping[tuple[str, str], date],
    closes: Mapping[tuple[str, str], date],
    step_id: str,
) -> list[CompiledAnswer]:
    """The version that counts of each person's answer, with its files; late when it came
    after the person's own deadline (a text changed after the deadline is late text for the
    drafter), and marked when it was registered after the step closed."""
    counting = newest(rows)
    files = answer_files(session, [a.id for a in counting.values() if a.id is not None])
    out = []
    for person in people:
        answer = counting.get(person.id)
        if answer is None:
            continue
        deadline = deadlines[(step_id, person.id)]
        last_day = closes[(step_id, person.id)]
        registered = answer.registered_at or answer.received_at
        own = files.get(answer.id or 0, [])
        out.append(
            CompiledAnswer(
                participant_id=person.id,
                participant_name=person.name,
                area=person.area,
                received_at=answer.received_at,
                late=answer.received_at >= end_of_day(deadline),
                version=answer.version,
                texts=json.loads(answer.text_json),
                attachments=tuple(AnswerFile(f.filename, f.content_type, f.size) for f in own),
                closed_before=last_day if registered >= end_of_day(last_day) else None,
            )
        )
    return out


def compiled_files(
    session: Session, definition: ProcessDefinition, step: CompilationStep, *, at: datetime
) -> list[tuple[Participant, AnswerAttachment]]:
    """The files of the answers a compilation made `at` includes, participant by participant
    in the order of the process file."""
    source = definition.step(step.source)
    rows = session.exec(
        select(Answer).where(
            Answer.process_id == definition.id,
            Answer.step_key == source.id,
            Answer.received_at <= at,
        )
    ).all()
    counting = newest(rows)
    files = answer_files(session, [a.id for a in counting.values() if a.id is not None])
    return [
        (person, f)
        for person in definition.audience(source.id)
        if person.id in counting
        for f in files.get(counting[person.id].id or 0, [])
    ]


def answer_files(session: Session, answer_ids: list[int]) -> dict[int, list[AnswerAttachment]]:
    """The files of these answer versions, in the order they came, by answer id."""
    out: dict[int, list[AnswerAttachment]] = {}
    if not answer_ids:
        return out
    for row in session.exec(
        select(AnswerAttachment)
        .where(col(AnswerAttachment.answer_id).in_(answer_ids))
        .order_by(col(AnswerAttachment.id))
    ).all():
        out.setdefault(row.answer_id, []).append(row)
    return out


def _themes(
    definition: ProcessDefinition, source: RequestStep, answers: list[CompiledAnswer]
) -> list[Theme]:
    themes = definition.themes_of(source)
    if any(a.texts.get(GENERAL, "").strip() for a in answers):
        # Text that names no theme (a reply not written theme by theme, or the part before the
        # first theme): shown first, never counted as a theme the participant skipped.
        themes = [Theme.model_construct(id=GENERAL, title=GENERAL_TITLE, questions=[]), *themes]
    return themes


def make_compilation(
    session: Session,
    definition: ProcessDefinition,
    step_id: str,
    *,
    now: datetime,
    basis: str = "",
    by: str = "",
) -> Document:
    """Compile the answers as a new version (DOCX, with an HTML twin); never overwrites."""
    definition = definition.in_language(readers_language(definition, step_id))
    step = definition.step(step_id)
    if not isinstance(step, CompilationStep):
        raise InnspillError(f"step '{step_id}' is a {step.kind} step, not a compilation step")
    version = _next_version(session, definition.id, step_id, "compilation")
    data = compilation_input(session, definition, step, now=now, version=version)
    if not data.answers:
        raise InnspillError(
            f"nobody has answered step '{step.source}' yet: there is nothing to compile"
        )
    number = take_document_number(session, definition, now=now)  # the document shows it
    if number is not None:
        data = replace(data, document_reference=number.reference)
    content = build_docx(data)
    document = Document(
        process_id=definition.id,
        step_key=step_id,
        kind="compilation",
        version=version,
        filename=filename(data, "docx"),
        content_type=DOCX,
        content=content,
        html=build_html(data),
        sha256=hashlib.sha256(content).hexdigest(),
        basis=basis,
        note=f"{len(data.answers)} of {len(data.answers) + len(data.missing)} answered",
        created_at=now,
        created_by=by,
    )
    return _store(
        session,
        definition,
        document,
        number,
        "compilation_made",
        f"version {version}: {document.note}",
    )


def register_draft(
    session: Session,
    definition: ProcessDefinition,
    step_id: str,
    path: Path,
    *,
    now: datetime,
    note: str = "",
    by: str = "",
) -> Document:
    """Store a draft file (DOCX or PDF) as the next version for a circulation step."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InnspillError(f"cannot read the draft {path}: {exc.strerror}") from None
    return store_draft(
        session, definition, step_id, content, name=path.name, now=now, note=note, by=by, where=path
    )


class DraftRefused(InnspillError):
    """A draft that cannot be stored; `code` says why (for a translated message)."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


def store_draft(
    session: Session,
    definition: ProcessDefinition,
    step_id: str,
    content: bytes,
    *,
    name: str,
    now: datetime,
    note: str = "",
    by: str = "",
    where: Path | str | None = None,
) -> Document:
    """Store a draft's bytes (DOCX or PDF, at most 20 MiB) as the next version for a
    circulation step: the CLI reads a file, the dashboard an upload; the checks are these."""
    step = definition.step(step_id)
    if not isinstance(step, CirculationStep):
        circulations = [s.id for s in definition.steps if isinstance(s, CirculationStep)]
        raise DraftRefused(
            "not_circulation",
            f"step '{step_id}' is a {step.kind} step; drafts belong to a circulation step "
            f"({', '.join(circulations) or 'none in this process'})",
        )
    content_type = _draft_type(content, where or name)
    ext = EXTENSIONS[content_type]
    version = _next_version(session, definition.id, step_id, "draft")
    if version > 1 and not note.strip():
        raise DraftRefused("note", "say what changed since the previous version (--note)")
    path = Path(Path(name).name or "utkast")
    name = path.name if path.suffix.lower() == ext else f"{path.stem}{ext}"
    document = Document(
        process_id=definition.id,
        step_key=step_id,
        kind="draft",
        version=version,
        filename=name,
        content_type=content_type,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        note=note.strip(),
        created_at=now,
        created_by=by,
    )
    detail = f"version {version}: {name}" + (f" ({note.strip()})" if note.strip() else "")
    number = take_document_number(session, definition, now=now)
    return _store(session, definition, document, number, "draft_registered", detail)


def _draft_type(content: bytes, where: Path | str) -> str:
    """The draft's type, refused unless it is a DOCX or PDF of at most 20 MiB."""
    if len(content) > MAX_DRAFT_BYTES:
        raise DraftRefused(
            "too_big", f"{where} is {len(content) // 1024} KiB; a draft may be at most 20 MiB"
        )
    content_type = sniff(content)
    if content_type not in (DOCX, PDF):
        if content.startswith(b"PK\x03\x04"):
            raise DraftRefused("zip", f"{where} is a ZIP file but not a Word document (.docx)")
        raise DraftRefused("type", f"{where} is neither a Word document (.docx) nor a PDF")
    return content_type


def _store(
    session: Session,
    definition: ProcessDefinition,
    document: Document,
    number: Number | None,
    event: str,
    detail: str,
) -> Document:
    """Keep a new version, journal it (with the numbers it was made with) and log it."""
    session.add(document)
    session.flush()
    if number is not None:
        record_document(session, definition, document, number)
    record_event(
        session,
        document.process_id,
        document.created_at,
        event,
        step=document.step_key,
        detail=detail,
        by=document.created_by,
    )
    return document
