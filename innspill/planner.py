"""The reconciler: a pure function from (definition, state, now) to the actions due now.

Every action has a natural key; the engine records an action's key when it applies it, and the
planner never plans a key that is already recorded. So running the same tick twice, or again
after a crash, plans nothing new, and a changed deadline needs no rescheduling: the next tick
simply computes other keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum

from innspill.definition import ProcessDefinition, ReminderPolicy, RequestStep
from innspill.workdays import OSLO, add_working_days, end_of_day, is_working_day, local_datetime

#: Messages go out on working days between the policy's hour and this local time.
SEND_WINDOW_END = time(17, 0)


class ActionKind(StrEnum):
    """What an action sends (or, with a skip reason, would have sent)."""

    INVITATION = "invitation"
    REMINDER = "reminder"
    OVERDUE = "overdue"
    DEADLINE_CHANGED = "deadline_changed"


@dataclass(frozen=True)
class Action:
    """One thing to do now: send a message, or record why a due message is not sent."""

    process_id: str
    step_id: str
    participant_id: str
    kind: ActionKind
    sequence: str
    deadline: date
    skip_reason: str | None = None
    previous_deadline: date | None = None
    working_days_left: int | None = None
    overdue_number: int | None = None

    @property
    def key(self) -> str:
        """The natural key: (process, step, participant, kind, sequence)."""
        return "/".join(
            (self.process_id, self.step_id, self.participant_id, self.kind.value, self.sequence)
        )

    @property
    def sends(self) -> bool:
        return self.skip_reason is None


@dataclass(frozen=True)
class Recorded:
    """A message already in the outbox (any status) for a step and participant."""

    kind: str
    sequence: str
    created_at: datetime
    deadline: date | None


@dataclass
class ProcessState:
    """What the planner needs to know of the database, keyed by (step id, participant id)."""

    deadlines: dict[tuple[str, str], date] = field(default_factory=dict)
    answered_at: dict[tuple[str, str], datetime] = field(default_factory=dict)
    messages: dict[tuple[str, str], list[Recorded]] = field(default_factory=dict)
    recorded_keys: set[str] = field(default_factory=set)
    failing_addresses: set[str] = field(default_factory=set)


def in_send_window(now: datetime, policy: ReminderPolicy) -> bool:
    """True on a working day between the policy's hour and SEND_WINDOW_END, local time."""
    local = now.astimezone(OSLO)
    return is_working_day(local.date()) and policy.send_time <= local.time() < SEND_WINDOW_END


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
    sendable = in_send_window(now, policy)
    messages = state.messages.get(pair, [])

    def action(kind: ActionKind, sequence: str, **extra: object) -> Action:
        return Action(definition.id, step.id, participant_id, kind, sequence, deadline, **extra)  # type: ignore[arg-type]

    if participant_id in state.failing_addresses:
        skip = "the participant's address is failing (bounced)"
    elif now >= end_of_day(definition.process.ends):
        skip = "the process has ended"
    else:
        skip = None

    invitation_due = local_datetime(_first_working_day(step.opens), policy.send_time)
    invitation = next((m for m in messages if m.kind == ActionKind.INVITATION), None)
    if invitation is None:
        if now < invitation_due:
            return []
        reason = skip or ("already answered" if answered else None)
        if reason:
            return [action(ActionKind.INVITATION, "1", skip_reason=reason)]
        return [action(ActionKind.INVITATION, "1")] if sendable else []

    out: list[Action] = []
    announced = next((m.deadline for m in reversed(messages) if m.deadline), None)
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
    out += _reminders(
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
        out += _reminders(
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


def _reminders(
    due: list[tuple[int, datetime]],
    *,
    make,  # type: ignore[no-untyped-def]
    blocker: str | None,
    invited_at: datetime,
    sendable: bool,
    label: str,
) -> list[Action]:
    """Of the reminders due, send only the latest; skip the rest and say why."""
    if not due:
        return []
    due = sorted(due, key=lambda item: item[1])
    *older, (latest_n, latest_due) = due
    out = [make(n, f"superseded by a later reminder ({label} {latest_n})") for n, _ in older]
    if blocker:
        out.append(make(latest_n, blocker))
    elif invited_at >= latest_due:
        out.append(make(latest_n, "the invitation went out after this reminder was due"))
    elif sendable:
        out.append(make(latest_n, None))
    return out


def _first_working_day(day: date) -> date:
    return day if is_working_day(day) else add_working_days(day, 1)
