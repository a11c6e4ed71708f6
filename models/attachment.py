"""Files a process sends with its invitations: each content stored once by its hash, and linked
to the steps that carry it under the file name the process file gives."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class FileContent(SQLModel, table=True):
    """One distinct content (by SHA-256). Rows are never changed or deleted: a message already
    queued keeps its own bytes, and a reloaded file with new content is a new row."""

    __tablename__ = "file_content"

    sha256: str = Field(primary_key=True, max_length=64)
    content_type: str = Field(max_length=120)
    size: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class StepAttachment(SQLModel, table=True):
    """A step's attachment: which content it carries now, under which file name, in order."""

    __tablename__ = "step_attachment"
    __table_args__ = (UniqueConstraint("process_id", "step_key", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(foreign_key="process.id", index=True)
    step_key: str = Field(max_length=80)
    position: int
    filename: str = Field(max_length=300)
    sha256: str = Field(foreign_key="file_content.sha256", max_length=64)
    loaded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
