"""The reconciler: a pure function from (definition, state, now) to the actions due now.

Every action has a natural key; the engine records an action's key when it applies it, and the
planner never plans a key that is already recorded. So running the same tick twice, or again
after a crash, plans nothing new, and a changed deadline needs no rescheduling: the next tick
simply computes other keys.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from operator import attrgetter
from typing import Any

from innspill.planning.actions import (
    MANUAL,
    Action,
    ActionKind,
    AnswerRecord,
    DocumentRecord,
    ProcessState,
    Recorded,
    in_send_window,
)
from innspill.planning.after_deadline import plan_circulation, plan_compilation, plan_meeting
from innspill.planning.combine import combine_invitations, opening_group
from innspill.planning.due import first_working_day, latest_due
from innspill.process.deadlines import closes_on
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    ProcessDefinition,
    RequestStep,
)
from innspill.process.workdays import OSLO, add_working_days, end_of_day, local_datetime

#: Messages that tell a participant which deadline holds and why: the invitation and the
#: deadline notices. A reminder names the deadline too, but never that it moved or why, so
#: it never stands in for a notice (a manual reminder sent after a change used to).
TELLING = {ActionKind.INVITATION, ActionKind.DEADLINE_CHANGED}

__all__ = [
    "Action",
    "ActionKind",
    "AnswerRecord",
    "DocumentRecord",
    "ProcessState",
    "Recorded",
    "plan",
]


def plan(
    definition: ProcessDefinition,
    state: ProcessState,
    now: datetime,
    *,
    steps: set[str] | None = None,
) -> list[Action]:
    """All actions due at `now` that are not recorded yet, in a stable order.

    `steps` limits planning to those step ids (a step's own flow plans only its step).
    """
    if now.tzinfo is None:
        raise ValueError("plan() needs an aware datetime for now")
    actions: list[Action] = []
    if steps is not None:
        # A step's invitations may carry those of steps opening the same day: plan them too.
        steps = opening_group(definition, steps)
    for step in definition.steps:
        if steps is not None and step.id not in steps:
            continue
        if isinstance(step, RequestStep):
            actions.extend(_plan_request_step(definition, step, state, now))
        elif isinstance(step, CompilationStep):
            actions.extend(plan_compilation(definition, step, state, now))
        elif isinstance(step, MeetingStep):
            actions.extend(plan_meeting(definition, step, state, now))
        elif isinstance(step, CirculationStep):
            actions.extend(plan_circulation(definition, step, state, now))
    return combine_invitations(definition, [a for a in actions if a.key not in state.recorded_keys])


#: The fields of the state that hold nothing of one participant in a request step: they are
#: the step's or the process's, the same for every participant planned at once.
_SHARED = {"recorded_keys", "documents", "treatments", "answers"}
#: Participants' own fields the grouping reads directly (the common case, kept fast).
_OWN = {"deadlines", "answered_at", "messages", "failing_addresses"}


def _plan_request_step(
    definition: ProcessDefinition, step: RequestStep, state: ProcessState, now: datetime
) -> list[Action]:
    """Every participant's actions in a request step, planned once per group of participants
    whose own state in the step is the same.

    A participant's own state is their answers in the step and every entry of the state
    keyed by (step, participant) or by participant: the fields in `_OWN`, and any field the
    state comes to have that is not `_SHARED`. Participants alike in it get the same actions,
    under their own ids. A round invites everyone at once, so thousands are a handful of
    groups: the forecast of 8,000 participants (every working hour of ten days) went from
    2.2 s to 0.4 s. tests/test_planner_groups.py compares this with planning each alone.
    """
    by_participant: dict[str, list[AnswerRecord]] = {}
    for answer in state.answers.get(step.id, []):
        by_participant.setdefault(answer.participant_id, []).append(answer)
    deadlines, answered_at, messages = state.deadlines, state.answered_at, state.messages
    failing = state.failing_addresses
    # Only entries that can tell participants apart: a scalar, or an empty dict or set, is the
    # same for everyone (most fields are empty in a forecast of a round not yet started).
    others = [
        value
        for f in fields(state)
        if f.name not in _SHARED | _OWN
        for value in (getattr(state, f.name),)
        if isinstance(value, dict | set) and value
    ]
    planned: dict[tuple[Any, ...], list[Action]] = {}
    out: list[Action] = []
    step_id = step.id
    for participant in definition.audience(step_id):
        key = participant.id
        pair = (step_id, key)
        own = by_participant.get(key)
        sent = messages.get(pair)
        alike: tuple[Any, ...] = (
            deadlines.get(pair),
            answered_at.get(pair),
            key in failing,
            tuple(map(_recorded_fields, sent)) if sent else (),
            tuple((a.version, a.received_at) for a in own) if own else (),
        )
        if others:
            alike += tuple(_own_entry(other, pair, key) for other in others)
        first = planned.get(alike)
        if first is None:
            first = planned[alike] = _plan_request(definition, step, key, state, now)
            out += first
        elif first:
            out += [replace(a, participant_id=key) for a in first]
    return out


#: A message's fields as a plain tuple, every field the record has (hashed in C: the records'
#: own dataclass hash was a fifth of a forecast).
_recorded_fields = attrgetter(*(f.name for f in fields(Recorded)))


def _own_entry(field: object, pair: tuple[str, str], key: str) -> Any:
    """What a field of the state holds of one participant, in a form that can be compared."""
    if isinstance(field, dict):
        values = (field.get(pair), field.get(key))
        return tuple(tuple(v) if isinstance(v, list) else v for v in values)
    if isinstance(field, set):
        return key in field or pair in field
    return field  # not per participant: the same for all


@dataclass(frozen=True)
class _Request:
    """One participant in one request step at `now`: what every rule below needs to know."""

    definition: ProcessDefinition
    step: RequestStep
    participant_id: str
    now: datetime
    deadline: date  # the participant's own in effect, extended or not
    written: date | None  # the deadline as written, when it moved (a weekend or holiday)
    closes: date  # the last day the participant's answer is taken
    answered: bool
    drafted: bool  # a draft built on the answers has gone to the bodies that treat it
    sendable: bool  # inside the send window now
    skip: str | None  # why nothing at all goes to this participant, if so
    messages: list[Recorded]

    def action(self, kind: ActionKind, sequence: str, **extra: Any) -> Action:
        return Action(
            self.definition.id,
            self.step.id,
            self.participant_id,
            kind,
            sequence,
            self.deadline,
            written_deadline=self.written,
            closes=self.closes,
            **extra,
        )

    @property
    def answered_reason(self) -> str | None:
        return "already answered" if self.answered else None

    @property
    def reminded_today(self) -> str | None:
        """A reminder sent by hand (`innspill remind`) today replaces today's scheduled one.

        The scheduled one is skipped, not moved: the participant was reminded that day.
        """
        today = self.now.astimezone(OSLO).date()
        manual = any(
            m.sequence.startswith(MANUAL) and m.created_at.astimezone(OSLO).date() == today
            for m in self.messages
        )
        return "a reminder was sent by hand today" if manual else None


def draft_circulated(definition: ProcessDefinition, step: RequestStep, state: ProcessState) -> bool:
    """Whether a draft has been registered for a circulation step after `step`: the drafters
    have finished with its answers, so no overdue reminder asks for them any more."""
    ids = [s.id for s in definition.steps]
    later = definition.steps[ids.index(step.id) + 1 :]
    return any(
        state.documents.get((s.id, "draft")) for s in later if isinstance(s, CirculationStep)
    )


def _request(
    definition: ProcessDefinition,
    step: RequestStep,
    *,
    participant_id: str,
    state: ProcessState,
    now: datetime,
) -> _Request:
    pair = (step.id, participant_id)
    answered_at = state.answered_at.get(pair)
    deadline = state.deadlines.get(pair, step.deadline)
    if participant_id in state.failing_addresses:
        skip: str | None = "the participant's address is failing (bounced)"
    elif now >= end_of_day(definition.process.ends):
        skip = "the process has ended"
    else:
        skip = None
    return _Request(
        definition=definition,
        step=step,
        participant_id=participant_id,
        now=now,
        deadline=deadline,
        written=state.written_deadlines.get(pair),
        closes=state.closes.get(pair) or closes_on(definition, step, deadline),
        answered=answered_at is not None and answered_at <= now,
        drafted=draft_circulated(definition, step, state),
        sendable=in_send_window(now, step.reminders.send_time),
        skip=skip,
        messages=state.messages.get(pair, []),
    )


def _plan_request(
    definition: ProcessDefinition,
    step: RequestStep,
    participant_id: str,
    state: ProcessState,
    now: datetime,
) -> list[Action]:
    """Receipts, then the invitation, or a deadline notice, or the reminders before and after."""
    request = _request(definition, step, participant_id=participant_id, state=state, now=now)
    out = _receipts(request, state.answers.get(step.id, []))
    invitation = next((m for m in request.messages if m.kind == ActionKind.INVITATION), None)
    if invitation is None:
        return out + _invitation(request)
    if invitation.failed and request.skip is None:
        # They never got it: no reminder or notice refers to it until it is sent again.
        request = replace(request, skip="the invitation did not reach them (failed; resend it)")
    changed = _deadline_changed(request)
    if changed is not None:
        # Reminders wait until the participant has been told of the new deadline.
        return out + changed
    return out + _reminders_before(request, invitation) + _overdue(request, invitation)


def _receipts(request: _Request, answers: list[AnswerRecord]) -> list[Action]:
    """A receipt for every version of an answer, once, in the send window like all mail."""
    if request.skip is not None or not request.sendable:
        return []
    return [
        request.action(ActionKind.RECEIPT, str(answer.version), version=answer.version)
        for answer in answers
        if answer.participant_id == request.participant_id and answer.received_at <= request.now
    ]


def _invitation(request: _Request) -> list[Action]:
    """The invitation once the step opens, or a record of why it is not sent."""
    due = local_datetime(first_working_day(request.step.opens), request.step.reminders.send_time)
    if request.now < due:
        return []
    reason = request.skip or request.answered_reason
    if reason:
        return [request.action(ActionKind.INVITATION, "1", skip_reason=reason)]
    return [request.action(ActionKind.INVITATION, "1")] if request.sendable else []


def _deadline_changed(request: _Request) -> list[Action] | None:
    """A notice when the deadline differs from the last one told; None if it does not."""
    announced = next(
        (m.deadline for m in reversed(request.messages) if m.deadline and m.kind in TELLING),
        None,
    )
    if announced is None or announced == request.deadline:
        return None
    if request.answered or request.skip is not None:
        return None
    if not request.sendable:
        return []
    # Numbered, so that moving a deadline back and forth notifies every time.
    number = 1 + sum(m.kind == ActionKind.DEADLINE_CHANGED for m in request.messages)
    return [
        request.action(
            ActionKind.DEADLINE_CHANGED,
            f"{number}:{request.deadline.isoformat()}",
            previous_deadline=announced,
        )
    ]


def _reminders_before(request: _Request, invitation: Recorded) -> list[Action]:
    """The latest reminder due N working days before the deadline."""
    deadline, policy, now = request.deadline, request.step.reminders, request.now
    before = [
        (n, local_datetime(add_working_days(deadline, -n), policy.send_time)) for n in policy.before
    ]
    return latest_due(
        [(n, due) for n, due in before if due <= now],
        make=lambda n, reason: request.action(
            ActionKind.REMINDER,
            f"{deadline.isoformat()}/-{n}",
            working_days_left=n,
            skip_reason=reason,
        ),
        blocker=request.skip
        or request.answered_reason
        or ("the deadline has passed" if now >= end_of_day(deadline) else None)
        or request.reminded_today,
        invited_at=invitation.created_at,
        sendable=request.sendable,
        label="working days before",
    )


def _overdue(request: _Request, invitation: Recorded) -> list[Action]:
    """The latest overdue reminder due, every `overdue_every` working days after the deadline."""
    deadline, policy = request.deadline, request.step.reminders
    if not policy.overdue_max:
        return []
    every = policy.overdue_every or 1
    overdue = [
        (k, local_datetime(add_working_days(deadline, 1 + (k - 1) * every), policy.send_time))
        for k in range(1, policy.overdue_max + 1)
    ]
    return latest_due(
        [(k, due) for k, due in overdue if due <= request.now],
        make=lambda k, reason: request.action(
            ActionKind.OVERDUE,
            f"{deadline.isoformat()}/+{k}",
            overdue_number=k,
            skip_reason=reason,
        ),
        blocker=request.skip
        or request.answered_reason
        or ("the step has closed" if request.now >= end_of_day(request.closes) else None)
        or ("the draft has been circulated" if request.drafted else None)
        or request.reminded_today,
        invited_at=invitation.created_at,
        sendable=request.sendable,
        label="overdue reminder no.",
    )
