"""Administrators' actions on a step: extend a deadline, record a body's treatment of the draft,
record attendance (and what every action on a step shares; registering an answer that came
outside the system is in `actions_answer.py`).

Each is a POST with the page's CSRF token, calls the same domain function as its CLI command
(`innspill extend`, `answer add`, `treatment`, `attendance`) with `by` set to the signed-in
administrator, and redirects to the page it came from with a notice of what was done and what
the next ticks will send (`acting.done`). A refusal shows that page again (400) with the form
open, what to correct in bokmål, and what had been typed. Viewers get 403 (`require_admin`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from sqlmodel import Session
from starlette.responses import Response

from innspill.dashboard import labels
from innspill.dashboard.actions import texts as action_texts
from innspill.dashboard.actions.common import (
    Admin,
    CsrfToken,
    Db,
    Now,
    Upcoming,
    check_csrf,
    done,
    upcoming,
)
from innspill.dashboard.actions.forms import BACK_PARTICIPANT, Refused
from innspill.dashboard.deps import render, require_admin
from innspill.dashboard.pages import progress, routes
from innspill.documents.treatment import register_attendance, set_treatment
from innspill.errors import InnspillError, UnknownProcess
from innspill.i18n import _
from innspill.models import Treatment, TreatmentState
from innspill.process.deadlines import change_deadline
from innspill.process.definition import ProcessDefinition
from innspill.process.loading import get_definition
from innspill.status import Phrase, process_status

router = APIRouter(dependencies=[Depends(require_admin)])

Short = Annotated[str, Form(max_length=200)]
Long = Annotated[str, Form(max_length=20_000)]  # longer than any check below: never lose text
MAX_REASON = 1000
MAX_DECISION = 4000


def forecast_of(
    db: Session,
    definition: ProcessDefinition,
    now: datetime,
    *,
    participant: str | None,
    step: str | None,
) -> list[Upcoming]:
    """What the next ticks will send (the forecast), with why a message is not sent in bokmål."""
    return [
        replace(u, skipped=action_texts.SKIP_REASONS.get(u.skipped, u.skipped))
        for u in upcoming(db, definition, now, participant=participant, step=step)
    ]


def definition_of(db: Session, process_id: str) -> ProcessDefinition:
    try:
        return get_definition(db, process_id)
    except UnknownProcess:
        raise HTTPException(404, _("Fant ingen prosess med id «%(id)s».", id=process_id)) from None


def name_of(definition: ProcessDefinition, key: str) -> str:
    return next((p.name for p in definition.participants if p.id == key), key)


def _title(definition: ProcessDefinition, step_id: str) -> str:
    return next((s.title for s in definition.steps if s.id == step_id), step_id)


def target(process_id: str, back: str, participant: str) -> str:
    """The page the form was on (built here, never taken from the form: no open redirect), at
    its top, where the notice is."""
    if back == BACK_PARTICIPANT and participant:
        return f"/processes/{process_id}/participants/{participant}"
    return f"/processes/{process_id}"


def again(
    request: Request,
    db: Session,
    now: datetime,
    definition: ProcessDefinition,
    *,
    back: str,
    participant: str,
    refused: Refused,
) -> Response:
    """The page the form was on, again (400), with the form open, the error and the values."""
    if back == BACK_PARTICIPANT and participant:
        context = routes.participant_view(db, definition.id, participant, now, refused=refused)
        return render(request, "participant.html", context, status_code=400)
    context = routes.process_view(db, definition.id, now, refused=refused)
    return render(request, "process.html", context, status_code=400)


def _recorded(
    db: Session,
    definition: ProcessDefinition,
    now: datetime,
    step_id: str,
    participant: str,
    recorded: str,
) -> str:
    """The notice of a recorded treatment or attendance, and where the participant stands now
    (from the status model) when that says something else, e.g. that no draft was sent yet."""
    status = process_status(db, definition, now=now)
    where = progress.standing(definition, status, step_id, participant).text
    notice = _sentence(
        f"{name_of(definition, participant)}, «{_title(definition, step_id)}»: {recorded}"
    )
    now_said = _sentence(_("Status nå: %(where)s", where=where))
    return notice + (" " + now_said if where and where != recorded else "")


def _sentence(text: str) -> str:
    """`text` ending with a full stop, never two: a decision is usually a sentence of its own."""
    return text if text.rstrip().endswith((".", "!", "?")) else text + "."


def _treatment_values(row: Treatment) -> dict[str, object]:
    """The values of the status model's phrase for a treatment state (innspill.status)."""
    if row.state == TreatmentState.ON_AGENDA:
        return {"date": row.meeting_date}
    if row.state == TreatmentState.TREATED:
        return {"date": row.decided_on, "decision": row.decision}
    return {}


# --- 1. a deadline ----------------------------------------------------------------------------


