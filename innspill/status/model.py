"""The status model: phrases, states and the dataclasses `innspill status` and the pages show."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from innspill.journal.read import JournalSummary
from innspill.process.workdays import end_of_day
from innspill.status.archive import ArchiveFailure

#: The English wording of each status phrase; the dashboard has a bokmål one per code.
ENGLISH = {
    "not_invited": "not invited yet",
    "invited": "invited",
    "invited_updated": "invited (updated {n} time(s))",
    "attended": "attended",
    "absent": "absent",
    "attended_count": "{n} attended",
    "cancelled": "cancelled",
    "reply_accepted": "accepted the calendar invitation",
    "reply_declined": "declined the calendar invitation",
    "reply_tentative": "tentative (calendar reply)",
    "meeting_time": "{start:%H.%M}-{end:%H.%M}, {place}",
    "compiled": "version {version} of {made:%d.%m.%Y %H.%M}: {summary}",
    "nothing_to_compile": "no answers to compile yet",
    "received": "received {n} version(s)",
    "not_received": "not received yet",
    "draft_version": "draft version {version}: {filename}",
    "draft_not_sent": "draft not sent yet",
    "draft_failed": "draft not delivered (the message failed)",
    "pending": "pending",
    "pending_reminded": "pending, reminded {n} time(s)",
    "on_agenda": "on the agenda {date}",
    "treated": "treated {date}: {decision}",
}


class Phrase(str):
    """A status text that keeps its code and values, so it can be said in another language.

    It is the English text itself (JSON, the CLI and comparisons see a plain string).
    """

    code: str
    values: dict[str, Any]

    def __new__(cls, code: str, **values: Any) -> Phrase:
        phrase = super().__new__(cls, ENGLISH[code].format(**values))
        phrase.code, phrase.values = code, values
        return phrase

    def __getnewargs_ex__(self) -> tuple[tuple[str], dict[str, Any]]:
        return (self.code,), self.values


class StepState(StrEnum):
    """A step's state; never stored, always computed from its dates and the answers."""

    NOT_STARTED = "not started"
    OPEN = "open"
    OVERDUE = "overdue"
    DONE = "done"
    # open (or not started) when the process ended (`[process] ends`): nothing more is sent
    CLOSED = "closed"


@dataclass
class FailedMessage:
    """A message that failed for good (refused, too many attempts, or could not be rendered)."""

    id: int
    message_id: str
    step: str
    participant: str
    kind: str
    recipient: str
    error: str
    at: str
    resent: bool = False  # sent again since (`innspill resend`): nothing left to do for it
    # An invitation carried inside another message (innspill.planning.combine): that
    # message's number; `error` is why it failed. Resending either sends it with every part.
    carried_by: int | None = None

    def __str__(self) -> str:
        again = " (sent again)" if self.resent else ""
        inside = ""
        if self.carried_by:
            inside = f"sent inside message #{self.carried_by}, which failed: "
        return f"{self.kind} to {self.recipient or '(no address)'}: {inside}{self.error}{again}"


@dataclass
class ParticipantStatus:
    participant: str
    name: str
    deadline: str
    extended: bool
    invited: bool
    reminders: int
    overdue_reminders: int
    answered_at: str | None
    late: bool
    answer_versions: int
    address_failing: bool
    # with several versions: when the one that counts (received last) was received
    latest_at: str | None = None
    overdue: bool = False  # no answer, and their deadline has passed
    # this step's messages to them that failed and were not sent again, with why
    failed: list[FailedMessage] = field(default_factory=list)


@dataclass
class StepStatus:
    step: str
    kind: str
    title: str
    date: str | None  # the date in the process file (deadline, due or meeting day)
    state: str
    deadline: str | None = None  # the effective one: after changes for the whole step
    # of a request step: the deadline as set, when it fell on a weekend or public holiday and
    # runs to `deadline` (innspill.process.deadlines)
    written_deadline: str | None = None
    days_left: int | None = None  # to `deadline`, in days from today (negative: passed)
    answered: int = 0  # answered, or for a circulation treated
    expected: int = 0
    extended: int = 0  # participants with a later deadline of their own
    # of a request step: participants without an answer whose deadline has passed, and those
    # without an answer whose own later deadline has not (the step waits for them)
    overdue: int = 0
    waiting: int = 0
    participants: list[ParticipantStatus] = field(default_factory=list)
    note: str = ""
    bodies: dict[str, str] = field(default_factory=dict)  # participant -> where they stand
    # a meeting's calendar replies: accepted, declined, tentative, no_reply (innspill.rsvp)
    calendar_replies: dict[str, int] = field(default_factory=dict)
    replies: dict[str, str] = field(default_factory=dict)  # participant -> reply, if any (detail)


@dataclass
class ProcessStatus:
    process: str
    title: str
    reference: str
    at: str
    steps: list[StepStatus]
    messages: dict[str, int]  # by delivery status (only "failed" without detail)
    failed_messages: list[str]  # kind, recipient and error of each failed one (detail only)
    failures: list[FailedMessage] = field(default_factory=list)  # the same, each in full
    failed: int = 0
    failing_addresses: list[str] = field(default_factory=list)  # participants whose mail bounces
    current_step: str | None = None  # the step in progress; None when every step is done
    next_deadline: str | None = None  # the current step's deadline, unless it has passed
    days_left: int | None = None
    progress_step: str | None = None  # the step whose counts tell how far the process is
    archival_copies: int = 0  # archival copies (PDF/A) made of its letters, answers, documents
    archive_failures: list[ArchiveFailure] = field(default_factory=list)  # each with why
    # whether the process keeps journal numbers, how many entries, the last document number
    # (with detail only: the overview does not show it and asks the database less)
    journal: JournalSummary | None = None
    # the day the process ends (`[process] ends`), and whether that day is over: then nothing
    # more is sent, and a step still open or not started is closed
    ends: str | None = None
    ended: bool = False

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def step(self, step_id: str | None) -> StepStatus | None:
        return next((s for s in self.steps if s.step == step_id), None)


def is_late(received_at: datetime, deadline: date) -> bool:
    """Whether an answer came after its deadline day ended (Europe/Oslo)."""
    return received_at >= end_of_day(deadline)
