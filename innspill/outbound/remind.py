"""Send one participant a reminder now, whatever the schedule (`innspill remind`, the button).

Before the participant's deadline it is a reminder ("the deadline is in N working days"),
after it an overdue reminder. Its natural key has the sequence `manual-1`, `manual-2`, ...
so it never collides with a scheduled one; the planner skips a scheduled reminder due on a
day a manual one was queued (innspill.planning.planner), and a reminder by hand is refused on
a day the participant was already told of the step's deadline (the invitation, a reminder,
scheduled or by hand, or a deadline notice): one per participant and day. It is queued as
pending: the next `send` sends it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, select

from innspill.errors import InnspillError
from innspill.events import record_event
from innspill.models import MessageStatus, OutboxMessage
from innspill.outbound.addressing import Outgoing
from innspill.outbound.resend import queue
from innspill.planning.actions import MANUAL, Action, ActionKind
from innspill.planning.planner import draft_circulated
from innspill.planning.state import load_state
from innspill.process.deadlines import closes_on
from innspill.process.definition import ProcessDefinition, RequestStep
from innspill.process.workdays import OSLO, end_of_day, is_working_day, local_datetime

#: What a participant is told that reminds them of a step's deadline: after one of these the
#: same day, a reminder by hand is refused (one per participant and day).
TOLD = {
    ActionKind.INVITATION.value,
    ActionKind.REMINDER.value,
    ActionKind.OVERDUE.value,
    ActionKind.DEADLINE_CHANGED.value,
}


class ReminderRefused(InnspillError):
    """A reminder cannot be sent to this participant now (answered, step not open, ...)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code  # which refusal: the dashboard says it in Norwegian


def working_days_until(today: date, deadline: date) -> int:
    """Working days after `today` up to and including `deadline` (0 on the deadline day)."""
    n, day = 0, today
    while day < deadline:
        day = date.fromordinal(day.toordinal() + 1)
        n += is_working_day(day)
    return n


def remind_now(
    session: Session,
    definition: ProcessDefinition,
    step_id: str,
    participant_id: str,
    *,
    now: datetime,
    by: str,
    outgoing: Outgoing | None = None,
) -> OutboxMessage:
    """Queue a reminder for one participant of an open request step; refuse with why if not."""
    try:
        step = definition.step(step_id)
    except KeyError:
        steps = ", ".join(s.id for s in definition.steps if isinstance(s, RequestStep))
        raise ReminderRefused(
            f"{definition.id} has no step '{step_id}' (request steps: {steps})", "no_step"
        ) from None
    if not isinstance(step, RequestStep):
        raise ReminderRefused(
            f"step '{step_id}' is a {step.kind} step: only a request is reminded", "not_request"
        )
    if participant_id not in {p.id for p in definition.audience(step.id)}:
        raise ReminderRefused(f"'{participant_id}' is not asked in step '{step_id}'", "not_asked")
    state = load_state(session, definition)
    pair = (step.id, participant_id)
    who = f"{participant_id} in {step_id}"
    if now < local_datetime(step.opens, step.reminders.send_time):
        raise ReminderRefused(
            f"step '{step_id}' is not open yet (it opens {step.opens})", "not_open"
        )
    deadline = state.deadlines.get(pair, step.deadline)
    closes = state.closes.get(pair) or closes_on(definition, step, deadline)
    if now >= end_of_day(min(closes, definition.process.ends)):
        raise ReminderRefused(
            f"step '{step_id}' closed on {closes}: answers are no longer taken", "closed"
        )
    if draft_circulated(definition, step, state):
        raise ReminderRefused(
            f"the draft built on the answers to '{step_id}' has been circulated: answers are no "
            "longer asked for",
            "closed",
        )
    answered = state.answered_at.get(pair)
    if answered is not None and answered <= now:
        raise ReminderRefused(f"{who} has answered already: nothing to remind of", "answered")
    if participant_id in state.failing_addresses:
        raise ReminderRefused(
            f"the address of {participant_id} fails (mail to it was refused): correct it in the "
            "process file and load it again first",
            "address_failing",
        )
    sent = state.messages.get(pair, [])
    if not any(m.kind == ActionKind.INVITATION for m in sent):
        raise ReminderRefused(
            f"{who} has not been invited yet: the invitation goes out first", "not_invited"
        )
    invitation = next(m for m in sent if m.kind == ActionKind.INVITATION)
    if invitation.failed:  # failed for good, or went inside a message that did
        raise ReminderRefused(
            f"the invitation to {who} failed: send it again first (`innspill resend`)",
            "invitation_failed",
        )
    waiting = session.exec(
        select(OutboxMessage.id).where(
            OutboxMessage.process_id == definition.id,
            OutboxMessage.step_key == step.id,
            OutboxMessage.participant_key == participant_id,
            col(OutboxMessage.sequence).startswith(MANUAL),
            col(OutboxMessage.status).in_([MessageStatus.PENDING, MessageStatus.SENDING]),
        )
    ).first()
    if waiting is not None:
        raise ReminderRefused(
            f"a reminder to {who} is waiting to be sent already (message #{waiting}): "
            "`innspill send` sends it",
            "waiting",
        )
    today = now.astimezone(OSLO).date()
    earlier = next(
        (
            m
            for m in reversed(sent)
            if m.kind in TOLD and m.created_at.astimezone(OSLO).date() == today
        ),
        None,
    )
    if earlier is not None:
        raise ReminderRefused(
            f"{who} was sent a {earlier.kind.replace('_', ' ')} today already "
            f"({earlier.created_at.astimezone(OSLO):%H.%M}): one reminder per participant and "
            "day; try again tomorrow",
            "reminded_today",
        )
    number = 1 + sum(m.sequence.startswith(MANUAL) for m in sent)
    sequence = f"{MANUAL}{number}"
    written = state.written_deadlines.get(pair)
    if now < end_of_day(deadline):
        action = Action(
            definition.id,
            step.id,
            participant_id,
            ActionKind.REMINDER,
            sequence,
            deadline,
            working_days_left=working_days_until(today, deadline),
            written_deadline=written,
            closes=closes,
        )
    else:
        overdue = 1 + sum(m.kind == ActionKind.OVERDUE for m in sent)
        action = Action(
            definition.id,
            step.id,
            participant_id,
            ActionKind.OVERDUE,
            sequence,
            deadline,
            overdue_number=overdue,
            written_deadline=written,
            closes=closes,
        )
    row = queue(session, definition, action, now=now, outgoing=outgoing or Outgoing(), by=by)
    record_event(
        session,
        definition.id,
        now,
        "reminder_queued",
        step=step.id,
        participant=participant_id,
        detail=f"{action.kind.value} {sequence} by hand, #{row.id} {row.message_id}",
        by=by,
    )
    return row
