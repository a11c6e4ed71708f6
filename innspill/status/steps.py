"""Each step's status by its kind: a request's answers, a compilation, a meeting, a circulation."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from innspill.models import Treatment, TreatmentState
from innspill.process.deadlines import compile_day, participant_deadline
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    ProcessDefinition,
    RequestStep,
)
from innspill.process.definition import Participant as Member
from innspill.process.workdays import OSLO, end_of_day, local_datetime
from innspill.rsvp import count_replies
from innspill.status.facts import Facts
from innspill.status.model import ParticipantStatus, Phrase, StepState, StepStatus, is_late


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
    steps_written: dict[str, date]  # request step -> its own deadline as set

    def deadline(self, step_id: str, participant: str) -> date:
        own = self.step_deadlines[step_id]
        return participant_deadline(own, self.extensions.get((step_id, participant)))

    def sent(self, step_id: str, participant: str, kind: str) -> int:
        """How many messages of this kind went to the participant about the step."""
        return self.facts.sent[(step_id, participant, kind)]


#: Each definition's audiences, by the definition's identity: the dashboard keeps its parsed
#: definitions, and working them out again for 100 processes was a third of the overview's time.
_audience_cache: dict[int, tuple[ProcessDefinition, dict[str, list[Member]]]] = {}


def step_audiences(definition: ProcessDefinition) -> dict[str, list[Member]]:
    """Who each step of the definition addresses (kept per definition object)."""
    hit = _audience_cache.get(id(definition))
    if hit is not None and hit[0] is definition:
        return hit[1]
    found = {s.id: definition.audience(s.id) for s in definition.steps}
    if len(_audience_cache) > 2000:  # edited files' old versions: let them go
        _audience_cache.clear()
    _audience_cache[id(definition)] = (definition, found)
    return found


def _file_date(step: object) -> date | None:
    for name in ("deadline", "due", "date"):
        value = getattr(step, name, None)
        if isinstance(value, date):
            return value
    return None


def _participant_status(ctx: Context, step: RequestStep, person: Member) -> ParticipantStatus:
    deadline = ctx.deadline(step.id, person.id)
    first, versions, last = ctx.facts.answers.get((step.id, person.id), (None, 0, None))
    return ParticipantStatus(
        participant=person.id,
        name=person.name,
        deadline=deadline.isoformat(),
        extended=deadline > ctx.step_deadlines[step.id],  # later than everyone's: their own
        # invited once the invitation (or the message carrying it) was sent, not before, and
        # not when it failed
        invited=ctx.facts.delivered[(step.id, person.id, "invitation")] > 0,
        reminders=ctx.sent(step.id, person.id, "reminder"),
        overdue_reminders=ctx.sent(step.id, person.id, "overdue"),
        answered_at=first.astimezone(OSLO).isoformat() if first else None,
        late=first is not None and is_late(first, deadline),
        answer_versions=versions,
        latest_at=last.astimezone(OSLO).isoformat() if last and versions > 1 else None,
        address_failing=person.id in ctx.facts.failing,
        overdue=first is None and ctx.now >= end_of_day(deadline),
        failed=[
            f
            for f in ctx.facts.failures
            if f.step == step.id and f.participant == person.id and not f.resent
        ],
    )


def _request_status(ctx: Context, step: RequestStep, status: StepStatus) -> date:
    people = ctx.audiences[step.id]
    own = ctx.step_deadlines[step.id]
    # only extensions can make a participant's deadline differ from the step's own
    members = {p.id for p in people} if ctx.extensions else set()
    later = {
        who: ctx.deadline(step.id, who)
        for (step_id, who) in ctx.extensions
        if step_id == step.id and who in members and ctx.deadline(step.id, who) > own
    }
    status.expected = len(people)
    status.answered = ctx.facts.answered.get(step.id, 0)
    status.extended = len(later)
    if ctx.detail:
        status.participants = [_participant_status(ctx, step, p) for p in people]
    unanswered = max(0, status.expected - status.answered)
    status.waiting = sum(
        1
        for who, deadline in later.items()
        if (step.id, who) not in ctx.facts.extended_answered and ctx.now < end_of_day(deadline)
    )
    past_own = ctx.now >= end_of_day(own)
    if ctx.steps_written[step.id] != own:
        status.written_deadline = ctx.steps_written[step.id].isoformat()
    status.overdue = unanswered - status.waiting if past_own else 0
    status.state = _request_state(ctx, step, status, past_own=past_own)
    return own


def _request_state(
    ctx: Context, step: RequestStep, status: StepStatus, *, past_own: bool
) -> StepState:
    """Open until the step's own deadline; after it, done when every participant is handled
    (has answered, or has a later deadline of their own that has not passed), else overdue:
    one who is still to answer within an extension does not keep the step open or red."""
    if ctx.now < local_datetime(step.opens, step.reminders.send_time):
        return StepState.NOT_STARTED
    if status.answered >= status.expected:
        return StepState.DONE
    if not past_own:
        return StepState.OPEN
    return StepState.OVERDUE if status.overdue else StepState.DONE


def _compilation_bodies(ctx: Context, step: CompilationStep, status: StepStatus) -> None:
    for p in ctx.audiences[step.id]:
        n = ctx.sent(step.id, p.id, "compilation")
        status.bodies[p.id] = Phrase("received", n=n) if n else Phrase("not_received")


def _compilation_status(ctx: Context, step: CompilationStep, status: StepStatus) -> date | None:
    source = ctx.definition.step(step.source)
    # the planner compiles on the first working day after the source's deadline
    base = ctx.step_deadlines.get(source.id) if ctx.audiences[source.id] else None
    made = compile_day(base) if base else None
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
    elif made is not None and ctx.now >= local_datetime(made, step.send_time):
        status.state = StepState.OVERDUE
        status.note = Phrase("nothing_to_compile")
    else:
        status.state = StepState.NOT_STARTED
    return step.due or made


def _meeting_body(invitations: int, attended: bool | None) -> Phrase:
    if attended is not None:
        return Phrase("attended" if attended else "absent")
    if invitations > 1:
        return Phrase("invited_updated", n=invitations - 1)
    return Phrase("invited" if invitations == 1 else "not_invited")


def _meeting_status(ctx: Context, step: MeetingStep, status: StepStatus) -> date:
    attendance = ctx.facts.attendance.get(step.id, {})
    replies = ctx.facts.replies.get(step.id, {})
    audience = [p.id for p in ctx.audiences[step.id]]
    status.calendar_replies = asdict(count_replies(replies, audience))
    if ctx.detail:
        for p in ctx.audiences[step.id]:
            invitations = ctx.sent(step.id, p.id, "meeting_invitation")
            status.bodies[p.id] = _meeting_body(invitations, attendance.get(p.id))
            if p.id in replies:
                status.replies[p.id] = Phrase(f"reply_{replies[p.id]}")
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


def step_status(ctx: Context, step: Any) -> StepStatus:
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
