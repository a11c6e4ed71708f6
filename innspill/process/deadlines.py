"""Deadlines: each participant's in effect after every change, and changing one (step or person)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from innspill.errors import InnspillError
from innspill.events import record_event
from innspill.models import DeadlineChange
from innspill.process.definition import ProcessDefinition, RequestStep


def effective_deadlines(
    session: Session, definition: ProcessDefinition
) -> dict[tuple[str, str], date]:
    """Each (request step, participant)'s deadline after every change and extension."""
    changes = session.execute(
        sa_select(
            col(DeadlineChange.step_key),
            col(DeadlineChange.participant_key),
            col(DeadlineChange.deadline),
        )
        .where(col(DeadlineChange.process_id) == definition.id)
        .order_by(col(DeadlineChange.changed_at), col(DeadlineChange.id))
    ).all()
    return deadlines_from_changes(definition, [tuple(c) for c in changes])


def deadlines_of(
    definition: ProcessDefinition, changes: Sequence[DeadlineChange]
) -> dict[tuple[str, str], date]:
    return deadlines_from_changes(
        definition, [(c.step_key, c.participant_key, c.deadline) for c in changes]
    )


DeadlineChangeRow = tuple[str, str | None, date]  # step, participant (None: everyone), deadline


def step_deadlines(
    definition: ProcessDefinition, changes: Iterable[DeadlineChangeRow]
) -> dict[str, date]:
    """Each request step's own deadline: the latest change for the whole step, or the file's.

    `changes` in the order they were made.
    """
    out = {s.id: s.deadline for s in definition.steps if isinstance(s, RequestStep)}
    for step_key, participant_key, deadline in changes:
        if participant_key is None and step_key in out:
            out[step_key] = deadline
    return out


def extensions(changes: Iterable[DeadlineChangeRow]) -> dict[tuple[str, str], date]:
    """Each (step, participant)'s own latest extension, from the changes in the order made."""
    return {(s, p): d for s, p, d in changes if p is not None}


def participant_deadline(own: date, extension: date | None) -> date:
    """A participant's deadline: an extension counts when later (it never shortens one)."""
    return max(own, extension) if extension else own


def deadlines_from_changes(
    definition: ProcessDefinition, changes: Iterable[DeadlineChangeRow]
) -> dict[tuple[str, str], date]:
    """Each (request step, participant)'s deadline, from the changes in the order they were made.

    The latest change for the whole step replaces the file's date; a participant's own
    extension counts when it is later than that.
    """
    changes = list(changes)
    step_level = step_deadlines(definition, changes)
    personal = extensions(changes)
    return {
        (step.id, p.id): participant_deadline(step_level[step.id], personal.get((step.id, p.id)))
        for step in definition.steps
        if isinstance(step, RequestStep)
        for p in definition.audience(step.id)
    }


def closes_on(definition: ProcessDefinition, step: RequestStep, deadline: date) -> date:
    """The last day a step takes one participant's answers: late ones are taken until the
    step closes (`closes`, by default the process's end), never before their own deadline."""
    return max(step.closes or definition.process.ends, deadline)


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
    if deadline > definition.process.ends:
        raise InnspillError(
            f"the new deadline {deadline} is after the process ends ({definition.process.ends}); "
            "change [process] ends in the process file first"
        )
    if participant_id is not None:
        audience = {p.id for p in definition.audience(step_id)}
        if participant_id not in audience:
            raise InnspillError(f"'{participant_id}' is not a participant of step '{step_id}'")
        current = effective_deadlines(session, definition)[(step_id, participant_id)]
        if deadline <= current:
            raise InnspillError(
                f"an extension must be later than the current deadline {current} "
                f"of '{participant_id}'; to move the deadline for everyone, leave out --participant"
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
