"""Where a process stands: each step's state, deadline and counts, from the database and `now`.

This is the one place that decides it: `innspill status`, the overview page and the process
page all show what `process_statuses` computes, and only word it differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from innspill.models import (
    MessageStatus,
    Treatment,
    TreatmentState,
)
from innspill.process.deadlines import (
    extensions,
    participant_deadline,
    step_deadlines,
)
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    ProcessDefinition,
    RequestStep,
)
from innspill.process.definition import Participant as Member
from innspill.process.workdays import OSLO, add_working_days, end_of_day, local_datetime
from innspill.status_facts import Facts, load_facts

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
    overdue: bool = False  # no answer, and their deadline has passed


@dataclass
class StepStatus:
    step: str
    kind: str
    title: str
    date: str | None  # the date in the process file (deadline, due or meeting day)
    state: str
    deadline: str | None = None  # the effective one: after changes for the whole step
    days_left: int | None = None  # to `deadline`, in days from today (negative: passed)
    answered: int = 0  # answered, or for a circulation treated
    expected: int = 0
    extended: int = 0  # participants with a later deadline of their own
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
    messages: dict[str, int]  # by delivery status (only "failed" without detail)
    failed_messages: list[str]  # kind, recipient and error of each failed one (detail only)
    failed: int = 0
    failing_addresses: list[str] = field(default_factory=list)  # participants whose mail bounces
    current_step: str | None = None  # the step in progress; None when every step is done
    next_deadline: str | None = None  # the current step's deadline, unless it has passed
    days_left: int | None = None
    progress_step: str | None = None  # the step whose counts tell how far the process is

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def step(self, step_id: str | None) -> StepStatus | None:
        return next((s for s in self.steps if s.step == step_id), None)


def is_late(received_at: datetime, deadline: date) -> bool:
    """Whether an answer came after its deadline day ended (Europe/Oslo)."""
    return received_at >= end_of_day(deadline)


# --- the steps -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What every step's status is computed with."""

    definition: ProcessDefinition
    facts: Facts
    step_deadlines: dict[str, date]  # request step -> its own deadline
    extensions: dict[tuple[str, str], date]  # request step and participant -> extended to
    audiences: dict[str, list[Member]]  # step -> who it addresses
    now: datetime
    today: date
    detail: bool

    def deadline(self, step_id: str, participant: str) -> date:
        own = self.step_deadlines[step_id]
        return participant_deadline(own, self.extensions.get((step_id, participant)))

    def sent(self, step_id: str, participant: str, kind: str) -> int:
        """How many messages of this kind went to the participant about the step."""
        return self.facts.sent[(step_id, participant, kind)]


#: Each definition's audiences, by the definition's identity: the dashboard keeps its parsed
#: definitions, and working them out again for 100 processes was a third of the overview's time.
_audience_cache: dict[int, tuple[ProcessDefinition, dict[str, list[Member]]]] = {}


def _audiences(definition: ProcessDefinition) -> dict[str, list[Member]]:
    hit = _audience_cache.get(id(definition))
    if hit is not None and hit[0] is definition:
        return hit[1]
    audiences = {s.id: definition.audience(s.id) for s in definition.steps}
    if len(_audience_cache) > 2000:  # edited files' old versions: let them go
        _audience_cache.clear()
    _audience_cache[id(definition)] = (definition, audiences)
    return audiences


def _file_date(step: object) -> date | None:
    for name in ("deadline", "due", "date"):
        value = getattr(step, name, None)
        if isinstance(value, date):
            return value
    return None


def _participant_status(ctx: Context, step: RequestStep, person: Member) -> ParticipantStatus:
    deadline = ctx.deadline(step.id, person.id)
    first, versions = ctx.facts.answers.get((step.id, person.id), (None, 0))
    return ParticipantStatus(
        participant=person.id,
        name=person.name,
        deadline=deadline.isoformat(),
        extended=deadline != step.deadline,
        invited=ctx.sent(step.id, person.id, "invitation") > 0,
        reminders=ctx.sent(step.id, person.id, "reminder"),
        overdue_reminders=ctx.sent(step.id, person.id, "overdue"),
        answered_at=first.astimezone(OSLO).isoformat() if first else None,
        late=first is not None and is_late(first, deadline),
        answer_versions=versions,
        address_failing=person.id in ctx.facts.failing,
        overdue=first is None and ctx.now >= end_of_day(deadline),
    )


