"""What goes out next: the planner run forward over the coming working days, nothing written.

The forecast calls the same `plan()` the tick uses, hour by hour on each working day, and
records each planned action in a copy of the state the way the engine would (its key, its
message, a compilation's new version). It assumes that nothing else happens in between: no
answers arrive, no deadline changes. So it shows what the next ticks will do if nobody acts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from innspill.planning.actions import (
    SEND_WINDOW_END,
    Action,
    ActionKind,
    DocumentRecord,
    ProcessState,
    Recorded,
)
from innspill.planning.planner import plan
from innspill.process.definition import ProcessDefinition
from innspill.process.workdays import OSLO, add_working_days, is_working_day

#: How far ahead the dashboard looks by default.
WORKING_DAYS_AHEAD = 10

#: The first hour the forecast looks at on a working day (no step sends earlier than its hour,
#: and the hours in process files are working hours).
FIRST_HOUR = 6


@dataclass(frozen=True)
class Planned:
    """One action the ticks will take at `at` (local time) unless something changes first."""

    at: datetime
    action: Action


def _instants(now: datetime, until: date) -> list[datetime]:
    """`now`, then every whole local hour of the working days up to `until` in the send window."""
    local = now.astimezone(OSLO)
    out = [now]
    day = local.date()
    while day <= until:
        if is_working_day(day):
            for hour in range(FIRST_HOUR, SEND_WINDOW_END.hour):
                at = datetime.combine(day, time(hour), tzinfo=OSLO)
                if at > local:
                    out.append(at)
        day += timedelta(days=1)
    return out


def _turning_steps(definition: ProcessDefinition) -> dict[int, set[str]]:
    """By hour: the steps whose due actions can change at that hour without anything
    happening first.

    Every rule of the planner turns at a step's send hour, at a meeting's start, or at
    midnight (a deadline's end, the process's end), which the first hour of the day catches
    for every step. The hour after an hour that did something is looked at for every step
    too (what one action makes due, such as a compilation's mail after it is made); see
    `forecast`. At any other hour, plan() for a step returns what it returned an hour before:
    nothing, since that was recorded. Looking only there makes the forecast about eight times
    faster (2.7 s -> 0.3 s for 100 participants over ten working days)."""
    steps: dict[int, set[str]] = {}
    for step in definition.steps:
        reminders = getattr(step, "reminders", None)  # a request step's hour is its reminders'
        for value in (
            getattr(step, "send_time", None),
            getattr(reminders, "send_time", None),
            getattr(step, "start", None),
            getattr(step, "end", None),
        ):
            if isinstance(value, time):
                steps.setdefault(value.hour, set()).add(step.id)
                if value.minute:
                    steps.setdefault(value.hour + 1, set()).add(step.id)
    return steps


def _copy(state: ProcessState) -> ProcessState:
    """A copy that `_apply` may change: the containers it appends to are new, the frozen
    records in them are shared (a deep copy took half the time of a forecast)."""
    return replace(
        state,
        messages={k: list(v) for k, v in state.messages.items()},
        documents={k: list(v) for k, v in state.documents.items()},
        recorded_keys=set(state.recorded_keys),
        deadlines=dict(state.deadlines),
        answered_at=dict(state.answered_at),
        answers={k: list(v) for k, v in state.answers.items()},
        failing_addresses=set(state.failing_addresses),
        treatments=dict(state.treatments),
    )


def _apply(state: ProcessState, action: Action, at: datetime) -> None:
    """Record `action` in `state` as the engine would after a tick at `at`."""
    state.recorded_keys.add(action.key)
    if action.kind == ActionKind.COMPILE:
        versions = state.documents.setdefault((action.step_id, "compilation"), [])
        versions.append(DocumentRecord(len(versions) + 1, at, action.basis or ""))
    elif action.sends:
        state.messages.setdefault((action.step_id, action.participant_id), []).append(
            Recorded(action.kind.value, action.sequence, at, action.deadline)
        )


def forecast(
    definition: ProcessDefinition,
    state: ProcessState,
    now: datetime,
    *,
    working_days: int = WORKING_DAYS_AHEAD,
) -> list[Planned]:
    """The actions the ticks will take from `now` through the next `working_days` working days.

    Skipped actions (a due message that will not be sent, and why) are included: they are
    decisions too. `state` is not changed.
    """
    if now.tzinfo is None:
        raise ValueError("forecast() needs an aware datetime for now")
    until = add_working_days(now.astimezone(OSLO).date(), working_days)
    simulated = _copy(state)
    turning = _turning_steps(definition)
    out: list[Planned] = []
    busy = True  # `now` itself is always looked at, for every step
    for at in _instants(now, until):
        only: set[str] | None = None  # every step
        if not busy and at.astimezone(OSLO).hour != FIRST_HOUR:
            only = turning.get(at.astimezone(OSLO).hour)
            if not only:
                continue
        actions = plan(definition, simulated, at, steps=only)
        for action in actions:
            _apply(simulated, action, at)
            out.append(Planned(at, action))
        busy = bool(actions)
    return out
