"""Where a process stands: each step's state and each participant's, computed from dates."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from innspill.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    ProcessDefinition,
    RequestStep,
)
from innspill.state import effective_deadlines
from innspill.workdays import OSLO, end_of_day, local_datetime
from models import Answer, MessageStatus, OutboxMessage, Participant


class StepState(StrEnum):
    """A step's state; never stored, always computed from its dates and the answers."""

    NOT_STARTED = "not started"
    OPEN = "open"
    OVERDUE = "overdue"
    DONE = "done"
    UNTRACKED = "date only"  # meeting, compilation, circulation: this version tracks their dates


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


@dataclass
class StepStatus:
    step: str
    kind: str
    title: str
    date: str | None
    state: str
    answered: int = 0
    expected: int = 0
    participants: list[ParticipantStatus] = field(default_factory=list)


@dataclass
class ProcessStatus:
    process: str
    title: str
    reference: str
    at: str
    steps: list[StepStatus]
    messages: dict[str, int]
    failed_messages: list[str]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _step_date(step: object) -> date | None:
    for name in ("deadline", "due", "date"):
        value = getattr(step, name, None)
        if isinstance(value, date):
            return value
    return None


def process_status(
    session: Session, definition: ProcessDefinition, *, now: datetime
) -> ProcessStatus:
    """The status of one process at `now`."""
    pid = definition.id
    deadlines = effective_deadlines(session, definition)
    answers: dict[tuple[str, str], list[datetime]] = {}
    for step_key, participant_key, received_at in session.exec(
        select(Answer.step_key, Answer.participant_key, Answer.received_at).where(
            Answer.process_id == pid, Answer.received_at <= now
        )
    ).all():
        answers.setdefault((step_key, participant_key), []).append(received_at)
    sent: dict[tuple[str, str], list[str]] = {}
    counts: dict[str, int] = {s.value: 0 for s in MessageStatus}
    failed: list[str] = []
    for step_key, participant_key, kind, status, recipient, error in session.execute(
        sa_select(
            col(OutboxMessage.step_key),
            col(OutboxMessage.participant_key),
            col(OutboxMessage.kind),
            col(OutboxMessage.status),
            col(OutboxMessage.recipient),
            col(OutboxMessage.last_error),
        ).where(col(OutboxMessage.process_id) == pid)
    ).all():
        sent.setdefault((step_key, participant_key), []).append(kind)
        counts[status] = counts.get(status, 0) + 1
        if status == MessageStatus.FAILED:
            failed.append(f"{kind} to {recipient}: {error}")
    failing = set(
        session.exec(
            select(Participant.key).where(
                Participant.process_id == pid, col(Participant.address_failing)
            )
        ).all()
    )

    steps = []
    for step in definition.steps:
        when = _step_date(step)
        status = StepStatus(step.id, step.kind, step.title, when.isoformat() if when else None, "")
        if isinstance(step, RequestStep):
            people = definition.audience(step.id)
            for p in people:
                deadline = deadlines[(step.id, p.id)]
                got = sorted(answers.get((step.id, p.id), []))
                kinds = sent.get((step.id, p.id), [])
                status.participants.append(
                    ParticipantStatus(
                        participant=p.id,
                        name=p.name,
                        deadline=deadline.isoformat(),
                        extended=deadline != step.deadline,
                        invited="invitation" in kinds,
                        reminders=kinds.count("reminder"),
                        overdue_reminders=kinds.count("overdue"),
                        answered_at=got[0].astimezone(OSLO).isoformat() if got else None,
                        late=bool(got) and got[0] >= end_of_day(deadline),
                        answer_versions=len(got),
                        address_failing=p.id in failing,
                    )
                )
            status.expected = len(people)
            status.answered = sum(1 for ps in status.participants if ps.answered_at)
            latest = max(deadlines[(step.id, p.id)] for p in people) if people else step.deadline
            if now < local_datetime(step.opens, step.reminders.send_time):
                status.state = StepState.NOT_STARTED
            elif status.answered == status.expected:
                status.state = StepState.DONE
            elif now < end_of_day(latest):
                status.state = StepState.OPEN
            else:
                status.state = StepState.OVERDUE
        elif isinstance(step, MeetingStep | CompilationStep | CirculationStep):
            assert when is not None
            status.state = StepState.NOT_STARTED if now < end_of_day(when) else StepState.UNTRACKED
        steps.append(status)
    return ProcessStatus(
        process=pid,
        title=definition.process.title,
        reference=definition.process.reference,
        at=now.astimezone(OSLO).isoformat(),
        steps=steps,
        messages=counts,
        failed_messages=failed,
    )
