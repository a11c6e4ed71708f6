"""The journal as people read it: a process's entries with what became of each, the public
journal over a date range, and the count and last number `status` shows.

One query each, the sources joined by the natural keys the entries record: a letter's outbox
row (was it dispatched?), an answer version (when it came), a document version (its file).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from innspill.journal.numbers import document_reference
from innspill.journal.record import ANSWER, COMPILATION, DRAFT, LETTER
from innspill.models import Answer, Document, JournalEntry, OutboxMessage, Process
from innspill.models.db import table_of

#: What became of a letter: its outbox row's status, in the journal's words.
DISPATCHED, WAITING, NOT_DISPATCHED = "dispatched", "waiting", "not_dispatched"


@dataclass(frozen=True)
class EntryView:
    """One journal entry, with the facts of what it records that the journal shows."""

    process_id: str
    reference: str  # 20/64758-12
    journal_number: str  # 2020/12 (journalår/løpenummer)
    year: int
    sequence: int
    document_number: int
    journal_date: date
    entry_type: str  # I, U, X, N
    source: str  # letter, answer, compilation, draft
    source_key: str
    step_key: str
    participant_key: str | None
    version: int | None
    title: str
    public_title: str | None
    correspondent_role: str
    correspondent_name: str
    correspondent_address: str
    document_date: date
    due: date | None
    registered_at: datetime
    registered_by: str
    # a letter: dispatched, waiting or not_dispatched (refused for good), when, and why not
    dispatch: str | None = None
    sent_at: datetime | None = None
    error: str | None = None
    message_id: int | None = None  # the outbox row (the message as sent)
    received_at: datetime | None = None  # an answer: when it came
    document_id: int | None = None  # a compilation or draft version: its file
    filename: str | None = None

    @property
    def shown_title(self) -> str:
        """The title the public journal shows: the screened one when there is one."""
        return self.public_title or self.title

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name, value in out.items():
            if isinstance(value, date | datetime):
                out[name] = value.isoformat()
        return out


@dataclass(frozen=True)
class JournalSummary:
    """What `status` says about a process's journal."""

    keeps_numbers: bool  # the process has an [archive] section
    entries: int
    last: str | None  # the newest entry's document number

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _statement(*conditions: Any) -> Any:
    e = table_of(JournalEntry)
    o = table_of(OutboxMessage)
    a = table_of(Answer)
    d = table_of(Document)
    return (
        select(
            e,
            o.c.id.label("o_id"),
            o.c.status.label("o_status"),
            o.c.sent_at.label("o_sent_at"),
            o.c.last_error.label("o_error"),
            a.c.received_at.label("a_received_at"),
            d.c.id.label("d_id"),
            d.c.filename.label("d_filename"),
        )
        .select_from(e)
        .outerjoin(o, and_(e.c.source == LETTER, o.c.key == e.c.source_key))
        .outerjoin(
            a,
            and_(
                e.c.source == ANSWER,
                a.c.process_id == e.c.process_id,
                a.c.step_key == e.c.step_key,
                a.c.participant_key == e.c.participant_key,
                a.c.version == e.c.version,
            ),
        )
        .outerjoin(
            d,
            and_(
                or_(e.c.source == COMPILATION, e.c.source == DRAFT),
                d.c.process_id == e.c.process_id,
                d.c.step_key == e.c.step_key,
                d.c.kind == e.c.source,
                d.c.version == e.c.version,
            ),
        )
        .where(*conditions)
    )


def _dispatch(status: str | None) -> str | None:
    if status is None:
        return None
    if status == "sent":
        return DISPATCHED
    if status == "failed":
        return NOT_DISPATCHED
    return WAITING


def _view(row: Any) -> EntryView:
    m = row._mapping
    return EntryView(
        process_id=m["process_id"],
        reference=document_reference(m["case_reference"], m["document_number"]),
        journal_number=f"{m['year']}/{m['sequence']}",
        year=m["year"],
        sequence=m["sequence"],
        document_number=m["document_number"],
        journal_date=m["journal_date"],
        entry_type=m["entry_type"],
        source=m["source"],
        source_key=m["source_key"],
        step_key=m["step_key"],
        participant_key=m["participant_key"],
        version=m["version"],
        title=m["title"],
        public_title=m["public_title"],
        correspondent_role=m["correspondent_role"],
        correspondent_name=m["correspondent_name"],
        correspondent_address=m["correspondent_address"],
        document_date=m["document_date"],
        due=m["due"],
        registered_at=m["registered_at"],
        registered_by=m["registered_by"],
        dispatch=_dispatch(m["o_status"]),
        sent_at=m["o_sent_at"],
        error=m["o_error"] if m["o_status"] == "failed" else None,
        message_id=m["o_id"],
        received_at=m["a_received_at"],
        document_id=m["d_id"],
        filename=m["d_filename"],
    )


def process_journal(db: Session | Connection, process_id: str) -> list[EntryView]:
    """Every entry of a process, in journal order (year, løpenummer)."""
    e = table_of(JournalEntry)
    statement = _statement(e.c.process_id == process_id).order_by(e.c.year, e.c.sequence)
    return [_view(row) for row in db.execute(statement)]


@dataclass(frozen=True)
class PublicEntry:
    """A line of the public journal: what offentlig journal shows, nothing more."""

    journal_date: date
    reference: str
    document_number: int
    entry_type: str
    correspondent: str
    case_title: str
    title: str  # the public title where the title is screened
    process_id: str


def public_journal(
    db: Session | Connection, *, start: date, end: date, limit: int | None = None
) -> Iterator[PublicEntry]:
    """The entries of every process journaled from `start` to `end` (inclusive), by date and
    number; no addresses, and screened titles as screened."""
    e = table_of(JournalEntry)
    p = table_of(Process)
    statement = (
        select(
            e.c.journal_date,
            e.c.case_reference,
            e.c.document_number,
            e.c.entry_type,
            e.c.correspondent_name,
            e.c.title,
            e.c.public_title,
            e.c.process_id,
            p.c.title.label("case_title"),
        )
        .join(p, p.c.id == e.c.process_id)
        .where(e.c.journal_date >= start, e.c.journal_date <= end)
        .order_by(e.c.journal_date, e.c.organisation_number, e.c.year, e.c.sequence)
    )
    if limit is not None:
        statement = statement.limit(limit)
    for row in db.execute(statement):
        yield PublicEntry(
            journal_date=row.journal_date,
            reference=document_reference(row.case_reference, row.document_number),
            document_number=row.document_number,
            entry_type=row.entry_type,
            correspondent=row.correspondent_name,
            case_title=row.case_title,
            title=row.public_title or row.title,
            process_id=row.process_id,
        )


def summaries(
    db: Session | Connection, keeps: dict[str, bool], process_ids: Sequence[str]
) -> dict[str, JournalSummary]:
    """Each process's journal count and highest document number, in one query for all."""
    if not process_ids:
        return {}
    e = table_of(JournalEntry)
    found = {
        row.process_id: row
        for row in db.execute(
            select(
                e.c.process_id,
                func.count().label("n"),
                func.max(e.c.case_reference).label("case"),  # one per process
                func.max(e.c.document_number).label("last"),
            )
            .where(e.c.process_id.in_(process_ids))
            .group_by(e.c.process_id)
        )
    }
    out = {}
    for pid in process_ids:
        row = found.get(pid)
        last = document_reference(row.case, row.last) if row is not None else None
        out[pid] = JournalSummary(keeps.get(pid, False), row.n if row is not None else 0, last)
    return out
