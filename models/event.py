"""The event log: one row for every change of state and every message."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class Event(SQLModel, table=True):
    """Something that happened. `key` (when set) is unique: recording it twice is a no-op."""

    id: int | None = Field(default=None, primary_key=True)
    key: str | None = Field(default=None, unique=True, max_length=300)
    process_id: str = Field(foreign_key="process.id", index=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    kind: str = Field(max_length=40)
    step_key: str | None = Field(default=None, max_length=80)
    participant_key: str | None = Field(default=None, max_length=80)
    detail: str = ""
    # Who did it: the signed-in user or the CLI's operator; "" for the engine's own doings.
    actor: str = Field(default="", max_length=120, sa_column_kwargs={"server_default": ""})
