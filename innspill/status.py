"""Where a process stands: each step's state and each participant's, computed from dates."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from innspill.models import (
    Answer,
    Attendance,
    Document,
    MessageStatus,
    OutboxMessage,
    Participant,
    Treatment,
    TreatmentState,
)
from innspill.planning.state import effective_deadlines
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    ProcessDefinition,
    RequestStep,
)
from innspill.process.workdays import OSLO, add_working_days, end_of_day, local_datetime

#: The English wording of each status phrase; the dashboard has a bokmål one per code.
ENGLISH = {
    "not_invited": "not invited yet",
    "invited": "invited",
    "invited_updated": "invited (updated {n} time(s))",
    "attended": "attended",
    "absent": "absent",
    "attended_count": "{n} attended",
    "cancelled": "cancelled",
    "meeting_time": "{start:%H.%M}-{end:%H.%M}, {place}",
    "compiled": "version {version} of {made:%d.%m.%Y %H.%M}: {summary}",
    "nothing_to_compile": "no answers to compile yet",
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

    def __getnewargs_ex__(self) -> tuple[tuple[str], dict[str, Any]]:  # type: ignore[override]
        return (self.code,), self.values


class StepState(StrEnum):
    """A step's state; never stored, always computed from its dates and the answers."""

    NOT_STARTED = "not started"
    OPEN = "open"
    OVERDUE = "overdue"
    DONE = "done"


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
    note: str = ""
    bodies: dict[str, str] = field(default_factory=dict)  # participant -> where they stand


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
    undelivered: dict[tuple[str, str], list[str]] = {}  # kinds of the messages that failed
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
            undelivered.setdefault((step_key, participant_key), []).append(kind)
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
        elif isinstance(step, CompilationStep):
            _compilation_status(session, definition, step, status, deadlines, now=now)
        elif isinstance(step, MeetingStep):
            _meeting_status(session, definition, step, status, sent, now=now)
        elif isinstance(step, CirculationStep):
            _circulation_status(session, definition, step, status, sent, undelivered, now=now)
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


def _versions(session: Session, process_id: str, step_id: str, kind: str) -> list[Document]:
    return list(
        session.exec(
            select(Document)
            .where(
                Document.process_id == process_id,
                Document.step_key == step_id,
                Document.kind == kind,
            )
            .order_by(col(Document.version))
        ).all()
    )


def _compilation_status(
    session: Session,
    definition: ProcessDefinition,
    step: CompilationStep,
    status: StepStatus,
    deadlines: dict[tuple[str, str], date],
    *,
    now: datetime,
) -> None:
    source = definition.step(step.source)
    people = definition.audience(source.id)
    base = min(deadlines[(source.id, p.id)] for p in people) if people else None
    due = local_datetime(add_working_days(base, 1), step.send_time) if base else None
    versions = [
        v for v in _versions(session, definition.id, step.id, "compilation") if v.created_at <= now
    ]
    if versions:
        status.state = StepState.DONE
        last = versions[-1]
        status.note = Phrase(
            "compiled",
            version=last.version,
            made=last.created_at.astimezone(OSLO),
            summary=last.note,
        )
    elif due is not None and now >= due:
        status.state = StepState.OVERDUE
        status.note = Phrase("nothing_to_compile")
    else:
        status.state = StepState.NOT_STARTED


def _meeting_status(
    session: Session,
    definition: ProcessDefinition,
    step: MeetingStep,
    status: StepStatus,
    sent: dict[tuple[str, str], list[str]],
    *,
    now: datetime,
) -> None:
    invited = [
        p
        for p in definition.audience(step.id)
        if "meeting_invitation" in sent.get((step.id, p.id), [])
    ]
    attendance = {
        a.participant_key: a.attended
        for a in session.exec(
            select(Attendance).where(
                Attendance.process_id == definition.id, Attendance.step_key == step.id
            )
        ).all()
    }
    for p in definition.audience(step.id):
        kinds = sent.get((step.id, p.id), [])
        updates = kinds.count("meeting_invitation") - 1
        if p.id in attendance:
            state = Phrase("attended" if attendance[p.id] else "absent")
        elif updates > 0:
            state = Phrase("invited_updated", n=updates)
        else:
            state = Phrase("invited" if updates == 0 else "not_invited")
        status.bodies[p.id] = state
    ends = local_datetime(step.date, step.end)
    if step.cancelled:
        status.state, status.note = StepState.DONE, Phrase("cancelled")
    elif now >= ends:
        status.state = StepState.DONE
        if attendance:
            status.note = Phrase("attended_count", n=sum(attendance.values()))
    elif invited:
        status.state = StepState.OPEN
        status.note = Phrase("meeting_time", start=step.start, end=step.end, place=step.place)
    else:
        status.state = StepState.NOT_STARTED


def _circulation_status(
    session: Session,
    definition: ProcessDefinition,
    step: CirculationStep,
    status: StepStatus,
    sent: dict[tuple[str, str], list[str]],
    undelivered: dict[tuple[str, str], list[str]],
    *,
    now: datetime,
) -> None:
    drafts = [d for d in _versions(session, definition.id, step.id, "draft") if d.created_at <= now]
    treatments = {
        t.participant_key: t
        for t in session.exec(
            select(Treatment).where(
                Treatment.process_id == definition.id, Treatment.step_key == step.id
            )
        ).all()
    }
    bodies = definition.audience(step.id)

    def delivered(body: str) -> bool:
        # A draft whose every message to the body failed (5xx) has not reached it.
        kinds = sent.get((step.id, body), [])
        return kinds.count("circulation") > undelivered.get((step.id, body), []).count(
            "circulation"
        )

    for p in bodies:
        t = treatments.get(p.id)
        if "circulation" not in sent.get((step.id, p.id), []):
            status.bodies[p.id] = Phrase("draft_not_sent")
        elif not delivered(p.id) and (t is None or t.state == TreatmentState.PENDING):
            status.bodies[p.id] = Phrase("draft_failed")
        elif t is None or t.state == TreatmentState.PENDING:
            reminders = sent[(step.id, p.id)].count("treatment_reminder")
            status.bodies[p.id] = (
                Phrase("pending_reminded", n=reminders) if reminders else Phrase("pending")
            )
        elif t.state == TreatmentState.ON_AGENDA:
            status.bodies[p.id] = Phrase("on_agenda", date=t.meeting_date)
        else:
            status.bodies[p.id] = Phrase("treated", date=t.decided_on, decision=t.decision)
    circulated = all(
        delivered(p.id) or (p.id in treatments and treatments[p.id].state != TreatmentState.PENDING)
        for p in bodies
    )
    treated = sum(1 for t in treatments.values() if t.state == TreatmentState.TREATED)
    status.expected, status.answered = len(bodies), treated
    if drafts:
        status.note = Phrase(
            "draft_version", version=drafts[-1].version, filename=drafts[-1].filename
        )
    if bodies and treated == len(bodies):
        status.state = StepState.DONE
    elif not circulated and now >= end_of_day(step.deadline):
        status.state = StepState.OVERDUE
    elif drafts:
        status.state = StepState.OPEN
    else:
        status.state = StepState.NOT_STARTED