@router.post("/processes/{process_id}/steps/{step_id}/deadline")
def extend_deadline(
    request: Request,
    process_id: str,
    step_id: str,
    db: Db,
    now: Now,
    admin: Admin,
    csrf_token: CsrfToken = "",
    deadline: Short = "",
    participant: Short = "",
    reason: Long = "",
    back: Short = "",
) -> Response:
    check_csrf(request, csrf_token)
    definition = definition_of(db, process_id)
    participant, reason = participant.strip(), reason.strip()
    values = {"deadline": deadline, "participant": participant, "reason": reason}
    form = f"frist-{step_id}" + (f"-{participant}" if back == BACK_PARTICIPANT else "")
    try:
        new = action_texts.parse_day(deadline, "den nye fristen")
        if not reason:
            raise ValueError(_("Skriv en begrunnelse: den står i meldingen til deltakerne."))
        if len(reason) > MAX_REASON:
            raise ValueError(_("Begrunnelsen er for lang (høyst %(n)s tegn).", n=MAX_REASON))
        change_deadline(
            db,
            definition,
            step_id=step_id,
            deadline=new,
            at=now,
            participant_id=participant or None,
            reason=reason,
            by=admin.username,
        )
    except (ValueError, InnspillError) as exc:
        text = action_texts.refusal(str(exc)) if isinstance(exc, InnspillError) else str(exc)
        refused = Refused(form, text, values)
        return again(
            request, db, now, definition, back=back, participant=participant, refused=refused
        )
    db.commit()
    if participant:
        who = _("for %(name)s", name=name_of(definition, participant))
    else:
        who = _("for alle deltakerne")
    notice = _(
        "Ny frist for «%(step)s» %(who)s: %(date)s.",
        step=_title(definition, step_id),
        who=who,
        date=labels.fmt_date(new),
    )
    if warning := action_texts.not_a_working_day(new, definition):
        notice += " " + warning
    next_up = forecast_of(db, definition, now, participant=participant or None, step=step_id)
    return done(request, target(process_id, back, participant), notice, next_up)


# --- 2. a body's treatment of the draft, attendance at a meeting ------------------------------


def _optional_day(text: str, label: str) -> date | None:
    return action_texts.parse_day(text, label) if text.strip() else None


@router.post("/processes/{process_id}/steps/{step_id}/treatment")
def record_treatment(
    request: Request,
    process_id: str,
    step_id: str,
    db: Db,
    now: Now,
    admin: Admin,
    csrf_token: CsrfToken = "",
    participant: Short = "",
    state: Short = "",
    meeting_date: Short = "",
    decided_on: Short = "",
    decision: Long = "",
    back: Short = "",
) -> Response:
    check_csrf(request, csrf_token)
    definition = definition_of(db, process_id)
    participant = participant.strip()
    values = {
        "participant": participant,
        "state": state,
        "meeting_date": meeting_date,
        "decided_on": decided_on,
        "decision": decision,
    }
    form = f"behandling-{step_id}"
    try:
        if state not in action_texts.TREATMENT_STATES:
            raise ValueError(_("Velg hvor langt behandlingen har kommet."))
        if len(decision) > MAX_DECISION:
            raise ValueError(_("Vedtaket er for langt (høyst %(n)s tegn).", n=MAX_DECISION))
        wanted = TreatmentState(state)
        row = set_treatment(
            db,
            definition,
            step_id=step_id,
            participant_id=participant,
            state=wanted,
            now=now,
            meeting_date=_optional_day(meeting_date, _("datoen for møtet"))
            if wanted == TreatmentState.ON_AGENDA
            else None,
            decided_on=_optional_day(decided_on, _("datoen for behandlingen"))
            if wanted == TreatmentState.TREATED
            else None,
            decision=decision if wanted == TreatmentState.TREATED else "",
            by=admin.username,
        )
    except (ValueError, InnspillError) as exc:
        db.rollback()
        text = action_texts.refusal(str(exc)) if isinstance(exc, InnspillError) else str(exc)
        refused = Refused(form, text, values)
        return again(
            request, db, now, definition, back=back, participant=participant, refused=refused
        )
    db.commit()
    phrase = Phrase(TreatmentState(row.state).value, **_treatment_values(row))
    recorded = labels.translate(phrase).text
    notice = _recorded(db, definition, now, step_id, participant, recorded)
    next_up = forecast_of(db, definition, now, participant=participant, step=step_id)
    return done(request, target(process_id, back, participant), notice, next_up)


@router.post("/processes/{process_id}/steps/{step_id}/attendance")
def record_attendance(
    request: Request,
    process_id: str,
    step_id: str,
    db: Db,
    now: Now,
    admin: Admin,
    csrf_token: CsrfToken = "",
    participant: Short = "",
    attended: Short = "",
    back: Short = "",
) -> Response:
    check_csrf(request, csrf_token)
    definition = definition_of(db, process_id)
    participant = participant.strip()
    values = {"participant": participant, "attended": attended}
    form = f"oppmote-{step_id}"
    try:
        if attended not in ("yes", "no"):
            raise ValueError(_("Velg om deltakeren møtte eller ikke."))
        row = register_attendance(
            db,
            definition,
            step_id=step_id,
            participant_id=participant,
            attended=attended == "yes",
            now=now,
            by=admin.username,
        )
    except (ValueError, InnspillError) as exc:
        db.rollback()
        text = action_texts.refusal(str(exc)) if isinstance(exc, InnspillError) else str(exc)
        refused = Refused(form, text, values)
        return again(
            request, db, now, definition, back=back, participant=participant, refused=refused
        )
    db.commit()
    recorded = labels.translate(Phrase("attended" if row.attended else "absent")).text
    notice = _recorded(db, definition, now, step_id, participant, recorded)
    next_up = forecast_of(db, definition, now, participant=participant, step=step_id)
    return done(request, target(process_id, back, participant), notice, next_up)
