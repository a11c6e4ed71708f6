"""Mail that comes in, the tokens that tie it to a participant, and files sent with answers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class TokenPurpose(StrEnum):
    """What a token opens: a reply address (of one step, or of every part of an invitation),
    or the web answer form."""

    REPLY = "reply"
    FORM = "form"
    # The reply address of an invitation in several parts (its step_key: the first part's):
    # what the reply says tells the part (innspill.inbound.placing).
    PARTS = "parts"


class AccessToken(SQLModel, table=True):
    """A participant's token for one step; only its SHA-256 is stored, never the token."""

    __table_args__ = (UniqueConstraint("process_id", "step_key", "participant_key", "purpose"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(foreign_key="process.id", index=True)
    step_key: str = Field(max_length=80)
    participant_key: str = Field(max_length=80)
    purpose: TokenPurpose = Field(sa_type=String(10))
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class InboundStatus(StrEnum):
    """Where an incoming message stands. Only innspill.inbound.intake changes it."""

    ACCEPTED = "accepted"  # became an answer
    BOUNCE = "bounce"  # a delivery report: the participant's address is marked failing
    CALENDAR = "calendar"  # a calendar reply to a meeting invitation, recorded (innspill.rsvp)
    HELD = "held"  # in the holding queue, with its reason, for a person to look at
    ASSIGNED = "assigned"  # held, then assigned to a participant by a person
    DISMISSED = "dismissed"  # held, then set aside by a person


class InboundMessage(SQLModel, table=True):
    """One message read from the mailbox, kept raw whatever became of it."""

    __table_args__ = (UniqueConstraint("source", "source_uid"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=200)  # e.g. imap://host/INBOX
    source_uid: str = Field(max_length=80)  # UIDVALIDITY:UID on an IMAP server
    message_id: str | None = Field(default=None, max_length=300, index=True)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sender: str = ""
    subject: str = ""
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: InboundStatus = Field(sa_type=String(10))
    kind: str = Field(max_length=20)  # answer, auto_reply, bounce, no_token, ...
    reason: str = ""
    process_id: str | None = Field(default=None, max_length=80, index=True)
    step_key: str | None = Field(default=None, max_length=80)
    participant_key: str | None = Field(default=None, max_length=80)
    answer_id: int | None = Field(default=None, foreign_key="answer.id")


class AnswerAttachment(SQLModel, table=True):
    """A file that came with an answer (by mail or through the form)."""

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int = Field(foreign_key="answer.id", index=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=120)
    size: int
    sha256: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
