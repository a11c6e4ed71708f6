"""The records that need an archival copy, keyed by their natural keys, and each one read into
a `Job`: plain data, so the conversion runs outside any database transaction.

Keys (ArchivalCopy.source_key): a letter by its outbox key; an answer by
process/step/participant/version; a document by process/step/kind/version; an answer's file
by its answer's key and the file's SHA-256; a step attachment by its content's SHA-256.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, and_, cast, exists, func, literal
from sqlalchemy import select as core_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from innspill.models import (
    Answer,
    AnswerAttachment,
    ArchivalCopy,
    Document,
    FileContent,
    InboundMessage,
    MessageStatus,
    OutboxMessage,
    SourceKind,
    StepAttachment,
)


@dataclass(frozen=True)
class Missing:
    kind: SourceKind
    key: str
    process_id: str | None


@dataclass
class Job:
    """One source, read: what kind, its original bytes and type, and what its page shows."""

    kind: SourceKind
    key: str
    process_id: str | None
    original: bytes
    original_type: str
    filename: str  # the copy's file name
    facts: dict[str, Any] = field(default_factory=dict)


def _sep() -> ColumnElement[str]:
    return literal("/", String)


def _answer_key() -> ColumnElement[str]:
    return (
        col(Answer.process_id)
        + _sep()
        + col(Answer.step_key)
        + _sep()
        + col(Answer.participant_key)
        + _sep()
        + cast(col(Answer.version), String)
    )


def _document_key() -> ColumnElement[str]:
    return (
        col(Document.process_id)
        + _sep()
        + col(Document.step_key)
        + _sep()
        + col(Document.kind)
        + _sep()
        + cast(col(Document.version), String)
    )


def _lacks(kind: SourceKind, key: Any) -> ColumnElement[bool]:
    return ~exists().where(
        and_(col(ArchivalCopy.source_kind) == kind.value, col(ArchivalCopy.source_key) == key)
    )


def missing(session: Session, *, limit: int, process_id: str | None = None) -> list[Missing]:
    """Up to `limit` records without an archival copy (nor a claim or a recorded failure):
    sent letters first, then answers, documents, answers' files and step attachments."""
    queries: list[tuple[SourceKind, Any]] = []
    letter = col(OutboxMessage.key)
    queries.append(
        (
            SourceKind.LETTER,
            core_select(letter, col(OutboxMessage.process_id))
            .where(
                col(OutboxMessage.status) == MessageStatus.SENT.value,
                _lacks(SourceKind.LETTER, letter),
            )
            .order_by(col(OutboxMessage.id)),
        )
    )
    answer = _answer_key()
    queries.append(
        (
            SourceKind.ANSWER,
            core_select(answer, col(Answer.process_id))
            .where(_lacks(SourceKind.ANSWER, answer))
            .order_by(col(Answer.id)),
        )
    )
    document = _document_key()
    queries.append(
        (
            SourceKind.DOCUMENT,
            core_select(document, col(Document.process_id))
            .where(_lacks(SourceKind.DOCUMENT, document))
            .order_by(col(Document.id)),
        )
    )
    answer_file = answer + _sep() + col(AnswerAttachment.sha256)
    queries.append(
        (
            SourceKind.ANSWER_FILE,
            core_select(answer_file, col(Answer.process_id))
            .select_from(AnswerAttachment)
            .join(Answer, col(Answer.id) == col(AnswerAttachment.answer_id))
            .where(_lacks(SourceKind.ANSWER_FILE, answer_file))
            .order_by(col(AnswerAttachment.id)),
        )
    )
    # Every content a step ever sent (a file replaced after its invitations went out is kept,
    # and so is its copy), with a process that links it, if one still does.
    step_file = col(FileContent.sha256)
    linked = (
        core_select(func.min(col(StepAttachment.process_id)))
        .where(col(StepAttachment.sha256) == step_file)
        .scalar_subquery()
    )
    queries.append(
        (
            SourceKind.STEP_FILE,
            core_select(step_file, linked)
            .where(_lacks(SourceKind.STEP_FILE, step_file))
            .order_by(col(FileContent.created_at), step_file),
        )
    )
    found: dict[tuple[SourceKind, str], Missing] = {}
    for kind, query in queries:
        if process_id is not None:
            query = query.where(query.selected_columns[1] == process_id)
        # A little more than is left: two equal files of one answer are one key.
        for key, pid in session.execute(query.limit(limit - len(found) + 10)).all():
            found.setdefault((kind, key), Missing(kind, key, pid))
            if len(found) >= limit:
                return list(found.values())
    return list(found.values())


