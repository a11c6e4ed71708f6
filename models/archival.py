"""Archival copies: each letter, answer, document and file in PDF/A, with how it was made."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class SourceKind(StrEnum):
    """What an archival copy is a copy of; with `source_key`, the source's natural key."""

    LETTER = "letter"  # OutboxMessage.key (a sent message)
    ANSWER = "answer"  # process/step/participant/version
    DOCUMENT = "document"  # process/step/kind/version (a compilation or a draft)
    ANSWER_FILE = "answer_file"  # process/step/participant/version/sha256 of the file
    STEP_FILE = "step_file"  # sha256 of a step attachment's content (FileContent)


class CopyStatus(StrEnum):
    """Where a copy stands. Only innspill.archival.claims changes it."""

    CONVERTING = "converting"  # claimed by a conversion pass until `lease_until`
    DONE = "done"  # `data` holds the archival copy
    FAILED = "failed"  # `error` says why; `innspill archive convert --retry-failed` tries again


class ArchivalCopy(SQLModel, table=True):
    """The archival-format copy (PDF/A) of one source record, and what the Noark 5 export
    needs to describe it: format, size and checksum, the original's format, and the
    conversion (when, with what tool). The copy is the variant «Arkivformat»; where
    `original_variant` is «Produksjonsformat», the original (DOCX, ODT, a PDF that was not
    PDF/A) is kept beside it as a second file of the same document."""

    __tablename__ = "archival_copy"
    __table_args__ = (
        UniqueConstraint("source_kind", "source_key"),
        Index("ix_archival_copy_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_kind: SourceKind = Field(sa_type=String(20))
    source_key: str = Field(max_length=400)
    # The process the source belongs to (for a step file: the first process that sent it).
    process_id: str | None = Field(default=None, max_length=80, index=True)
    status: CopyStatus = Field(sa_type=String(12))
    attempts: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    claimed_by: str | None = Field(default=None, max_length=120)
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # The copy (set when done).
    filename: str | None = Field(default=None, max_length=300)
    format: str | None = Field(default=None, max_length=20)  # PRONOM, e.g. fmt/477 (PDF/A-2b)
    format_name: str | None = Field(default=None, max_length=40)  # e.g. PDF/A-2b
    extension: str | None = Field(default=None, max_length=10)  # e.g. pdf
    variant: str | None = Field(default=None, max_length=40)  # «Arkivformat»
    size: int | None = None
    sha256: str | None = Field(default=None, max_length=64)
    data: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    # The original it was made from, and the conversion.
    original_type: str | None = Field(default=None, max_length=120)  # a MIME type
    original_sha256: str | None = Field(default=None, max_length=64)
    original_size: int | None = None
    original_variant: str | None = Field(default=None, max_length=40)  # «Produksjonsformat»
    converted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    tool: str | None = Field(default=None, max_length=120)  # e.g. LibreOffice 7.4.7.2
    conversion: str | None = Field(default=None, max_length=300)  # what was done, in words
