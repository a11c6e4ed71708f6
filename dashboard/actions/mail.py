"""Actions on mail in the browser: send a failed message again, remind one participant now.

Each calls the same domain function as its CLI command (`innspill resend`, `innspill remind`)
with the signed-in user as `by`; a refusal is a 400 page that says in bokmål what to correct.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from sqlmodel import select
from starlette.responses import Response

from innspill.dashboard import labels
from innspill.dashboard.actions.common import Admin, CsrfToken, Db, Now, Upcoming, check_csrf, done
from innspill.dashboard.actions.common import upcoming as forecast
from innspill.dashboard.deps import RowId, render, require_admin
from innspill.errors import UnknownProcess
from innspill.models import OutboxMessage
from innspill.outbound.compose import Outgoing
from innspill.outbound.remind import ReminderRefused, remind_now
from innspill.outbound.resend import ResendRefused, resend
from innspill.process.definition import ProcessDefinition
from innspill.process.loading import get_definition

router = APIRouter(dependencies=[Depends(require_admin)])

#: What to correct, per refusal (innspill.outbound.resend / remind), in bokmål.
REFUSALS = {
    "unknown": "Meldingen finnes ikke i utboksen.",
    "not_failed": "Bare en melding som har feilet, kan sendes på nytt.",
    "already_resent": "Meldingen er allerede sendt på nytt. Se den nye i meldingsloggen.",
    "no_participant": "Deltakeren er ikke lenger med i prosessen.",
    "address_failing": (
        "E-postadressen feiler fortsatt (meldinger til den kommer i retur). Rett adressen i "
        "prosessfilen og last den inn på nytt (innspill load), og prøv så igjen."
    ),
    "unrenderable": (
        "Meldingen kan fortsatt ikke lages. Rett feilen i prosessfilen (se årsaken under), "
        "last den inn på nytt og prøv igjen."
    ),
    "no_step": "Steget finnes ikke i prosessen.",
    "not_request": "Bare en innspillsrunde kan det sendes påminnelse om.",
    "not_asked": "Deltakeren er ikke bedt om innspill i dette steget.",
    "not_open": "Steget har ikke åpnet ennå. Påminnelser kan sendes når det har åpnet.",
    "closed": "Steget er avsluttet, og det tas ikke lenger imot innspill.",
    "answered": "Deltakeren har allerede svart. Det er ikke noe å minne om.",
    "not_invited": "Deltakeren har ikke fått invitasjonen ennå. Den sendes først.",
    "invitation_failed": (
        "Invitasjonen til deltakeren feilet. Send den på nytt først (under «Meldinger som feilet»)."
    ),
    "reminded_today": (
        "Deltakeren har alt fått en påminnelse om fristen i dag (eller invitasjonen eller et "
        "varsel om ny frist). Det sendes høyst én påminnelse per deltaker og dag; prøv igjen i "
        "morgen."
    ),
    "waiting": (
        "En påminnelse til deltakeren venter allerede på å bli sendt. Den går ut ved neste "
        "utsending."
    ),
}


def _refused(request: Request, title: str, code: str, detail: str, back: str) -> Response:
    return render(
        request,
        "action_error.html",
        {
            "title": title,
            "what": REFUSALS.get(code, "Handlingen ble avvist."),
            "detail": detail,
            "back": back,
        },
        status_code=400,
    )


def _queued_line(definition: ProcessDefinition, row: OutboxMessage) -> Upcoming:
    titles = {s.id: s.title for s in definition.steps}
    return Upcoming(
        at=row.created_at,
        kind=labels.MESSAGE_KINDS.get(row.kind, row.kind),
        step=titles.get(row.step_key, row.step_key),
        participant=definition.participant(row.participant_key).name,
        skipped="",
    )


def _participant_url(process_id: str, key: str) -> str:
    return f"/processes/{quote(process_id, safe='')}/participants/{quote(key, safe='')}"


@router.post("/messages/{message_id}/resend")
def resend_message(
    request: Request,
    message_id: RowId,
    db: Db,
    now: Now,
    admin: Admin,
    csrf_token: CsrfToken = "",
    back: Annotated[str, Form(max_length=20)] = "participant",
) -> Response:
    check_csrf(request, csrf_token)
    row = db.get(OutboxMessage, message_id)
    if row is None:
        raise HTTPException(404, f"Fant ingen melding nummer {message_id}.")
    target = {  # built here, never taken from the form: no open redirect
        "messages": "/messages?status=failed",
        "message": f"/messages/{row.id}",
    }.get(back, _participant_url(row.process_id, row.participant_key) + "#feilet")
    try:
        old, new = resend(
            db,
            message_id,
            now=now,
            by=admin.username,
            outgoing=Outgoing.from_settings(request.app.state.settings),
        )
        definition = get_definition(db, new.process_id)
    except ResendRefused as exc:
        db.rollback()
        return _refused(request, "Meldingen ble ikke sendt på nytt", exc.code, str(exc), target)
    carried = db.exec(select(OutboxMessage.step_key).where(OutboxMessage.carried_by == new.key))
    titles = {s.id: s.title for s in definition.steps}
    parts = [f"«{titles.get(step, step)}»" for step in carried.all()]
    db.commit()
    kind = labels.MESSAGE_KINDS.get(new.kind, new.kind).lower()
    notice = (
        f"Meldingen ({kind}) er lagt i utboksen på nytt til {new.recipient} (melding nr. "
        f"{new.id}; den som feilet, nr. {old.id}, står igjen i loggen). Den sendes ved neste "
        "utsending."
    )
    if parts:
        notice += (
            f" Den har med seg invitasjonen til {' og '.join(parts)} også, som i den som feilet."
        )
    lines = [_queued_line(definition, new)]
    lines += forecast(db, definition, now, participant=new.participant_key, limit=4)
    if back == "message":  # from the failed message's own page: on to the new one
        target = f"/messages/{new.id}"
    return done(request, target, notice, lines)


@router.post("/processes/{process_id}/participants/{key}/remind")
def remind_participant(
    request: Request,
    process_id: str,
    key: str,
    db: Db,
    now: Now,
    admin: Admin,
    csrf_token: CsrfToken = "",
    step: Annotated[str, Form(max_length=80)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        definition = get_definition(db, process_id)
    except UnknownProcess:
        raise HTTPException(404, f"Fant ingen prosess med id «{process_id}».") from None
    target = _participant_url(process_id, key)
    try:
        row = remind_now(
            db,
            definition,
            step,
            key,
            now=now,
            by=admin.username,
            outgoing=Outgoing.from_settings(request.app.state.settings),
        )
    except ReminderRefused as exc:
        db.rollback()
        return _refused(request, "Påminnelsen ble ikke sendt", exc.code, str(exc), target)
    db.commit()
    person = definition.participant(key)
    kind = labels.MESSAGE_KINDS.get(row.kind, row.kind).lower()
    notice = (
        f"En påminnelse ({kind}) til {person.name} er lagt i utboksen (melding nr. {row.id}). "
        "Den sendes ved neste utsending. En planlagt påminnelse samme dag sendes ikke."
    )
    lines = [_queued_line(definition, row)]
    lines += forecast(db, definition, now, participant=key, step=row.step_key, limit=4)
    return done(request, target + "#meldinger", notice, lines)
