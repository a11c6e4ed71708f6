"""The outbox: every outgoing message, rendered and stored before it is sent."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, LargeBinary, String
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class MessageStatus(StrEnum):
    """Where a message stands. Only innspill.outbound.outbox changes it (its SQL is in claims)."""

    PENDING = "pending"  # stored, not yet accepted by the SMTP server (or deferred after a 4xx)
    SENDING = "sending"  # claimed by a sender until `lease_until`; claimed again if that passes
    SENT = "sent"  # accepted by the SMTP server (or written to the local capture)
    FAILED = "failed"  # refused for good (5xx, or too many attempts): needs a person
    # Never sent by itself: it went out inside the message `carried_by` (invitations to one
    # participant of steps that open the same day are one message; see outbound/combine.py).
    COMBINED = "combined"


class OutboxMessage(SQLModel, table=True):
    """One message. `key` is the natural key of the action that made it: unique, so never twice."""

    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=300)
    process_id: str = Field(foreign_key="process.id", index=True)
    step_key: str = Field(max_length=80)
    participant_key: str = Field(max_length=80, index=True)
    kind: str = Field(max_length=40)
    sequence: str = Field(max_length=60)
    message_id: str = Field(unique=True, max_length=200)
    sender: str
    recipient: str
    subject: str
    deadline: date | None = None  # the deadline this message announced, if any
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: MessageStatus = Field(default=MessageStatus.PENDING, sa_type=String(10))
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Who is sending it (host:pid:random) and until when: a sender that dies leaves its claim
    # to expire, and another sender takes the message over. The last claimant stays recorded.
    claimed_by: str | None = Field(default=None, max_length=120)
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # For a COMBINED row: the key of the message that carries it (its raw bytes are there).
    # A resend of that message carries it again: the key is then the resend's.
    carried_by: str | None = Field(default=None, max_length=300)


def delivery_status(status: str, carrier_status: str | None) -> str:
    """Where a message stands for its recipient: a COMBINED row went (or failed, or waits)
    inside its carrier, so it stands where the carrier stands; any other row, where it is."""
    if status == MessageStatus.COMBINED and carrier_status is not None:
        return carrier_status
    return status