def _request_status(ctx: Context, step: RequestStep, status: StepStatus) -> date:
    people = ctx.audiences[step.id]
    own = ctx.step_deadlines[step.id]
    # only extensions can make a participant's deadline differ from the step's own
    members = {p.id for p in people} if ctx.extensions else set()
    later = [
        ctx.deadline(step.id, who)
        for (step_id, who) in ctx.extensions
        if step_id == step.id and who in members and ctx.deadline(step.id, who) > own
    ]
    status.expected = len(people)
    status.answered = ctx.facts.answered.get(step.id, 0)
    status.extended = len(later)
    if ctx.detail:
        status.participants = [_participant_status(ctx, step, p) for p in people]
    # open until the latest deadline, an extension included
    latest = max(later, default=own)
    if ctx.now < local_datetime(step.opens, step.reminders.send_time):
        status.state = StepState.NOT_STARTED
    elif status.answered >= status.expected:
        status.state = StepState.DONE
    elif ctx.now < end_of_day(latest):
        status.state = StepState.OPEN
    else:
        status.state = StepState.OVERDUE
    return own


def _compilation_bodies(ctx: Context, step: CompilationStep, status: StepStatus) -> None:
    for p in ctx.audiences[step.id]:
        n = ctx.sent(step.id, p.id, "compilation")
        status.bodies[p.id] = Phrase("received", n=n) if n else Phrase("not_received")


def _compilation_status(ctx: Context, step: CompilationStep, status: StepStatus) -> date | None:
    source = ctx.definition.step(step.source)
    # the planner compiles on the first working day after the source's deadline
    base = ctx.step_deadlines.get(source.id) if ctx.audiences[source.id] else None
    compile_day = add_working_days(base, 1) if base else None
    versions = ctx.facts.documents.get((step.id, "compilation"), [])
    if ctx.detail:
        _compilation_bodies(ctx, step, status)
    if versions:
        status.state = StepState.DONE
        last = versions[-1]
        status.note = Phrase(
            "compiled",
            version=last.version,
            made=last.created_at.astimezone(OSLO),
            summary=last.note,
        )
    elif compile_day is not None and ctx.now >= local_datetime(compile_day, step.send_time):
        status.state = StepState.OVERDUE
        status.note = Phrase("nothing_to_compile")
    else:
        status.state = StepState.NOT_STARTED
    return step.due or compile_day


def _meeting_body(invitations: int, attended: bool | None) -> Phrase:
    if attended is not None:
        return Phrase("attended" if attended else "absent")
    if invitations > 1:
        return Phrase("invited_updated", n=invitations - 1)
    return Phrase("invited" if invitations == 1 else "not_invited")


def _meeting_status(ctx: Context, step: MeetingStep, status: StepStatus) -> date:
    attendance = ctx.facts.attendance.get(step.id, {})
    if ctx.detail:
        for p in ctx.audiences[step.id]:
            invitations = ctx.sent(step.id, p.id, "meeting_invitation")
            status.bodies[p.id] = _meeting_body(invitations, attendance.get(p.id))
    if step.cancelled:
        status.state, status.note = StepState.DONE, Phrase("cancelled")
    elif ctx.now >= local_datetime(step.date, step.end):
        status.state = StepState.DONE
        if attendance:
            status.note = Phrase("attended_count", n=sum(attendance.values()))
    elif step.id in ctx.facts.invited:
        status.state = StepState.OPEN
        status.note = Phrase("meeting_time", start=step.start, end=step.end, place=step.place)
    else:
        status.state = StepState.NOT_STARTED
    return step.date


def _delivered(ctx: Context, step_id: str, body: str) -> bool:
    """Whether a draft reached the body: not when every message to it failed (5xx)."""
    sent = ctx.sent(step_id, body, "circulation")
    failed = ctx.facts.undelivered[(step_id, body, "circulation")]
    return sent > failed


def _circulation_body(ctx: Context, step_id: str, body: str, t: Treatment | None) -> Phrase:
    pending = t is None or t.state == TreatmentState.PENDING
    if not ctx.sent(step_id, body, "circulation"):
        return Phrase("draft_not_sent")
    if pending and not _delivered(ctx, step_id, body):
        return Phrase("draft_failed")
    if pending:
        n = ctx.sent(step_id, body, "treatment_reminder")
        return Phrase("pending_reminded", n=n) if n else Phrase("pending")
    assert t is not None
    if t.state == TreatmentState.ON_AGENDA:
        return Phrase("on_agenda", date=t.meeting_date)
    return Phrase("treated", date=t.decided_on, decision=t.decision)


