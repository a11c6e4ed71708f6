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
from innspill.dashboard.actions.common import (
    Admin,
    CsrfToken,
    Db,
    Now,
    Upcoming,
    check_csrf,
    done,
    refused,
)
from innspill.dashboard.actions.common import upcoming as forecast
from innspill.dashboard.deps import RowId, require_admin
from innspill.errors import UnknownProcess
from innspill.i18n import N_, Labels, _
from innspill.models import OutboxMessage
from innspill.outbound.compose import Outgoing
from innspill.outbound.remind import ReminderRefused, remind_now
from innspill.outbound.resend import ResendRefused, resend
from innspill.process.definition import ProcessDefinition
from innspill.process.loading import get_definition

router = APIRouter(dependencies=[Depends(require_admin)])

#: What to correct, per refusal (innspill.outbound.resend / remind), in the request's language.
REFUSALS = Labels(
    {
        "unknown": N_("Meldingen finnes ikke i utboksen."),
        "not_failed": N_("Bare en melding som har feilet, kan sendes på nytt."),
        "already_resent": N_("Meldingen er allerede sendt på nytt. Se den nye i meldingsloggen."),
        "no_participant": N_("Deltakeren er ikke lenger med i prosessen."),
        "address_failing": N_(
            "E-postadressen feiler fortsatt (meldinger til den kommer i retur). Rett adressen i "
            "prosessfilen og last den inn på nytt (innspill load), og prøv så igjen."
        ),
        "unrenderable": N_(
            "Meldingen kan fortsatt ikke lages. Rett feilen i prosessfilen (se årsaken under), "
            "last den inn på nytt og prøv igjen."
        ),
        "no_step": N_("Steget finnes ikke i prosessen."),
        "not_request": N_("Bare en innspillsrunde kan det sendes påminnelse om."),
        "not_asked": N_("Deltakeren er ikke bedt om innspill i dette steget."),
        "not_open": N_("Steget har ikke åpnet ennå. Påminnelser kan sendes når det har åpnet."),
        "closed": N_("Steget er avsluttet, og det tas ikke lenger imot innspill."),
        "answered": N_("Deltakeren har allerede svart. Det er ikke noe å minne om."),
        "not_invited": N_("Deltakeren har ikke fått invitasjonen ennå. Den sendes først."),
        "invitation_failed": N_(
            "Invitasjonen til deltakeren feilet. Send den på nytt først "
            "(under «Meldinger som feilet»)."
        ),
        "reminded_today": N_(
            "Deltakeren har alt fått en påminnelse om fristen i dag (eller invitasjonen eller et "
            "varsel om ny frist). Det sendes høyst én påminnelse per deltaker og dag; prøv igjen i "
            "morgen."
        ),
        "waiting": N_(
            "En påminnelse til deltakeren venter allerede på å bli sendt. Den går ut ved neste "
            "utsending."
        ),
    }
)


def _refused(request: Request, title: str, code: str, detail: str, back: str) -> Response:
    return refused(request, title, REFUSALS.get(code, _("Handlingen ble avvist.")), detail, back)


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
        raise HTTPException(404, _("Fant ingen melding nummer %(id)s.", id=message_id))
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
        return _refused(request, _("Meldingen ble ikke sendt på nytt"), exc.code, str(exc), target)
    carried = db.exec(select(OutboxMessage.step_key).where(OutboxMessage.carried_by == new.key))
    titles = {s.id: s.title for s in definition.steps}
    parts = [f"«{titles.get(step, step)}»" for step in carried.all()]
    db.commit()
    kind = labels.MESSAGE_KINDS.get(new.kind, new.kind).lower()
    notice = _(
        "Meldingen (%(kind)s) er lagt i utboksen på nytt til %(recipient)s (melding nr. "
        "%(id)s; den som feilet, nr. %(old)s, står igjen i loggen). Den sendes ved neste "
        "utsending.",
        kind=kind,
        recipient=new.recipient,
        id=new.id,
        old=old.id,
    )
    if parts:
        notice += " " + _(
            "Den har med seg invitasjonen til %(steps)s også, som i den som feilet.",
            steps=_(" og ").join(parts),
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
        raise HTTPException(404, _("Fant ingen prosess med id «%(id)s».", id=process_id)) from None
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
        return _refused(request, _("Påminnelsen ble ikke sendt"), exc.code, str(exc), target)
    db.commit()
    person = definition.participant(key)
    kind = labels.MESSAGE_KINDS.get(row.kind, row.kind).lower()
    notice = _(
        "En påminnelse (%(kind)s) til %(name)s er lagt i utboksen (melding nr. %(id)s). "
        "Den sendes ved neste utsending. En planlagt påminnelse samme dag sendes ikke.",
        kind=kind,
        name=person.name,
        id=row.id,
    )
    lines = [_queued_line(definition, row)]
    lines += forecast(db, definition, now, participant=key, step=row.step_key, limit=4)
    return done(request, target + "#meldinger", notice, lines)
