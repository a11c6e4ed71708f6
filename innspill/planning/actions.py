"""What the planner decides and what it knows: actions with natural keys, and process state."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum

from innspill.process.workdays import OSLO, is_working_day

#: Messages go out on working days between a step's hour and this local time.
SEND_WINDOW_END = time(17, 0)

#: The participant part of the key of an action that concerns a step as a whole.
WHOLE_STEP = "-"

#: The sequence of a manual reminder ("innspill remind"): manual-1, manual-2, ...
MANUAL = "manual-"
#: A failed message sent again ("innspill resend") has its sequence plus -r1, -r2, ...
_RESENT = re.compile(r"-r(\d+)$")


def resend_number(sequence: str) -> int:
    """Which resend a sequence is (1, 2, ...), or 0 for the message the planner made."""
    found = _RESENT.search(sequence)
    return int(found.group(1)) if found else 0


def original_sequence(sequence: str) -> str:
    """The sequence of the message a resend repeats (the sequence itself if it is none)."""
    return _RESENT.sub("", sequence)


class ActionKind(StrEnum):
    """What an action does: most send a message of that kind; `compile` makes a document."""

    INVITATION = "invitation"
    REMINDER = "reminder"
    OVERDUE = "overdue"
    DEADLINE_CHANGED = "deadline_changed"
    RECEIPT = "receipt"
    COMPILE = "compile"
    COMPILATION = "compilation"
    MEETING_INVITATION = "meeting_invitation"
    MEETING_REMINDER = "meeting_reminder"
    MEETING_CANCEL = "meeting_cancel"
    CIRCULATION = "circulation"
    TREATMENT_REMINDER = "treatment_reminder"


@dataclass(frozen=True)
class Action:
    """One thing to do now: send a message, make a document, or record why a due one is not."""

    process_id: str
    step_id: str
    participant_id: str
    kind: ActionKind
    sequence: str
    deadline: date | None = None  # the deadline a request-step message announces (in effect)
    # The deadline as written, when it fell on a weekend or holiday and runs to `deadline`.
    written_deadline: date | None = None
    closes: date | None = None  # the last day the participant's answer is taken
    skip_reason: str | None = None
    previous_deadline: date | None = None
    working_days_left: int | None = None
    overdue_number: int | None = None
    version: int | None = None  # of the compilation or draft concerned
    revision: int | None = None  # of a meeting invitation (1, 2, ...)
    basis: str | None = None  # for compile: fingerprint of the answers it includes
    # Invitations to one participant of steps that open the same day are one message: the
    # first step's invitation carries the others (`carries`), and each of those names the
    # invitation that carries it (`carrier`). See innspill.planning.combine.
    carries: tuple[Action, ...] = ()
    carrier: Action | None = None

    @property
    def key(self) -> str:
        """The natural key: (process, step, participant, kind, sequence)."""
        return "/".join(
            (self.process_id, self.step_id, self.participant_id, self.kind.value, self.sequence)
        )

    @property
    def sends(self) -> bool:
        return self.skip_reason is None and self.kind != ActionKind.COMPILE

    @property
    def skipped(self) -> bool:
        return self.skip_reason is not None


@dataclass(frozen=True)
class Recorded:
    """A message already in the outbox (any status) for a step and participant."""

    kind: str
    sequence: str
    created_at: datetime
    deadline: date | None
    # It never reached them: failed for good (its carrier, for a carried invitation), and
    # not sent again since, or every resend failed too.
    failed: bool = False


@dataclass(frozen=True)
class AnswerRecord:
    """One version of an answer, as the planner sees it."""

    participant_id: str
    version: int
    received_at: datetime


@dataclass(frozen=True)
class DocumentRecord:
    """One version of a compilation or draft."""

    version: int
    created_at: datetime
    basis: str


@dataclass
class ProcessState:
    """What the planner needs to know of the database, keyed by (step id, participant id)."""

    deadlines: dict[tuple[str, str], date] = field(default_factory=dict)  # in effect
    # As written, where the deadline in effect is later (it fell on a weekend or holiday).
    written_deadlines: dict[tuple[str, str], date] = field(default_factory=dict)
    closes: dict[tuple[str, str], date] = field(default_factory=dict)  # last day answers count
    answered_at: dict[tuple[str, str], datetime] = field(default_factory=dict)
    answers: dict[str, list[AnswerRecord]] = field(default_factory=dict)  # by step id
    messages: dict[tuple[str, str], list[Recorded]] = field(default_factory=dict)
    recorded_keys: set[str] = field(default_factory=set)
    failing_addresses: set[str] = field(default_factory=set)
    documents: dict[tuple[str, str], list[DocumentRecord]] = field(default_factory=dict)
    treatments: dict[tuple[str, str], str] = field(default_factory=dict)  # state by (step, body)


def in_send_window(now: datetime, send_time: time) -> bool:
    """True on a working day between `send_time` and SEND_WINDOW_END, local time."""
    local = now.astimezone(OSLO)
    return is_working_day(local.date()) and send_time <= local.time() < SEND_WINDOW_END
