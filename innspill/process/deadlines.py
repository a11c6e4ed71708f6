"""Change a deadline, for a whole step or as an extension for one participant."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from innspill.errors import InnspillError
from innspill.events import record_event
from innspill.models import DeadlineChange
from innspill.planning.state import effective_deadlines
from innspill.process.definition import ProcessDefinition, RequestStep


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
    )
    return change
