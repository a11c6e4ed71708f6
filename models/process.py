"""The process aggregate: a loaded process file, its participants and its steps."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class Process(SQLModel, table=True):
    """A loaded process definition; the file's content is kept as JSON."""

    id: str = Field(primary_key=True, max_length=80)
    title: str
    reference: str = Field(max_length=20)
    source_path: str
    definition_json: str
    definition_hash: str = Field(max_length=64)
    loaded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Participant(SQLModel, table=True):
    """A participant as loaded; `address_failing` is set when mail to it bounces."""

    __table_args__ = (UniqueConstraint("process_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(foreign_key="process.id", index=True)
    key: str = Field(max_length=80)
    name: str
    role: str = Field(max_length=80)
    email: str
    language: str = Field(max_length=8)
    address_failing: bool = False


class Step(SQLModel, table=True):
    """A step as loaded: its kind and the dates from the file (changes go in DeadlineChange)."""

    __table_args__ = (UniqueConstraint("process_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(foreign_key="process.id", index=True)
    key: str = Field(max_length=80)
    kind: str = Field(max_length=20)
    title: str
    position: int
    opens: date | None = None
    deadline: date | None = None
