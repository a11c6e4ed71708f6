"""Record how a body treats a circulated draft, and who attended a meeting: one place each."""

from __future__ import annotations

from datetime import date, datetime
from typing import TypeVar

from sqlmodel import Session, select

from innspill.errors import InnspillError
from innspill.events import record_event
from innspill.models import Attendance, Treatment, TreatmentState
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    ProcessDefinition,
    RequestStep,
)

Row = TypeVar("Row", Treatment, Attendance)


def set_treatment(
    session: Session,
    definition: ProcessDefinition,
    *,
    step_id: str,
    participant_id: str,
    state: TreatmentState,
    now: datetime,
    meeting_date: date | None = None,
    decided_on: date | None = None,
    decision: str = "",
    by: str = "",
) -> Treatment:
    """Change a body's treatment state (pending, on the agenda, treated) and log it."""
    step = _step(definition, step_id)
    if not isinstance(step, CirculationStep):
        raise InnspillError(f"step '{step_id}' is a {step.kind} step, not a circulation step")
    if participant_id not in {p.id for p in definition.audience(step_id)}:
        raise InnspillError(f"'{participant_id}' is not among the bodies of step '{step_id}'")
    if state == TreatmentState.ON_AGENDA and meeting_date is None:
        raise InnspillError("on the agenda: give the meeting date (--meeting-date)")
    if state == TreatmentState.TREATED and (decided_on is None or not decision.strip()):
        raise InnspillError("treated: give the date (--decided-on) and the decision (--decision)")
    row = _existing(session, Treatment, definition.id, step_id, participant_id) or Treatment(
        process_id=definition.id, step_key=step_id, participant_key=participant_id, updated_at=now
    )
    row.state, row.updated_at, row.updated_by = state, now, by
    row.meeting_date = meeting_date or row.meeting_date
    row.decided_on, row.decision = decided_on, decision.strip()
    session.add(row)
    detail = state.value + (f", meeting {meeting_date}" if meeting_date else "")
    detail += f", decided {decided_on}: {decision.strip()}" if decided_on else ""
    record_event(
        session,
        definition.id,
        now,
        "treatment_changed",
        step=step_id,
        participant=participant_id,
        detail=detail,
        by=by,
    )
    return row


def register_attendance(
    session: Session,
    definition: ProcessDefinition,
    *,
    step_id: str,
    participant_id: str,
    attended: bool,
    now: datetime,
    by: str = "",
) -> Attendance:
    """Record whether a participant attended a meeting."""
    step = _step(definition, step_id)
    if not isinstance(step, MeetingStep):
        raise InnspillError(f"step '{step_id}' is a {step.kind} step, not a meeting")
    if participant_id not in {p.id for p in definition.audience(step_id)}:
        raise InnspillError(f"'{participant_id}' was not invited to '{step_id}'")
    row = _existing(session, Attendance, definition.id, step_id, participant_id) or Attendance(
        process_id=definition.id,
        step_key=step_id,
        participant_key=participant_id,
        attended=attended,
        registered_at=now,
    )
    row.attended, row.registered_at, row.registered_by = attended, now, by
    session.add(row)
    record_event(
        session,
        definition.id,
        now,
        "attendance_registered",
        step=step_id,
        participant=participant_id,
        detail="attended" if attended else "absent",
        by=by,
    )
    return row


def _step(
    definition: ProcessDefinition, step_id: str
) -> RequestStep | MeetingStep | CompilationStep | CirculationStep:
    try:
        return definition.step(step_id)
    except KeyError:
        raise InnspillError(f"process '{definition.id}' has no step '{step_id}'") from None


def _existing(
    session: Session, table: type[Row], process_id: str, step_id: str, participant_id: str
) -> Row | None:
    """The one row a table keeps per (process, step, participant), if there is one."""
    return session.exec(
        select(table).where(
            table.process_id == process_id,
            table.step_key == step_id,
            table.participant_key == participant_id,
        )
    ).first()
