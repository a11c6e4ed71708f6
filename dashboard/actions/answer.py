"""An administrator registers an answer that came outside the system (a letter, a mail to
someone's own address): a text per theme, general remarks, files and the date received, as
`innspill answer add` does, through the same functions (`register_answer`, `attach_file`).

The form is multipart (files), read with the answer form's limits and checks
(`answer.upload.read_form`, `file_problems`); the rest is as the other actions on steps
(`actions_steps.py`): CSRF, administrators only, the notice and the forecast, or the page again
(400) with what to correct and what was typed.
"""

from __future__ import annotations

from datetime import datetime, time

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from starlette.formparsers import MultiPartException
from starlette.responses import Response

from innspill.dashboard import labels
from innspill.dashboard.actions import texts as action_texts
from innspill.dashboard.actions.common import Admin, Db, Now, check_csrf, done
from innspill.dashboard.actions.forms import Refused
from innspill.dashboard.actions.steps import (
    again,
    definition_of,
    forecast_of,
    name_of,
    target,
)
from innspill.dashboard.answer.texts import wording
from innspill.dashboard.answer.upload import FIELD_PREFIX, TooLarge, file_problems, read_form
from innspill.dashboard.deps import require_admin
from innspill.errors import InnspillError
from innspill.i18n import _
from innspill.inbound.answers import attach_file, register_answer
from innspill.inbound.assignment import registration_notes
from innspill.inbound.intake import GENERAL
from innspill.models import User
from innspill.process.definition import ProcessDefinition, RequestStep
from innspill.process.workdays import OSLO

router = APIRouter(dependencies=[Depends(require_admin)])

GENERAL_FIELD = "generelt"
ANSWER_FIELDS = ("csrf_token", "participant", "received", GENERAL_FIELD, "back")


# --- an answer received outside the system -------------------------------------------------


def _received_at(text: str, now: datetime, step: RequestStep) -> datetime:
    """The instant an answer counts as received: now when it came today, else noon that day."""
    day = action_texts.parse_day(text, "datoen svaret kom")
    today = now.astimezone(OSLO).date()
    if day > today:
        raise ValueError(_("Datoen svaret kom kan ikke være fram i tid."))
    if day < step.opens:
        opened = labels.fmt_date(step.opens)
        raise ValueError(
            _("Datoen svaret kom kan ikke være før steget åpnet (%(date)s).", date=opened)
        )
    return now if day == today else datetime.combine(day, time(12), tzinfo=OSLO)


@router.post("/processes/{process_id}/steps/{step_id}/answer")
async def register_letter(
    request: Request, process_id: str, step_id: str, db: Db, now: Now, admin: Admin
) -> Response:
    definition = await run_in_threadpool(definition_of, db, process_id)
    try:
        step = definition.step(step_id)
    except KeyError:
        raise HTTPException(404, _("Prosessen har ikke steget «%(step)s».", step=step_id)) from None
    if not isinstance(step, RequestStep):
        raise HTTPException(404, _("Steget «%(step)s» tar ikke imot svar.", step=step.title))
    themes = definition.themes_of(step)
    try:
        posted = await read_form(request, themes, extra=ANSWER_FIELDS)
    except TooLarge:
        raise HTTPException(
            413, _("Filene er for store til sammen. Send færre om gangen.")
        ) from None
    except MultiPartException:
        raise HTTPException(
            400, _("Skjemaet kunne ikke leses. Last inn siden og prøv igjen.")
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
            raise ValueError(_("En av tekstene er for lang (høyst 100 000 tegn)."))
        problems = file_problems(wording("nb"), posted.files, kept=0)
        if problems:
            raise ValueError(" ".join(problems))
        if not texts and not posted.files:
            raise InnspillError("the answer is empty")
        answer, notes = await run_in_threadpool(
            _save_answer, db, definition, step_id, participant, texts, posted.files, at, admin, now
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
    name, files = name_of(definition, participant), len(posted.files)
    received = labels.fmt_date(at)
    if files:
        received = _("%(date)s, %(n)s vedlegg", date=received, n=files)
    notice = (
        _(
            "Svaret fra %(name)s på «%(step)s» er registrert som versjon %(version)s "
            "(mottatt %(received)s).",
            name=name,
            step=step.title,
            version=answer,
            received=received,
        )
        + " "
        + (
            _("Det teller med i status og i neste sammenstilling.")
            if not notes
            else " ".join(notes)
        )
    )
    next_up = await run_in_threadpool(
        forecast_of, db, definition, now, participant=participant, step=None
    )
    return done(request, target(process_id, back, participant), notice, next_up)


def _save_answer(
    db: Session,
    definition: ProcessDefinition,
    step_id: str,
    participant: str,
    texts: dict[str, str],
    files: list[tuple[str, bytes]],
    at: datetime,
    admin: User,
    now: datetime,
) -> tuple[int, list[str]]:
    """`innspill answer add`'s two calls, in one transaction: the version, then its files;
    with what the case officer should know about it (innspill.inbound.assignment)."""
    answer = register_answer(
        db,
        definition,
        step_id=step_id,
        participant_id=participant,
        texts=texts or {GENERAL: "(se vedlegg)"},
        at=at,
        channel="registered",
        registered_by=admin.username,
        now=max(now, at),  # journaled today, for a letter that came days ago
        registered_at=max(at, now),
    )
    for filename, data in files:
        attach_file(db, answer, filename=filename, data=data)
    db.flush()
    notes = registration_notes(db, definition, answer, now=now)
    db.commit()
    return answer.version, notes
