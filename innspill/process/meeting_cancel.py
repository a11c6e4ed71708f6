"""Cancel a meeting without editing the file by hand: `innspill cancel-meeting` and the
dashboard's "Avlys møtet".

It stores the loaded definition with the meeting's `cancelled = true`, through the same load as
`innspill load` of an edited file (checked, logged as `process_updated` with who did it), so
the next tick sends everyone who was invited a `METHOD:CANCEL` with the invitation's UID and a
higher SEQUENCE, which removes the meeting from their calendars. Write `cancelled = true` in the
process file too: loading the old file again would bring the meeting back (the load's check
shows that change as "cancelled of STEP: True -> False").
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from innspill.errors import InnspillError
from innspill.models import Process
from innspill.process.definition import MeetingStep, ProcessDefinition
from innspill.process.loading import LoadReport, store_definition
from innspill.process.workdays import end_of_day, local_datetime


class CancelRefused(InnspillError):
    """Why a meeting cannot be cancelled; `code` names the reason for the dashboard."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def cancel_meeting(
    session: Session, definition: ProcessDefinition, step_id: str, *, now: datetime, by: str
) -> LoadReport:
    """Mark the meeting cancelled in the loaded definition; the next tick sends the CANCELs."""
    try:
        step = definition.step(step_id)
    except KeyError:
        raise CancelRefused("no_step", f"no step '{step_id}' in {definition.id}") from None
    if not isinstance(step, MeetingStep):
        raise CancelRefused("not_meeting", f"step '{step_id}' is a {step.kind} step, not a meeting")
    if step.cancelled:
        raise CancelRefused("cancelled", f"the meeting '{step_id}' is cancelled already")
    if now >= end_of_day(definition.process.ends):
        raise CancelRefused("ended", f"the process ended on {definition.process.ends}")
    if now >= local_datetime(step.date, step.start):
        raise CancelRefused(
            "started", f"the meeting '{step_id}' began {step.date} {step.start:%H:%M}"
        )
    steps = [s.model_copy(update={"cancelled": True}) if s is step else s for s in definition.steps]
    cancelled = definition.model_copy(update={"steps": steps})
    row = session.get(Process, definition.id)
    source = row.source_path if row is not None and row.source_path else definition.id
    return store_definition(session, cancelled, source=source, now=now, by=by)
