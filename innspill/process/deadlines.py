"""Deadlines: the one place that says which deadline is in effect for each participant of each
request step after every change, what it was written as, and until when answers are taken;
and changing one (for a step or a person).

A deadline on a weekend or public holiday runs to the next working day (domstolloven § 149)
unless the process file says `holiday_deadlines = "as_written"`. Everything that compares with a
deadline (the planner, the status, the answer form, the intake, the compilation's late marks,
the dashboard) asks this module; the letters say the written day and why it moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from innspill.errors import InnspillError
from innspill.events import record_event
from innspill.models import DeadlineChange
from innspill.process.deadline_rule import in_effect
from innspill.process.schema import (
    CirculationStep,
    CompilationStep,
    ProcessDefinition,
    RequestStep,
)
from innspill.process.workdays import add_working_days

DeadlineChangeRow = tuple[str, str | None, date]  # step, participant (None: everyone), deadline


def step_deadlines_written(
    definition: ProcessDefinition, changes: Iterable[DeadlineChangeRow]
) -> dict[str, date]:
    """Each request step's own deadline as written: the latest change for the whole step, or
    the file's. `changes` in the order they were made."""
    out = {s.id: s.deadline for s in definition.steps if isinstance(s, RequestStep)}
    for step_key, participant_key, deadline in changes:
        if participant_key is None and step_key in out:
            out[step_key] = deadline
    return out


def step_deadlines(
    definition: ProcessDefinition, changes: Iterable[DeadlineChangeRow]
) -> dict[str, date]:
    """Each request step's own deadline in effect (see step_deadlines_written)."""
    return {
        step: in_effect(definition, day)
        for step, day in step_deadlines_written(definition, changes).items()
    }


def extensions(
    definition: ProcessDefinition, changes: Iterable[DeadlineChangeRow]
) -> dict[tuple[str, str], date]:
    """Each (step, participant)'s own latest extension in effect, from the changes in order."""
    return {(s, p): in_effect(definition, d) for s, p, d in changes if p is not None}


def participant_deadline(own: date, extension: date | None) -> date:
    """A participant's deadline: an extension counts when later (it never shortens one)."""
    return max(own, extension) if extension else own


def written_deadlines(
    definition: ProcessDefinition, changes: Iterable[DeadlineChangeRow]
) -> dict[tuple[str, str], date]:
    """Each (request step, participant)'s deadline as written, from the changes in the order
    they were made: the latest change for the whole step replaces the file's date; a
    participant's own extension counts when it is later than that."""
    changes = list(changes)
    step_level = step_deadlines_written(definition, changes)
    personal = {(s, p): d for s, p, d in changes if p is not None}
    return {
        (step.id, p.id): participant_deadline(step_level[step.id], personal.get((step.id, p.id)))
        for step in definition.steps
        if isinstance(step, RequestStep)
        for p in definition.audience(step.id)
    }


def deadlines_from_changes(
    definition: ProcessDefinition, changes: Iterable[DeadlineChangeRow]
) -> dict[tuple[str, str], date]:
    """Each (request step, participant)'s deadline in effect, from the changes in order."""
    return {
        pair: in_effect(definition, day)
        for pair, day in written_deadlines(definition, changes).items()
    }


def deadlines_of(
    definition: ProcessDefinition, changes: Sequence[DeadlineChange]
) -> dict[tuple[str, str], date]:
    return deadlines_from_changes(
        definition, [(c.step_key, c.participant_key, c.deadline) for c in changes]
    )


def compile_day(step_deadline: date) -> date:
    """The day a compilation is first made: the first working day after its source's deadline."""
    return add_working_days(step_deadline, 1)


def drafting_starts(
    definition: ProcessDefinition, step: RequestStep, steps: Mapping[str, date]
) -> date | None:
    """The day the drafters' work on a request step's answers starts: the day the compilation
    of its answers is made; without one, the day the first compilation or circulation step
    after it in the file starts (a circulation: the first working day after this step's
    deadline; another step's compilation only if it is made after this step's deadline). None
    when no such step follows. `steps`: step deadlines in effect."""
    own = next(
        (s for s in definition.steps if isinstance(s, CompilationStep) and s.source == step.id),
        None,
    )
    ids = [s.id for s in definition.steps]
    after = definition.steps[ids.index(step.id) + 1 :] if step.id in ids else []
    own_deadline = steps.get(step.id, step.deadline)
    following = own or next(
        (
            s
            for s in after
            if isinstance(s, CirculationStep)
            # another step's compilation counts only if it is made after this deadline
            or (
                isinstance(s, CompilationStep)
                and compile_day(steps.get(s.source, own_deadline)) > own_deadline
            )
        ),
        None,
    )
    if isinstance(following, CompilationStep):
        return compile_day(steps.get(following.source, step.deadline))
    if isinstance(following, CirculationStep):
        return compile_day(steps.get(step.id, step.deadline))
    return None


def step_closes(
    definition: ProcessDefinition, step: RequestStep, steps: Mapping[str, date]
) -> date:
    """The last day a step takes late answers, before any personal deadline: `closes` if the
    file sets it, else the day the drafters' work starts, else the process's end."""
    if step.closes is not None:
        return step.closes
    drafting = drafting_starts(definition, step, steps)
    ends = definition.process.ends
    return min(drafting, ends) if drafting else ends


