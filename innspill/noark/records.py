"""The journal of one process read for the extract: each entry (a journalpost) with its
documents, and each document with its files (dokumentobjekt): the archival copy (PDF/A,
«Arkivformat») and, where one is kept beside it, the original («Produksjonsformat»).

Only metadata is read here; the files' bytes are read one at a time when they are written
(`load_file`), so a large round is not held in memory.
"""

from __future__ import annotations

import mimetypes
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, or_
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from innspill.archival.mailview import read_mail
from innspill.archival.sources import read_job
from innspill.filetypes import EXTENSIONS
from innspill.journal.read import DISPATCHED, EntryView, process_journal
from innspill.journal.record import ANSWER, COMPILATION, DRAFT, LETTER, answer_key, document_key
from innspill.models import (
    Answer,
    AnswerAttachment,
    ArchivalCopy,
    CopyStatus,
    Document,
    MessageStatus,
    OutboxMessage,
    Participant,
    SourceKind,
)

#: How a document whose conversion failed is described (checks groups by it).
FAILED = "the conversion failed"
ARCHIVAL, PRODUCTION = "Arkivformat", "Produksjonsformat"
MAIN, ATTACHMENT = "Hoveddokument", "Vedlegg"
#: What each source's original was, for dokumentobjekt/konvertering (konvertertFraFormat).
_FROM = {"message/rfc822": "eml", "application/json": "json", "text/markdown": "md"}
#: dokumenttype (free text, M083) of a journalpost's main document, by the entry's source.
DOCUMENT_TYPES = {
    LETTER: "Brev",
    ANSWER: "Innspill",
    COMPILATION: "Sammenstilling",
    DRAFT: "Utkast",
}


@dataclass(frozen=True)
class Conversion:
    at: datetime
    from_format: str
    to_format: str
    tool: str | None
    comment: str | None


@dataclass(frozen=True)
class FileObject:
    """One file of a document: its variant, format and where it goes in the extract."""

    variant: str  # Arkivformat | Produksjonsformat
    extension: str  # the format as Arkade wants it: the file's extension (pdf, docx)
    details: str | None  # formatDetaljer: the PRONOM code and name, or the MIME type
    sha256: str
    size: int
    created: datetime
    source: tuple[SourceKind, str]  # the archival copy (or its original) it is read from
    original: bool  # the original's bytes rather than the copy's
    conversion: Conversion | None = None

    @property
    def path(self) -> str:
        """Relative to the extract; named by content, so a file sent in many letters (the
        assignment) is one file referenced from each."""
        return f"dokumenter/{self.sha256}.{self.extension}"


@dataclass(frozen=True)
class Doc:
    """A document (dokumentbeskrivelse) of a journalpost."""

    key: str  # the source's natural key (kind/key), for its systemID
    title: str
    doctype: str
    role: str  # Hoveddokument | Vedlegg
    created: datetime
    created_by: str
    objects: tuple[FileObject, ...]
    missing: str | None = None  # why it has no archival copy (then no objects)


@dataclass
class Post:
    entry: EntryView
    documents: list[Doc] = field(default_factory=list)
    # Internal recipients (name, address): the drafters a compilation was mailed to.
    internal: list[tuple[str, str]] = field(default_factory=list)


def _extension(mime: str | None) -> str:
    if not mime:
        return "bin"
    base = mime.split(";")[0].strip().lower()
    known = EXTENSIONS.get(base) or mimetypes.guess_extension(base) or ".bin"
    return known.lstrip(".")


def _copy_columns() -> list[ColumnElement[object]]:
    # Every column but the copy's bytes.
    table = ArchivalCopy.__table__  # type: ignore[attr-defined]
    return [c for c in table.columns if c.name != "data"]


class Copies:
    """The archival copies of a process (and the step files, shared by processes)."""

    def __init__(self, session: Session, process_id: str) -> None:
        rows = session.execute(
            core_select(*_copy_columns()).where(
                or_(
                    col(ArchivalCopy.process_id) == process_id,
                    col(ArchivalCopy.source_kind) == SourceKind.STEP_FILE.value,
                )
            )
        ).all()
        self.rows = {(SourceKind(r.source_kind), r.source_key): r for r in rows}

    def doc(
        self,
        kind: SourceKind,
        key: str,
        *,
        title: str,
        doctype: str,
        role: str,
        when: datetime,
        by: str,
    ) -> Doc:
        row = self.rows.get((kind, key))
        name = f"{kind.value}/{key}"
        if row is None or row.status != CopyStatus.DONE.value:
            why = "not made yet (run `innspill archive convert`)"
            if row is not None and row.status == CopyStatus.FAILED.value:
                why = f"{FAILED}: {row.error}"
            elif row is not None:
                why = "being made by a conversion running now"
            return Doc(name, title, doctype, role, when, by, (), missing=why)
        made = row.converted_at or when
        conversion = None
        if row.tool:
            source = _FROM.get(row.original_type or "", _extension(row.original_type))
            if (row.conversion or "").startswith("HTML"):  # a compilation: from its HTML
                source = "html"
            conversion = Conversion(made, source, row.extension, row.tool, row.conversion)
        objects = [
            FileObject(
                ARCHIVAL,
                row.extension or "pdf",
                f"{row.format} {row.format_name}".strip() if row.format else row.format_name,
                row.sha256,
                row.size,
                made,
                (kind, key),
                False,
                conversion,
            )
        ]
        if row.original_variant == PRODUCTION and row.original_sha256:
            objects.append(
                FileObject(
                    PRODUCTION,
                    _extension(row.original_type),
                    row.original_type,
                    row.original_sha256,
                    row.original_size or 0,
                    when,
                    (kind, key),
                    True,
                )
            )
        return Doc(name, title, doctype, role, when, by, tuple(objects))


