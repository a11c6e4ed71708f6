"""The journal: one entry per letter sent, answer received and document made, with its numbers.

Only innspill.journal writes these rows, in the transaction that writes what they record, so
a rolled-back transaction gives its numbers back (the counters are rows of the same database).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class JournalCounter(SQLModel, table=True):
    """The next free number of one series: a journal year of a body (`journal:ORGNR:YEAR`)
    or a case's document numbers (`case:ORGNR:20/64758`). Taken a block at a time, locked
    (UPDATE ... RETURNING) by the transaction that writes the entries."""

    __tablename__ = "journal_counter"

    name: str = Field(primary_key=True, max_length=120)
    next_value: int


class JournalEntry(SQLModel, table=True):
    """One journal entry (journalpost): its løpenummer in the body's journal year, its document
    number in the case, and what it records, reachable by the source's natural key."""

    __tablename__ = "journal_entry"
    __table_args__ = (
        UniqueConstraint("organisation_number", "year", "sequence"),
        UniqueConstraint("organisation_number", "case_reference", "document_number"),
        UniqueConstraint("source", "source_key"),
        Index("ix_journal_entry_date", "journal_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(foreign_key="process.id", index=True)
    organisation_number: str = Field(max_length=9)  # whose journal (arkivskaper)
    year: int  # journalår
    sequence: int  # løpenummer in the journal year (journalsekvensnummer)
    case_reference: str = Field(max_length=20)  # saksnummer, e.g. 20/64758
    document_number: int  # in the case (journalpostnummer): 20/64758-12
    # I incoming, U outgoing, X internal for follow-up, N internal without (Noark's codes)
    entry_type: str = Field(max_length=1)
    # What it records: a letter (source_key = the outbox row's key), an answer version or a
    # document version (process/step/participant-or-kind/version); unique, so an export can
    # derive stable ids from it.
    source: str = Field(max_length=20)  # letter | answer | compilation | draft
    source_key: str = Field(max_length=300)
    step_key: str = Field(max_length=80)
    participant_key: str | None = Field(default=None, max_length=80)
    version: int | None = None  # of an answer or a document
    title: str
    # The title the public journal shows when the title itself is screened (offentligTittel);
    # None: the title is public. Nothing screens yet: the column keeps the door open.
    public_title: str | None = None
    # recipient | sender | internal_sender (Noark's Mottaker, Avsender, Intern avsender)
    correspondent_role: str = Field(max_length=20)
    correspondent_name: str
    correspondent_address: str = ""
    document_date: date  # dokumentetsDato: the letter's date, the answer's day of arrival
    journal_date: date  # journaldato (Europe/Oslo)
    due: date | None = None  # forfallsdato: the deadline a letter announces
    registered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    registered_by: str = ""  # the user or operator; "" for the engine's own
