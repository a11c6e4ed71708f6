"""The holding queue as a list: what `innspill inbox list` prints and the dashboard shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from innspill.models import InboundMessage, InboundStatus


@dataclass(frozen=True)
class QueueRow:
    """One incoming message without its bytes."""

    id: int
    received_at: datetime
    status: str
    kind: str
    sender: str
    subject: str
    reason: str
    process_id: str | None
    step_key: str | None
    participant_key: str | None


COLUMNS = (
    col(InboundMessage.id),
    col(InboundMessage.received_at),
    col(InboundMessage.status),
    col(InboundMessage.kind),
    col(InboundMessage.sender),
    col(InboundMessage.subject),
    col(InboundMessage.reason),
    col(InboundMessage.process_id),
    col(InboundMessage.step_key),
    col(InboundMessage.participant_key),
)


def listing(session: Session, *, include_all: bool = False) -> list[QueueRow]:
    """The held messages (or, with include_all, every incoming one), oldest first."""
    query = select(*COLUMNS).order_by(col(InboundMessage.id))
    if not include_all:
        query = query.where(col(InboundMessage.status) == InboundStatus.HELD)
    return [QueueRow(**row._asdict()) for row in session.execute(query).all()]
