"""Administrators' actions on a step: extend a deadline, register an answer that came by letter
or mail outside the system, record a body's treatment of the draft, record attendance.

Each is a POST with the page's CSRF token, calls the same domain function as its CLI command
(`innspill extend`, `answer add`, `treatment`, `attendance`) with `by` set to the signed-in
administrator, and redirects to the page it came from with a notice of what was done and what
the next ticks will send (`acting.done`). A refusal shows that page again (400) with the form
open, what to correct in bokmål, and what had been typed. Viewers get 403 (`require_admin`).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from starlette.formparsers import MultiPartException
from starlette.responses import Response

from innspill.dashboard import action_texts, labels, progress
from innspill.dashboard.acting import Admin, CsrfToken, Db, Now, check_csrf, done, upcoming
from innspill.dashboard.action_forms import BACK_PARTICIPANT, Refused, forms_for
from innspill.dashboard.answer_form import FIELD_PREFIX, _TooLarge, file_problems, read_form
from innspill.dashboard.answer_texts import wording
from innspill.dashboard.deps import render, require_admin
from innspill.documents.treatment import register_attendance, set_treatment
from innspill.errors import InnspillError, UnknownProcess
from innspill.inbound.answers import attach_file, register_answer
from innspill.inbound.intake import GENERAL
from innspill.models import Treatment, TreatmentState, User
from innspill.process.deadlines import change_deadline
from innspill.process.definition import ProcessDefinition, RequestStep
from innspill.process.loading import get_definition
from innspill.process.workdays import OSLO
from innspill.status import Phrase, process_status

router = APIRouter(dependencies=[Depends(require_admin)])

Short = Annotated[str, Form(max_length=200)]
Long = Annotated[str, Form(max_length=20_000)]  # longer than any check below: never lose text
MAX_REASON = 1000
MAX_DECISION = 4000
GENERAL_FIELD = "generelt"
ANSWER_FIELDS = ("csrf_token", "participant", "received", GENERAL_FIELD, "back")


def _definition(db: Session, process_id: str) -> ProcessDefinition:
    try:
        return get_definition(db, process_id)
    except UnknownProcess:
        raise HTTPException(404, f"Fant ingen prosess med id «{process_id}».") from None


def _name(definition: ProcessDefinition, key: str) -> str:
    return next((p.name for p in definition.participants if p.id == key), key)


def _title(definition: ProcessDefinition, step_id: str) -> str:
    return next((s.title for s in definition.steps if s.id == step_id), step_id)


def _target(process_id: str, back: str, participant: str) -> str:
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
        page = progress.participant_page(db, definition.id, participant, now=now)
        if page is None:
            raise HTTPException(404, f"Fant ingen deltaker «{participant}» i prosessen.")
        forms = forms_for(definition, now, participant=participant, refused=refused)
        context = {"page": page, "now": now, "forms": forms}
        return render(request, "participant.html", context, status_code=400)
    process_page = progress.process_page(db, definition.id, now=now)
    assert process_page is not None  # the definition was found
    forms = forms_for(definition, now, refused=refused)
    context = {"page": process_page, "now": now, "forms": forms}
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
    notice = f"{_name(definition, participant)}, «{_title(definition, step_id)}»: {recorded}."
    return notice + (f" Status nå: {where}." if where and where != recorded else "")


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
    definition = _definition(db, process_id)
    participant, reason = participant.strip(), reason.strip()
    values = {"deadline": deadline, "participant": participant, "reason": reason}
    form = f"frist-{step_id}" + (f"-{participant}" if back == BACK_PARTICIPANT else "")
    try:
        new = action_texts.parse_day(deadline, "den nye fristen")
        if not reason:
            raise ValueError("Skriv en begrunnelse: den står i meldingen til deltakerne.")
        if len(reason) > MAX_REASON:
            raise ValueError(f"Begrunnelsen er for lang (høyst {MAX_REASON} tegn).")
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
    who = f"for {_name(definition, participant)}" if participant else "for alle deltakerne"
    notice = f"Ny frist for «{_title(definition, step_id)}» {who}: {labels.fmt_date(new)}."
    if warning := action_texts.not_a_working_day(new):
        notice += " " + warning
    next_up = upcoming(db, definition, now, participant=participant or None, step=step_id)
    return done(request, _target(process_id, back, participant), notice, next_up)


# --- 2. an answer received outside the system -------------------------------------------------


def _received_at(text: str, now: datetime, step: RequestStep) -> datetime:
    """The instant an answer counts as received: now when it came today, else noon that day."""
    day = action_texts.parse_day(text, "datoen svaret kom")
    today = now.astimezone(OSLO).date()
    if day > today:
        raise ValueError("Datoen svaret kom kan ikke være fram i tid.")
    if day < step.opens:
        opened = labels.fmt_date(step.opens)
        raise ValueError(f"Datoen svaret kom kan ikke være før steget åpnet ({opened}).")
    return now if day == today else datetime.combine(day, time(12), tzinfo=OSLO)


@router.post("/processes/{process_id}/steps/{step_id}/answer")
async def register_letter(
    request: Request, process_id: str, step_id: str, db: Db, now: Now, admin: Admin
) -> Response:
    definition = await run_in_threadpool(_definition, db, process_id)
    try:
        step = definition.step(step_id)
    except KeyError:
        raise HTTPException(404, f"Prosessen har ikke steget «{step_id}».") from None
    if not isinstance(step, RequestStep):
        raise HTTPException(404, f"Steget «{step.title}» tar ikke imot svar.")
    themes = definition.themes_of(step)
    try:
        posted = await read_form(request, themes, extra=ANSWER_FIELDS)
    except _TooLarge:
        raise HTTPException(413, "Filene er for store til sammen. Send færre om gangen.") from None
    except MultiPartException:
        raise HTTPException(
            400, "Skjemaet kunne ikke leses. Last inn siden og prøv igjen."
        ) from None
    check_csrf(request, posted.fields["csrf_token"])
    participant = posted.fields["participant"].strip()
    back = posted.fields["back"]
    general = posted.fields[GENERAL_FIELD]
    texts = {t: v for t, v in posted.texts.items() if v.strip()}
    if general.strip():
        texts[GENERAL] = general
    values = {FIELD_PREFIX + t: v for t, v in posted.texts.items()}
    values |= {GENERAL_FIELD: general, "received": posted.fields["received"]}
    form = f"svar-{step_id}"
    try:
        at = _received_at(posted.fields["received"], now, step)
        if posted.too_long:
            raise ValueError("En av tekstene er for lang (høyst 100 000 tegn).")
        problems = file_problems(wording("nb"), posted.files, kept=0)
        if problems:
            raise ValueError(" ".join(problems))
        if not texts and not posted.files:
            raise InnspillError("the answer is empty")
        answer = await run_in_threadpool(
            _save_answer, db, definition, step_id, participant, texts, posted.files, at, admin
        )
    except (ValueError, InnspillError) as exc:
        db.rollback()
        text = action_texts.refusal(str(exc)) if isinstance(exc, InnspillError) else str(exc)
        if posted.files:
            text += " " + wording("nb")["choose_again"]
        refused = Refused(form, text, values, files_dropped=bool(posted.files))
        return await run_in_threadpool(
            again, request, db, now, definition, back=back, participant=participant, refused=refused
        )
    name, files = _name(definition, participant), len(posted.files)
    notice = (
        f"Svaret fra {name} på «{step.title}» er registrert som versjon {answer} "
        f"(mottatt {labels.fmt_date(at)}"
        + (f", {files} vedlegg" if files else "")
        + "). Det teller med i status og i neste sammenstilling."
    )
    next_up = await run_in_threadpool(upcoming, db, definition, now, participant=participant)
    return done(request, _target(process_id, back, participant), notice, next_up)


def _save_answer(
    db: Session,
    definition: ProcessDefinition,
    step_id: str,
    participant: str,
    texts: dict[str, str],
    files: list[tuple[str, bytes]],
    at: datetime,
    admin: User,
) -> int:
    """`innspill answer add`'s two calls, in one transaction: the version, then its files."""
    answer = register_answer(
        db,
        definition,
        step_id=step_id,
        participant_id=participant,
        texts=texts or {GENERAL: "(se vedlegg)"},
        at=at,
        channel="registered",
        registered_by=admin.username,
    )
    for filename, data in files:
        attach_file(db, answer, filename=filename, data=data)
    db.commit()
    return answer.version


