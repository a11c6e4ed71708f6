"""Calendar replies (iTIP REPLY) to meeting invitations: the latest one per participant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class CalendarReply(SQLModel, table=True):
    """What a participant last answered to a meeting's calendar invitation.

    Only innspill.rsvp writes it: the reply with the latest DTSTAMP (then the latest received)
    wins; every reply, also an older one, is in the event log. A reply to an earlier version
    of the invitation (a lower SEQUENCE: the meeting has moved since) is kept but not counted.
    Whether the participant came is Attendance, registered by hand.
    """

    __table_args__ = (UniqueConstraint("process_id", "step_key", "participant_key"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(foreign_key="process.id", index=True)
    step_key: str = Field(max_length=80)
    participant_key: str = Field(max_length=80)
    partstat: str = Field(sa_type=String(12))  # accepted | declined | tentative
    sequence: int | None = None  # the SEQUENCE of the invitation replied to (None: not given)
    stamped_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))  # DTSTAMP
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    attendee: str = Field(default="", max_length=300)  # the address the reply was made for
    inbound_id: int | None = Field(default=None, foreign_key="inboundmessage.id")
