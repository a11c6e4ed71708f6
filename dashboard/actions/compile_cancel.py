"""Two actions that needed the command line: make a compilation now, cancel a meeting.

"Lag sammenstilling nå" calls `compile_now`, as `innspill compile` does: a new version of the
step's compilation from the answers received by now (the next tick sends it to the drafters),
or nothing when the latest version has every answer. "Avlys møtet" calls `cancel_meeting`, as
`innspill cancel-meeting` does (the same as `cancelled = true` in the file and a load): the next
tick sends everyone invited a calendar CANCEL with the invitation's UID. Both are POSTs with
the CSRF token from an administrator (viewers get 403), logged with the user's name
(`compilation_made`, `process_updated`); a refusal is a 400 page that says why in bokmål.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from starlette.responses import Response

from innspill.dashboard import labels
from innspill.dashboard.actions.common import (
    Admin,
    CsrfToken,
    Db,
    Now,
    check_csrf,
    done,
    refused,
    upcoming,
)
from innspill.dashboard.actions.steps import definition_of
from innspill.dashboard.deps import require_admin
from innspill.documents.compile_now import compile_now
from innspill.errors import InnspillError
from innspill.i18n import N_, Labels, _
from innspill.process.definition import CompilationStep, MeetingStep, ProcessDefinition
from innspill.process.meeting_cancel import CancelRefused, cancel_meeting
from innspill.process.workdays import OSLO
from innspill.status import Phrase

router = APIRouter(dependencies=[Depends(require_admin)])


T = TypeVar("T")


def _step(definition: ProcessDefinition, step_id: str, kind: type[T], missing: str) -> T:
    """The step, or 404 with `missing` (a catalog id with %(step)s and %(process)s)."""
    step = next((s for s in definition.steps if s.id == step_id), None)
    if not isinstance(step, kind):
        raise HTTPException(404, _(missing, step=step_id, process=definition.id))
    return step


@router.post("/processes/{process_id}/steps/{step_id}/compile")
def make_compilation_now(
    request: Request,
    process_id: str,
    step_id: str,
    db: Db,
    now: Now,
    admin: Admin,
    csrf_token: CsrfToken = "",
) -> Response:
    check_csrf(request, csrf_token)
    definition = definition_of(db, process_id)
    missing = N_("Fant ingen sammenstilling «%(step)s» i prosessen «%(process)s».")
    step = _step(definition, step_id, CompilationStep, missing)
    back = f"/processes/{process_id}#dok-{step_id}"
    source = definition.step(step.source).title
    try:
        compiled = compile_now(db, definition, step_id, now=now, by=admin.username)
    except InnspillError as exc:
        db.rollback()
        what = _(
            "Ingen har svart på «%(source)s» ennå, så det er ingenting å sammenstille.",
            source=source,
        )
        return refused(request, _("Sammenstillingen ble ikke laget"), what, str(exc), back)
    document = compiled.document
    if not compiled.made:
        db.rollback()
        what = _(
            "Versjon %(version)s av %(made)s har alle svarene som er kommet. Det lages en ny "
            "versjon når det kommer flere.",
            version=document.version,
            made=labels.fmt_datetime(document.created_at),
        )
        return refused(request, _("Ingen ny sammenstilling"), what, "", back)
    db.commit()
    made = Phrase(
        "compiled",
        version=document.version,
        made=document.created_at.astimezone(OSLO),
        summary=document.note,
    )
    notice = _(
        "Sammenstillingen «%(title)s» er laget: %(made)s. Den sendes til utrederne ved neste "
        "utsending.",
        title=step.title,
        made=labels.translate(made).text,
    )
    next_up = upcoming(db, definition, now, step=step_id, limit=4)
    return done(request, back, notice, next_up)


#: Why a meeting was not cancelled (innspill.process.meeting_cancel), from the catalogs.
CANCEL_REFUSALS = Labels(
    {
        "cancelled": N_("Møtet er allerede avlyst."),
        "started": N_("Møtet har allerede begynt (eller er holdt), og kan ikke avlyses."),
        "ended": N_("Prosessen er avsluttet. Det sendes ikke flere meldinger i den."),
    }
)


@router.post("/processes/{process_id}/steps/{step_id}/cancel")
def cancel_the_meeting(
    request: Request,
    process_id: str,
    step_id: str,
    db: Db,
    now: Now,
    admin: Admin,
    csrf_token: CsrfToken = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    definition = definition_of(db, process_id)
    missing = N_("Fant ingen møte «%(step)s» i prosessen «%(process)s».")
    step = _step(definition, step_id, MeetingStep, missing)
    back = f"/processes/{process_id}#steg-{step_id}"
    if confirm != "yes":
        what = _("Kryss av for at møtet skal avlyses. Ingenting er endret.")
        return refused(request, _("Møtet ble ikke avlyst"), what, "", back)
    try:
        cancel_meeting(db, definition, step_id, now=now, by=admin.username)
    except CancelRefused as exc:
        db.rollback()
        what = CANCEL_REFUSALS.get(exc.code, _("Møtet kan ikke avlyses."))
        return refused(request, _("Møtet ble ikke avlyst"), what, str(exc), back)
    db.commit()
    notice = _(
        "«%(title)s» %(day)s er avlyst. Alle som er invitert, får en avlysning ved neste "
        "utsending, som fjerner møtet fra kalenderen deres. Sett også cancelled = true for "
        "steget i prosessfilen, så møtet ikke kommer tilbake neste gang filen lastes inn.",
        title=step.title,
        day=labels.fmt_date(step.date),
    )
    fresh = definition_of(db, process_id)
    next_up = upcoming(db, fresh, now, step=step_id, limit=4)
    return done(request, back, notice, next_up)
