"""Deadline changes: for a whole step, or an extension for one participant."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class DeadlineChange(SQLModel, table=True):
    """A new deadline for a step; `participant_key` None means everyone. The latest wins."""

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(foreign_key="process.id", index=True)
    step_key: str = Field(max_length=80)
    participant_key: str | None = Field(default=None, max_length=80)
    deadline: date
    reason: str = ""
    changed_by: str = ""
    changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