# --- 3. a body's treatment of the draft, attendance at a meeting ------------------------------


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
    definition = _definition(db, process_id)
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
            raise ValueError("Velg hvor langt behandlingen har kommet.")
        if len(decision) > MAX_DECISION:
            raise ValueError(f"Vedtaket er for langt (høyst {MAX_DECISION} tegn).")
        wanted = TreatmentState(state)
        row = set_treatment(
            db,
            definition,
            step_id=step_id,
            participant_id=participant,
            state=wanted,
            now=now,
            meeting_date=_optional_day(meeting_date, "datoen for møtet")
            if wanted == TreatmentState.ON_AGENDA
            else None,
            decided_on=_optional_day(decided_on, "datoen for behandlingen")
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
    next_up = upcoming(db, definition, now, participant=participant, step=step_id)
    return done(request, _target(process_id, back, participant), notice, next_up)


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
    definition = _definition(db, process_id)
    participant = participant.strip()
    values = {"participant": participant, "attended": attended}
    form = f"oppmote-{step_id}"
    try:
        if attended not in ("yes", "no"):
            raise ValueError("Velg om deltakeren møtte eller ikke.")
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
    next_up = upcoming(db, definition, now, participant=participant, step=step_id)
    return done(request, _target(process_id, back, participant), notice, next_up)
