"""Write journal entries: for letters (given their numbers), answers and documents.

Each function is called by the one path that makes what it records (outbound.numbering for
letters, inbound.answers.register_answer, documents.store), inside that path's transaction.
A process without `[archive]` keeps no journal: nothing is written and no number is given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session

from innspill.journal.numbers import Db, Number, allocate, document_reference
from innspill.models import Answer, Document, JournalEntry
from innspill.models.db import table_of
from innspill.process.definition import ProcessDefinition
from innspill.process.workdays import OSLO

INCOMING, OUTGOING, INTERNAL, INTERNAL_NOTE = "I", "U", "X", "N"
RECIPIENT, SENDER, INTERNAL_SENDER = "recipient", "sender", "internal_sender"
LETTER, ANSWER, COMPILATION, DRAFT = "letter", "answer", "compilation", "draft"

# "(vår ref. 20/64758)" at the end of a subject: the journal has its own number for that.
_OUR_REF = re.compile(r"\s*\([^()]*\bref\.[^()]*\)\s*$", re.IGNORECASE)


def answer_key(process_id: str, step_id: str, participant_id: str, version: int) -> str:
    """The natural key of an answer version, as its entry records it."""
    return f"{process_id}/{step_id}/{participant_id}/{version}"


def document_key(process_id: str, step_id: str, kind: str, version: int) -> str:
    """The natural key of a document version, as its entry records it."""
    return f"{process_id}/{step_id}/{kind}/{version}"


def local_date(at: datetime) -> date:
    return at.astimezone(OSLO).date()


def letter_title(subject: str) -> str:
    """A letter's journal title: its subject without our reference at the end."""
    return _OUR_REF.sub("", subject) or subject


def letter_entry(
    definition: ProcessDefinition,
    row: dict[str, Any],
    number: Number,
    *,
    title: str,
    name: str,
    now: datetime,
    by: str = "",
) -> dict[str, Any]:
    """The entry of an outgoing letter (an outbox row sent as its own mail) to `name`."""
    return _entry(
        definition,
        number,
        entry_type=OUTGOING,
        source=LETTER,
        source_key=row["key"],
        step_key=row["step_key"],
        participant_key=row["participant_key"],
        title=letter_title(title),
        role=RECIPIENT,
        name=name,
        address=row["recipient"],
        document_date=local_date(now),
        due=row.get("deadline"),
        now=now,
        by=by,
    )


def record_answer(
    session: Session, definition: ProcessDefinition, answer: Answer, *, now: datetime
) -> Number | None:
    """Journal a new answer version (incoming) from its participant; None without a journal."""
    archive = definition.archive
    if archive is None:
        return None
    (number,) = allocate(session, archive, definition.process.reference, 1, now=now)
    person = definition.participant(answer.participant_key)
    step = definition.step(answer.step_key)
    again = f" (versjon {answer.version})" if answer.version > 1 else ""
    entry = _entry(
        definition,
        number,
        entry_type=INCOMING,
        source=ANSWER,
        source_key=answer_key(
            definition.id, answer.step_key, answer.participant_key, answer.version
        ),
        step_key=answer.step_key,
        participant_key=answer.participant_key,
        version=answer.version,
        title=f"{step.title} – {person.name}{again}",
        role=SENDER,
        name=person.name,
        address=str(person.email),
        document_date=local_date(answer.received_at),
        now=now,
        by=answer.registered_by,
    )
    insert_entries(session, [entry])
    return number


def take_document_number(
    session: Session, definition: ProcessDefinition, *, now: datetime
) -> Number | None:
    """The numbers of a document about to be made (it shows them); None without a journal.
    `record_document` then writes its entry in the same transaction."""
    archive = definition.archive
    if archive is None:
        return None
    (number,) = allocate(session, archive, definition.process.reference, 1, now=now)
    return number


def record_document(
    session: Session, definition: ProcessDefinition, document: Document, number: Number
) -> None:
    """Journal a compilation (internal, for follow-up) or a draft (internal) version."""
    step = definition.step(document.step_key)
    if document.kind == COMPILATION:
        entry_type, title = INTERNAL, f"{step.title}, versjon {document.version}"
    else:
        entry_type, title = INTERNAL_NOTE, f"Utkast: {step.title}, versjon {document.version}"
    entry = _entry(
        definition,
        number,
        entry_type=entry_type,
        source=document.kind,
        source_key=document_key(definition.id, document.step_key, document.kind, document.version),
        step_key=document.step_key,
        version=document.version,
        title=title,
        role=INTERNAL_SENDER,
        name=definition.sender.unit,
        document_date=local_date(document.created_at),
        now=document.created_at,
        by=document.created_by,
    )
    insert_entries(session, [entry])


def _entry(
    definition: ProcessDefinition,
    number: Number,
    *,
    entry_type: str,
    source: str,
    source_key: str,
    step_key: str,
    title: str,
    role: str,
    name: str,
    document_date: date,
    now: datetime,
    participant_key: str | None = None,
    version: int | None = None,
    address: str = "",
    due: date | None = None,
    by: str = "",
) -> dict[str, Any]:
    archive = definition.archive
    assert archive is not None  # numbers are only taken for a process with a journal
    return {
        "process_id": definition.id,
        "organisation_number": archive.organisation_number,
        "year": number.year,
        "sequence": number.sequence,
        "case_reference": number.case,
        "document_number": number.document,
        "entry_type": entry_type,
        "source": source,
        "source_key": source_key,
        "step_key": step_key,
        "participant_key": participant_key,
        "version": version,
        "title": title,
        "public_title": None,
        "correspondent_role": role,
        "correspondent_name": name,
        "correspondent_address": address,
        "document_date": document_date,
        "journal_date": local_date(now),
        "due": due,
        "registered_at": now,
        "registered_by": by,
    }


def insert_entries(db: Db, entries: Sequence[dict[str, Any]]) -> None:
    """Write entries in one statement (Core: a large tick writes thousands)."""
    if entries:
        db.execute(insert(table_of(JournalEntry)), list(entries))


def reference_of(db: Db, source: str, source_key: str) -> str | None:
    """The document number (`20/64758-23`) of what `source_key` names, if it has one."""
    t = table_of(JournalEntry)
    found = db.execute(
        select(t.c.case_reference, t.c.document_number).where(
            t.c.source == source, t.c.source_key == source_key
        )
    ).first()
    return document_reference(found[0], found[1]) if found else None
