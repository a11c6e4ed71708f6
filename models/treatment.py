"""How far each body has come in treating a circulated draft, and who attended a meeting."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class TreatmentState(StrEnum):
    """A steering group's treatment of the draft. Only innspill.documents.treatment changes it."""

    PENDING = "pending"
    ON_AGENDA = "on_agenda"
    TREATED = "treated"


class Treatment(SQLModel, table=True):
    """The latest known treatment state of one body for one circulation step."""

    __table_args__ = (UniqueConstraint("process_id", "step_key", "participant_key"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(foreign_key="process.id", index=True)
    step_key: str = Field(max_length=80)
    participant_key: str = Field(max_length=80)
    state: TreatmentState = Field(default=TreatmentState.PENDING, sa_type=String(12))
    meeting_date: date | None = None
    decided_on: date | None = None
    decision: str = ""
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str = ""


class Attendance(SQLModel, table=True):
    """Whether a participant attended a meeting step."""

    __table_args__ = (UniqueConstraint("process_id", "step_key", "participant_key"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(foreign_key="process.id", index=True)
    step_key: str = Field(max_length=80)
    participant_key: str = Field(max_length=80)
    attended: bool
    registered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    registered_by: str = ""
