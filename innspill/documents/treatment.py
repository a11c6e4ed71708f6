"""Record how a body treats a circulated draft, and who attended a meeting: one place each.

Both refuse what cannot have happened yet: attendance before the meeting has started (or at a
cancelled one), a treatment of a draft the body has not been sent, a decision dated in the
future, before the draft was sent or before the meeting it was on the agenda of.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TypeVar

from sqlmodel import Session, func, select

from innspill.errors import InnspillError
from innspill.events import record_event
from innspill.models import (
    Attendance,
    MessageStatus,
    OutboxMessage,
    Treatment,
    TreatmentState,
)
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    ProcessDefinition,
    RequestStep,
)
from innspill.process.workdays import OSLO, local_datetime

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
    existing = _existing(session, Treatment, definition.id, step_id, participant_id)
    if state != TreatmentState.PENDING:
        _check_treatment(
            session,
            definition,
            step_id=step_id,
            participant_id=participant_id,
            today=now.astimezone(OSLO).date(),
            meeting_date=meeting_date or (existing.meeting_date if existing else None),
            decided_on=decided_on if state == TreatmentState.TREATED else None,
        )
    row = existing or Treatment(
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
    if step.cancelled:
        raise InnspillError(f"the meeting '{step_id}' was cancelled: there is no attendance")
    starts = local_datetime(step.date, step.start)
    if now < starts:
        raise InnspillError(
            f"the meeting '{step_id}' starts {step.date} at {step.start:%H.%M}: attendance can be "
            "registered once it has started"
        )
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


def draft_sent_on(
    session: Session, definition: ProcessDefinition, step_id: str, participant_id: str
) -> date | None:
    """The day the draft was first delivered to a body (a circulation message sent), or None."""
    sent = session.exec(
        select(func.min(OutboxMessage.sent_at)).where(
            OutboxMessage.process_id == definition.id,
            OutboxMessage.step_key == step_id,
            OutboxMessage.participant_key == participant_id,
            OutboxMessage.kind == "circulation",
            OutboxMessage.status == MessageStatus.SENT,
        )
    ).one()
    if sent is None:
        return None
    if isinstance(sent, str):  # func.min() on SQLite gives the stored text back
        sent = datetime.fromisoformat(sent)
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    return sent.astimezone(OSLO).date()


def _check_treatment(
    session: Session,
    definition: ProcessDefinition,
    *,
    step_id: str,
    participant_id: str,
    today: date,
    meeting_date: date | None,
    decided_on: date | None,
) -> None:
    """Refuse a treatment that cannot have happened yet (see the module's docstring)."""
    sent = draft_sent_on(session, definition, step_id, participant_id)
    if sent is None:
        raise InnspillError(
            f"the draft has not been sent to '{participant_id}' yet: its treatment can be "
            "recorded once it has been sent"
        )
    if meeting_date is not None and meeting_date < sent:
        raise InnspillError(
            f"the meeting date {meeting_date} is before the draft was sent to "
            f"'{participant_id}' ({sent})"
        )
    if decided_on is None:
        return
    if decided_on > today:
        raise InnspillError(
            f"the decision date {decided_on} is after today ({today}): record a decision once "
            "it is made"
        )
    if decided_on < sent:
        raise InnspillError(
            f"the decision date {decided_on} is before the draft was sent to "
            f"'{participant_id}' ({sent})"
        )
    if meeting_date is not None and decided_on < meeting_date:
        raise InnspillError(
            f"the decision date {decided_on} is before the meeting it is on the agenda of "
            f"({meeting_date}); if the meeting moved, record it on the agenda with its new date "
            "first"
        )


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
