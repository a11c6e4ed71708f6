"""Documents the process produces or receives: compilations and drafts, every version kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class Document(SQLModel, table=True):
    """One version of a compilation (made by the engine) or a draft (registered by a person)."""

    __table_args__ = (UniqueConstraint("process_id", "step_key", "kind", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(foreign_key="process.id", index=True)
    step_key: str = Field(max_length=80)
    kind: str = Field(max_length=20)  # compilation | draft
    version: int
    filename: str
    content_type: str = Field(max_length=120)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    html: str | None = Field(default=None, sa_column=Column(Text))
    sha256: str = Field(max_length=64)
    note: str = ""  # what changed since the previous version
    basis: str = ""  # for a compilation: the answer versions it includes
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_by: str = ""