def _circulation_status(ctx: Context, step: CirculationStep, status: StepStatus) -> date:
    drafts = ctx.facts.documents.get((step.id, "draft"), [])
    treatments = ctx.facts.treatments.get(step.id, {})
    bodies = ctx.audiences[step.id]
    if ctx.detail:
        for p in bodies:
            status.bodies[p.id] = _circulation_body(ctx, step.id, p.id, treatments.get(p.id))

    def circulated() -> bool:  # asked only after the deadline (the overview loads it only then)
        return all(
            _delivered(ctx, step.id, p.id)
            or (p.id in treatments and treatments[p.id].state != TreatmentState.PENDING)
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
    elif ctx.now >= end_of_day(step.deadline) and not circulated():
        status.state = StepState.OVERDUE
    elif drafts:
        status.state = StepState.OPEN
    else:
        status.state = StepState.NOT_STARTED
    return step.deadline


def _step_status(ctx: Context, step: Any) -> StepStatus:
    file_date = _file_date(step)
    status = StepStatus(
        step.id, step.kind, step.title, file_date.isoformat() if file_date else None, ""
    )
    deadline: date | None = None
    if isinstance(step, RequestStep):
        deadline = _request_status(ctx, step, status)
    elif isinstance(step, CompilationStep):
        deadline = _compilation_status(ctx, step, status)
    elif isinstance(step, MeetingStep):
        deadline = _meeting_status(ctx, step, status)
    elif isinstance(step, CirculationStep):
        deadline = _circulation_status(ctx, step, status)
    if deadline is not None:
        status.deadline = deadline.isoformat()
        status.days_left = (deadline - ctx.today).days
    return status


# --- the process -----------------------------------------------------------------------------


def current_step(steps: list[StepStatus]) -> StepStatus | None:
    """The step in progress: the first unfinished one whose deadline has not passed, else the
    last unfinished one (a draft still being treated after its deadline, say); None when every
    step is done."""
    unfinished = [s for s in steps if s.state != StepState.DONE]
    upcoming = (s for s in unfinished if s.days_left is not None and s.days_left >= 0)
    return next(upcoming, unfinished[-1] if unfinished else None)


def progress_step(steps: list[StepStatus], current: StepStatus | None) -> StepStatus | None:
    """The step whose counts tell how far the process is: the current one if it counts
    answers or treatments, else the latest one before it that does (else the first)."""
    counting = [s for s in steps if s.expected]
    if current is not None and current.expected:
        return current
    position = steps.index(current) if current is not None else len(steps)
    before = [s for s in counting if steps.index(s) < position]
    return before[-1] if before else (counting[0] if counting else None)


def _process_status(
    definition: ProcessDefinition, facts: Facts, *, now: datetime, detail: bool
) -> ProcessStatus:
    ctx = Context(
        definition,
        facts,
        step_deadlines(definition, facts.changes),
        extensions(facts.changes),
        _audiences(definition),
        now,
        now.astimezone(OSLO).date(),
        detail,
    )
    steps = [_step_status(ctx, step) for step in definition.steps]
    messages = ({s.value: 0 for s in MessageStatus} if detail else {}) | facts.messages
    current = current_step(steps)
    upcoming = current is not None and current.days_left is not None and current.days_left >= 0
    counted = progress_step(steps, current)
    return ProcessStatus(
        process=definition.id,
        title=definition.process.title,
        reference=definition.process.reference,
        at=now.astimezone(OSLO).isoformat(),
        steps=steps,
        messages=messages,
        failed_messages=facts.failed_messages,
        failed=messages.get(MessageStatus.FAILED.value, 0),
        failing_addresses=sorted(facts.failing),
        current_step=current.step if current else None,
        next_deadline=current.deadline if current and upcoming else None,
        days_left=current.days_left if current and upcoming else None,
        progress_step=counted.step if counted else None,
    )


def process_statuses(
    session: Session,
    definitions: Mapping[str, ProcessDefinition],
    *,
    now: datetime,
    detail: bool = True,
) -> list[ProcessStatus]:
    """The status of these processes at `now`, in their order, from a fixed number of queries.

    Without `detail` the steps have their states, deadlines, counts and notes but no
    participants or bodies (what the overview needs, cheaply).
    """
    facts = load_facts(session, definitions, now=now, detail=detail)
    return [
        _process_status(d, facts[pid], now=now, detail=detail) for pid, d in definitions.items()
    ]


def process_status(
    session: Session, definition: ProcessDefinition, *, now: datetime
) -> ProcessStatus:
    """The status of one process at `now`, with every participant's and body's position."""
    (status,) = process_statuses(session, {definition.id: definition}, now=now)
    return status