def read_job(session: Session, kind: SourceKind, key: str) -> Job:
    """The source of a copy, read for converting; LookupError if it is gone."""
    reader = {
        SourceKind.LETTER: _letter,
        SourceKind.ANSWER: _answer,
        SourceKind.DOCUMENT: _document,
        SourceKind.ANSWER_FILE: _answer_file,
        SourceKind.STEP_FILE: _step_file,
    }[kind]
    return reader(session, key)


def _letter(session: Session, key: str) -> Job:
    row = session.exec(select(OutboxMessage).where(col(OutboxMessage.key) == key)).one_or_none()
    if row is None or not row.raw:
        raise LookupError(f"no sent message {key}")
    return Job(
        SourceKind.LETTER,
        key,
        row.process_id,
        row.raw,
        "message/rfc822",
        f"brev-{row.step_key}-{row.participant_key}-{row.kind}-{row.sequence}.pdf",
    )


def _answer_row(session: Session, key: str) -> Answer:
    process_id, step_key, participant_key, version = key.rsplit("/", 3)
    row = session.exec(
        select(Answer).where(
            Answer.process_id == process_id,
            Answer.step_key == step_key,
            Answer.participant_key == participant_key,
            Answer.version == int(version),
        )
    ).one_or_none()
    if row is None:
        raise LookupError(f"no answer {key}")
    assert isinstance(row, Answer)
    return row


def _answer(session: Session, key: str) -> Job:
    row = _answer_row(session, key)
    mail = session.exec(
        select(InboundMessage.raw)
        .where(InboundMessage.answer_id == row.id)
        .order_by(col(InboundMessage.id))
    ).first()
    files = session.exec(
        select(AnswerAttachment.filename, AnswerAttachment.content_type, AnswerAttachment.size)
        .where(AnswerAttachment.answer_id == row.id)
        .order_by(col(AnswerAttachment.id))
    ).all()
    facts = {
        "step": row.step_key,
        "participant": row.participant_key,
        "version": row.version,
        "received_at": row.received_at,
        "channel": row.channel,
        "registered_by": row.registered_by,
        "texts": json.loads(row.text_json or "{}"),
        "files": [tuple(f) for f in files],
    }
    name = f"innspill-{row.step_key}-{row.participant_key}-v{row.version}.pdf"
    if mail is not None:
        return Job(SourceKind.ANSWER, key, row.process_id, mail, "message/rfc822", name, facts)
    original = (row.text_json or "{}").encode()
    return Job(SourceKind.ANSWER, key, row.process_id, original, "application/json", name, facts)


def _document(session: Session, key: str) -> Job:
    process_id, step_key, kind, version = key.rsplit("/", 3)
    row = session.exec(
        select(Document).where(
            Document.process_id == process_id,
            Document.step_key == step_key,
            Document.kind == kind,
            Document.version == int(version),
        )
    ).one_or_none()
    if row is None:
        raise LookupError(f"no document {key}")
    stem = row.filename.rsplit(".", 1)[0] if "." in row.filename else row.filename
    facts = {
        "kind": row.kind,
        "html": row.html,
        "created_at": row.created_at,
        "source_name": row.filename,
    }
    return Job(
        SourceKind.DOCUMENT,
        key,
        row.process_id,
        row.content,
        row.content_type,
        f"{stem}.pdf",
        facts,
    )


def _answer_file(session: Session, key: str) -> Job:
    answer_key, sha256 = key.rsplit("/", 1)
    answer = _answer_row(session, answer_key)
    row = session.exec(
        select(AnswerAttachment)
        .where(AnswerAttachment.answer_id == answer.id, AnswerAttachment.sha256 == sha256)
        .order_by(col(AnswerAttachment.id))
    ).first()
    if row is None:
        raise LookupError(f"no file {sha256} in answer {answer_key}")
    stem = row.filename.rsplit(".", 1)[0] if "." in row.filename else row.filename
    return Job(
        SourceKind.ANSWER_FILE,
        key,
        answer.process_id,
        row.data,
        row.content_type,
        f"{stem}.pdf",
        {"source_name": row.filename},
    )


def _step_file(session: Session, key: str) -> Job:
    row = session.get(FileContent, key)
    if row is None:
        raise LookupError(f"no step attachment with content {key}")
    link = session.exec(
        select(StepAttachment.filename, StepAttachment.process_id)
        .where(StepAttachment.sha256 == key)
        .order_by(col(StepAttachment.id))
    ).first()
    name, process_id = link if link is not None else ("vedlegg", None)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return Job(
        SourceKind.STEP_FILE,
        key,
        process_id,
        row.data,
        row.content_type,
        f"{stem}.pdf",
        {"source_name": name},
    )