def closes_on(
    definition: ProcessDefinition,
    step: RequestStep,
    deadline: date,
    steps: Mapping[str, date] | None = None,
) -> date:
    """The last day a step takes one participant's answers: late ones are taken until the step
    closes (step_closes), never before their own deadline in effect. `steps`: the step
    deadlines in effect (the file's when not given)."""
    if steps is None:
        steps = step_deadlines(definition, [])
    return max(step_closes(definition, step, steps), deadline)


@dataclass(frozen=True)
class Deadlines:
    """Every request deadline of a process after its changes, keyed by (step, participant)."""

    in_effect: dict[tuple[str, str], date]
    #: As written, only where the deadline in effect is later (a weekend or public holiday).
    written: dict[tuple[str, str], date]
    steps: dict[str, date]  # each request step's own deadline in effect
    steps_written: dict[str, date]  # ... and as written
    closes: dict[tuple[str, str], date]  # the last day each participant's answer is taken


def deadline_book(definition: ProcessDefinition, changes: Iterable[DeadlineChangeRow]) -> Deadlines:
    """Every deadline of the process in effect, as written and until when answers are taken."""
    changes = list(changes)
    written = written_deadlines(definition, changes)
    effective = {pair: in_effect(definition, day) for pair, day in written.items()}
    steps_written = step_deadlines_written(definition, changes)
    steps = {s: in_effect(definition, day) for s, day in steps_written.items()}
    closing = {
        step.id: step_closes(definition, step, steps)
        for step in definition.steps
        if isinstance(step, RequestStep)
    }
    return Deadlines(
        in_effect=effective,
        written={pair: day for pair, day in written.items() if day != effective[pair]},
        steps=steps,
        steps_written=steps_written,
        closes={pair: max(closing[pair[0]], day) for pair, day in effective.items()},
    )


def deadline_changes(session: Session, definition: ProcessDefinition) -> list[DeadlineChangeRow]:
    """The process's deadline changes, in the order they were made."""
    rows = session.execute(
        sa_select(
            col(DeadlineChange.step_key),
            col(DeadlineChange.participant_key),
            col(DeadlineChange.deadline),
        )
        .where(col(DeadlineChange.process_id) == definition.id)
        .order_by(col(DeadlineChange.changed_at), col(DeadlineChange.id))
    ).all()
    return [(step, who, day) for step, who, day in rows]


def deadlines_in(session: Session, definition: ProcessDefinition) -> Deadlines:
    """Every deadline of the process as it stands in the database (see deadline_book)."""
    return deadline_book(definition, deadline_changes(session, definition))


def effective_deadlines(
    session: Session, definition: ProcessDefinition
) -> dict[tuple[str, str], date]:
    """Each (request step, participant)'s deadline in effect after every change and extension."""
    return deadlines_from_changes(definition, deadline_changes(session, definition))


def change_deadline(
    session: Session,
    definition: ProcessDefinition,
    *,
    step_id: str,
    deadline: date,
    at: datetime,
    participant_id: str | None = None,
    reason: str = "",
    by: str = "",
) -> DeadlineChange:
    """Record a new deadline; the next tick notifies those affected and replans reminders."""
    try:
        step = definition.step(step_id)
    except KeyError:
        steps = ", ".join(s.id for s in definition.steps if isinstance(s, RequestStep))
        raise InnspillError(
            f"no step '{step_id}' in '{definition.id}' (request steps: {steps})"
        ) from None
    if not isinstance(step, RequestStep):
        raise InnspillError(f"step '{step_id}' is a {step.kind} step and has no input deadline")
    if deadline <= step.opens:
        raise InnspillError(
            f"the new deadline {deadline} is not after the step opens ({step.opens})"
        )
    ends, effective = definition.process.ends, in_effect(definition, deadline)
    if deadline > ends:
        raise InnspillError(
            f"the new deadline {deadline} is after the process ends ({ends}); "
            "change [process] ends in the process file first"
        )
    if effective > ends:
        raise InnspillError(
            f"the new deadline {deadline} is not a working day and runs to {effective}, after "
            f"the process ends ({ends}); choose an earlier working day, or change [process] "
            "ends in the process file first"
        )
    if participant_id is not None:
        audience = {p.id for p in definition.audience(step_id)}
        if participant_id not in audience:
            raise InnspillError(f"'{participant_id}' is not a participant of step '{step_id}'")
        current = effective_deadlines(session, definition)[(step_id, participant_id)]
        if effective <= current:
            runs = f" ({deadline} runs to {effective})" if effective != deadline else ""
            raise InnspillError(
                f"an extension must be later than the current deadline {current} "
                f"of '{participant_id}'{runs}; to move the deadline for everyone, leave out "
                "--participant"
            )
    change = DeadlineChange(
        process_id=definition.id,
        step_key=step_id,
        participant_key=participant_id,
        deadline=deadline,
        reason=reason,
        changed_by=by,
        changed_at=at,
    )
    session.add(change)
    record_event(
        session,
        definition.id,
        at,
        "deadline_changed",
        step=step_id,
        participant=participant_id,
        detail=f"new deadline {deadline.isoformat()}" + (f": {reason}" if reason else ""),
        by=by,
    )
    return change
