"""Answers (innspill) from participants; every version is kept, the latest counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class Answer(SQLModel, table=True):
    """One version of a participant's answer to a request step."""

    __table_args__ = (UniqueConstraint("process_id", "step_key", "participant_key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(foreign_key="process.id", index=True)
    step_key: str = Field(max_length=80)
    participant_key: str = Field(max_length=80)
    version: int = 1
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    channel: str = Field(max_length=20)  # email, form, registered
    registered_by: str = ""
    text_json: str = "{}"  # theme id -> text
