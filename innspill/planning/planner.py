"""The reconciler: a pure function from (definition, state, now) to the actions due now.

Every action has a natural key; the engine records an action's key when it applies it, and the
planner never plans a key that is already recorded. So running the same tick twice, or again
after a crash, plans nothing new, and a changed deadline needs no rescheduling: the next tick
simply computes other keys.
"""

from __future__ import annotations

from datetime import datetime

from innspill.planning.actions import (
    Action,
    ActionKind,
    AnswerRecord,
    DocumentRecord,
    ProcessState,
    Recorded,
    in_send_window,
)
from innspill.planning.after_deadline import plan_circulation, plan_compilation, plan_meeting
from innspill.planning.due import first_working_day, latest_due
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    ProcessDefinition,
    RequestStep,
)
from innspill.process.workdays import add_working_days, end_of_day, local_datetime

#: Messages that tell a participant their deadline (a receipt repeats it but announces nothing).
ANNOUNCING = {
    ActionKind.INVITATION,
    ActionKind.REMINDER,
    ActionKind.OVERDUE,
    ActionKind.DEADLINE_CHANGED,
}

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
    for step in definition.steps:
        if steps is not None and step.id not in steps:
            continue
        if isinstance(step, RequestStep):
            for participant in definition.audience(step.id):
                actions.extend(_plan_request(definition, step, participant.id, state, now))
        elif isinstance(step, CompilationStep):
            actions.extend(plan_compilation(definition, step, state, now))
        elif isinstance(step, MeetingStep):
            actions.extend(plan_meeting(definition, step, state, now))
        elif isinstance(step, CirculationStep):
            actions.extend(plan_circulation(definition, step, state, now))
    return [a for a in actions if a.key not in state.recorded_keys]


def _plan_request(
    definition: ProcessDefinition,
    step: RequestStep,
    participant_id: str,
    state: ProcessState,
    now: datetime,
) -> list[Action]:
    pair = (step.id, participant_id)
    deadline = state.deadlines.get(pair, step.deadline)
    policy = step.reminders
    answered_at = state.answered_at.get(pair)
    answered = answered_at is not None and answered_at <= now
    sendable = in_send_window(now, policy.send_time)
    messages = state.messages.get(pair, [])

    def action(kind: ActionKind, sequence: str, **extra: object) -> Action:
        return Action(definition.id, step.id, participant_id, kind, sequence, deadline, **extra)  # type: ignore[arg-type]

    if participant_id in state.failing_addresses:
        skip = "the participant's address is failing (bounced)"
    elif now >= end_of_day(definition.process.ends):
        skip = "the process has ended"
    else:
        skip = None

    receipts: list[Action] = []
    if skip is None and sendable:
        # A receipt for every version of an answer, once, in the send window like all mail.
        for answer in state.answers.get(step.id, []):
            if answer.participant_id == participant_id and answer.received_at <= now:
                receipts.append(
                    action(ActionKind.RECEIPT, str(answer.version), version=answer.version)
                )

    invitation_due = local_datetime(first_working_day(step.opens), policy.send_time)
    invitation = next((m for m in messages if m.kind == ActionKind.INVITATION), None)
    if invitation is None:
        if now < invitation_due:
            return receipts
        reason = skip or ("already answered" if answered else None)
        if reason:
            return [*receipts, action(ActionKind.INVITATION, "1", skip_reason=reason)]
        return [*receipts, action(ActionKind.INVITATION, "1")] if sendable else receipts

    out: list[Action] = receipts
    announced = next(
        (m.deadline for m in reversed(messages) if m.deadline and m.kind in ANNOUNCING), None
    )
    if announced is not None and announced != deadline and not answered and skip is None:
        if sendable:
            # Numbered, so that moving a deadline back and forth notifies every time.
            number = 1 + sum(m.kind == ActionKind.DEADLINE_CHANGED for m in messages)
            out.append(
                action(
                    ActionKind.DEADLINE_CHANGED,
                    f"{number}:{deadline.isoformat()}",
                    previous_deadline=announced,
                )
            )
        # Reminders wait until the participant has been told of the new deadline.
        return out

    invited_at = invitation.created_at
    closes = end_of_day(deadline)
    before = [
        (n, local_datetime(add_working_days(deadline, -n), policy.send_time)) for n in policy.before
    ]
    due_before = [(n, due) for n, due in before if due <= now]
    out += latest_due(
        due_before,
        make=lambda n, reason: action(
            ActionKind.REMINDER,
            f"{deadline.isoformat()}/-{n}",
            working_days_left=n,
            skip_reason=reason,
        ),
        blocker=skip
        or ("already answered" if answered else None)
        or ("the deadline has passed" if now >= closes else None),
        invited_at=invited_at,
        sendable=sendable,
        label="working days before",
    )

    if policy.overdue_max:
        every = policy.overdue_every or 1
        overdue = [
            (k, local_datetime(add_working_days(deadline, 1 + (k - 1) * every), policy.send_time))
            for k in range(1, policy.overdue_max + 1)
        ]
        due_overdue = [(k, due) for k, due in overdue if due <= now]
        out += latest_due(
            due_overdue,
            make=lambda k, reason: action(
                ActionKind.OVERDUE,
                f"{deadline.isoformat()}/+{k}",
                overdue_number=k,
                skip_reason=reason,
            ),
            blocker=skip or ("already answered" if answered else None),
            invited_at=invited_at,
            sendable=sendable,
            label="overdue reminder no.",
        )
    return out
