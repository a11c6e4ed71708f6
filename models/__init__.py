"""SQLModel tables, one module per aggregate; importing this package registers them all."""

from models.answer import Answer
from models.deadline import DeadlineChange
from models.document import Document
from models.event import Event
from models.inbound import (
    AccessToken,
    AnswerAttachment,
    InboundMessage,
    InboundStatus,
    TokenPurpose,
)
from models.outbox import MessageStatus, OutboxMessage
from models.process import Participant, Process, Step
from models.treatment import Attendance, Treatment, TreatmentState
from models.user import User

__all__ = [
    "AccessToken",
    "Answer",
    "AnswerAttachment",
    "Attendance",
    "DeadlineChange",
    "Document",
    "Event",
    "InboundMessage",
    "InboundStatus",
    "MessageStatus",
    "OutboxMessage",
    "Participant",
    "Process",
    "Step",
    "TokenPurpose",
    "Treatment",
    "TreatmentState",
    "User",
]
