"""SQLModel tables, one module per aggregate; importing this package registers them all."""

from models.answer import Answer
from models.deadline import DeadlineChange
from models.event import Event
from models.outbox import MessageStatus, OutboxMessage
from models.process import Participant, Process, Step

__all__ = [
    "Answer",
    "DeadlineChange",
    "Event",
    "MessageStatus",
    "OutboxMessage",
    "Participant",
    "Process",
    "Step",
]