def read_posts(session: Session, process_id: str) -> list[Post]:
    """Every journal entry of the process, in journal order, with its documents."""
    entries = process_journal(session, process_id)
    copies = Copies(session, process_id)
    files = _answer_files(session, process_id)
    carried = _carried(session, process_id)
    documents = {
        sha: document_key(process_id, step, kind, version)
        for sha, step, kind, version in session.exec(
            select(Document.sha256, Document.step_key, Document.kind, Document.version).where(
                Document.process_id == process_id
            )
        ).all()
    }
    readers = _compilation_readers(session, process_id)
    posts = []
    for e in entries:
        post = Post(e, _documents(e, copies, files, carried, documents))
        if e.source == COMPILATION:
            post.internal = readers.get((e.step_key, str(e.version)), [])
        posts.append(post)
    return posts


def _documents(
    e: EntryView,
    copies: Copies,
    files: dict[str, list[tuple[str, str]]],
    carried: dict[int, list[tuple[str, str]]],
    documents: dict[str, str],
) -> list[Doc]:
    """An entry's documents: the record itself (Hoveddokument), then its files (Vedlegg)."""
    out: list[Doc] = []
    by = e.registered_by or "innspill"

    def add(kind: SourceKind, key: str, title: str, role: str = ATTACHMENT) -> None:
        doctype = DOCUMENT_TYPES.get(e.source, "Dokument") if role == MAIN else "Vedlegg"
        out.append(
            copies.doc(
                kind, key, title=title, doctype=doctype, role=role, when=e.registered_at, by=by
            )
        )

    if e.source == LETTER and e.dispatch == DISPATCHED:  # a letter never sent has no copy
        add(SourceKind.LETTER, e.source_key, e.title, MAIN)
        for name, sha in carried.get(e.message_id or 0, []):
            if (SourceKind.STEP_FILE, sha) in copies.rows:
                add(SourceKind.STEP_FILE, sha, name)
            elif sha in documents:
                add(SourceKind.DOCUMENT, documents[sha], name)
    elif e.source == ANSWER:
        add(SourceKind.ANSWER, e.source_key, e.title, MAIN)
        for name, sha in files.get(e.source_key, []):
            add(SourceKind.ANSWER_FILE, f"{e.source_key}/{sha}", name)
    elif e.source in (COMPILATION, DRAFT):
        add(SourceKind.DOCUMENT, e.source_key, e.title, MAIN)
    return out


def _carried(session: Session, process_id: str) -> dict[int, list[tuple[str, str]]]:
    """The files each sent message of the process carried (name, SHA-256), once per content,
    read from the mail as sent, a few messages at a time. Those that are records of their
    own (the step's files, the draft) become the letter's attachments; a calendar file
    (.ics) is no archival format: the letter's own page lists it."""
    out: dict[int, list[tuple[str, str]]] = {}
    rows = session.execute(
        core_select(col(OutboxMessage.id), col(OutboxMessage.raw))
        .where(
            col(OutboxMessage.process_id) == process_id,
            col(OutboxMessage.status) == MessageStatus.SENT.value,
        )
        .execution_options(yield_per=100)
    )
    for message_id, raw in rows:
        found: list[tuple[str, str]] = []
        for f in read_mail(raw).files if raw else []:
            if all(f.sha256 != sha for _, sha in found):
                found.append((f.filename, f.sha256))
        if found:
            out[message_id] = found
    return out


def _compilation_readers(
    session: Session, process_id: str
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(step, version) -> the drafters each compilation version was mailed to: that mail is
    not a letter of its own (it carries an internal document), so they are the post's
    «Intern mottaker»."""
    out: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    rows = session.execute(
        core_select(
            col(OutboxMessage.step_key),
            col(OutboxMessage.sequence),
            col(Participant.name),
            col(OutboxMessage.recipient),
        )
        .join(
            Participant,
            (col(Participant.process_id) == col(OutboxMessage.process_id))
            & (col(Participant.key) == col(OutboxMessage.participant_key)),
        )
        .where(
            col(OutboxMessage.process_id) == process_id,
            col(OutboxMessage.kind) == COMPILATION,
            col(OutboxMessage.status) == MessageStatus.SENT.value,
        )
        .order_by(col(OutboxMessage.id))
    ).all()
    for step, sequence, name, address in rows:
        if (name, address) not in out[(step, sequence)]:
            out[(step, sequence)].append((name, address))
    return out


def _answer_files(session: Session, process_id: str) -> dict[str, list[tuple[str, str]]]:
    """Each answer version's files (name, SHA-256), once per content, in the order received."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    rows = session.execute(
        core_select(
            col(Answer.step_key),
            col(Answer.participant_key),
            col(Answer.version),
            col(AnswerAttachment.filename),
            col(AnswerAttachment.sha256),
        )
        .select_from(AnswerAttachment)
        .join(Answer, col(Answer.id) == col(AnswerAttachment.answer_id))
        .where(col(Answer.process_id) == process_id)
        .order_by(col(AnswerAttachment.id))
    ).all()
    for step, participant, version, name, sha in rows:
        key = answer_key(process_id, step, participant, version)
        if all(sha != seen for _, seen in out[key]):
            out[key].append((name, sha))
    return out


def load_file(session: Session, obj: FileObject) -> bytes:
    """The bytes of one file: the archival copy, or the original it was made from."""
    kind, key = obj.source
    if obj.original:
        return read_job(session, kind, key).original
    data = session.exec(
        select(ArchivalCopy.data).where(
            ArchivalCopy.source_kind == kind.value, ArchivalCopy.source_key == key
        )
    ).first()
    if data is None:
        raise LookupError(f"the archival copy of {kind.value} {key} is gone")
    return bytes(data)
