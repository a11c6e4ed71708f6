"""SQLModel tables, one module per aggregate; importing this package registers them all."""

from innspill.models.answer import Answer
from innspill.models.archival import ArchivalCopy, CopyStatus, SourceKind
from innspill.models.attachment import FileContent, StepAttachment
from innspill.models.calendar_reply import CalendarReply
from innspill.models.deadline import DeadlineChange
from innspill.models.document import Document
from innspill.models.event import Event
from innspill.models.inbound import (
    AccessToken,
    AnswerAttachment,
    InboundMessage,
    InboundStatus,
    TokenPurpose,
)
from innspill.models.installation import Installation
from innspill.models.journal import JournalCounter, JournalEntry
from innspill.models.outbox import MessageStatus, OutboxMessage
from innspill.models.process import Participant, Process, Step
from innspill.models.sender import RelayPace, RelayUsage, SenderProcess
from innspill.models.signin import DashboardSession, SignInAttempt
from innspill.models.treatment import Attendance, Treatment, TreatmentState
from innspill.models.user import Role, User

__all__ = [
    "AccessToken",
    "Answer",
    "AnswerAttachment",
    "ArchivalCopy",
    "Attendance",
    "CalendarReply",
    "CopyStatus",
    "DashboardSession",
    "DeadlineChange",
    "Document",
    "Event",
    "FileContent",
    "InboundMessage",
    "InboundStatus",
    "Installation",
    "JournalCounter",
    "JournalEntry",
    "MessageStatus",
    "OutboxMessage",
    "Participant",
    "Process",
    "RelayPace",
    "RelayUsage",
    "Role",
    "SenderProcess",
    "SignInAttempt",
    "SourceKind",
    "Step",
    "StepAttachment",
    "TokenPurpose",
    "Treatment",
    "TreatmentState",
    "User",
]
