"""The holding queue in the browser: held mail listed, one message shown safely, assigned
to a participant or dismissed (the same domain functions as `innspill inbox`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from sqlmodel import Session
from starlette.responses import Response

from innspill.dashboard.actions import common as acting
from innspill.dashboard.actions.common import Admin, CsrfToken, Db, Now
from innspill.dashboard.deps import RowId, current_user, render, require_admin
from innspill.dashboard.documents.downloads import download, sandboxed
from innspill.dashboard.pages import mail_view, queries
from innspill.dashboard.pages.names import names_of
from innspill.errors import InnspillError
from innspill.i18n import N_, Labels, _
from innspill.inbound.assignment import AssignRefused, Preview, preview
from innspill.inbound.intake import assign, dismiss
from innspill.inbound.queue import listing
from innspill.models import InboundMessage
from innspill.process.loading import get_definition
from innspill.status import process_statuses

pages = APIRouter(dependencies=[Depends(current_user)])
actions = APIRouter(dependencies=[Depends(require_admin)])

STATUSES = Labels(
    {
        "held": N_("Holdt tilbake"),
        "accepted": N_("Gjort til svar"),
        "assigned": N_("Tildelt av en person"),
        "dismissed": N_("Lagt til side"),
        "bounce": N_("Returmelding"),
        "calendar": N_("Kalendersvar registrert"),
    }
)
KINDS = Labels(
    {
        "answer": N_("Svar med nøkkel"),
        "auto_reply": N_("Automatisk svar"),
        "bounce": N_("Returmelding"),
        "no_token": N_("Uten nøkkel"),
        "unparsable": N_("Kunne ikke leses"),
        "calendar": N_("Kalendersvar"),
    }
)


@dataclass(frozen=True)
class StepChoice:
    value: str  # process_id/step_id
    process_title: str
    title: str


@dataclass(frozen=True)
class PersonChoice:
    value: str  # the participant id
    process_title: str
    name: str
    email: str


def _row(db: Session, message_id: int) -> InboundMessage:
    row = db.get(InboundMessage, message_id)
    if row is None:
        raise HTTPException(404, _("Fant ingen innkommende melding nr. %(id)s.", id=message_id))
    return row


def choices(db: Session, now: datetime) -> tuple[list[StepChoice], list[PersonChoice]]:
    """The request steps that take answers now, and the participants of their processes."""
    definitions = {pid: item.definition for pid, item in queries.load_definitions(db).items()}
    steps: list[StepChoice] = []
    people: list[PersonChoice] = []
    for status in process_statuses(db, definitions, now=now, detail=False):
        definition = definitions[status.process]
        open_steps = [
            s for s in status.steps if s.kind == "request" and s.state in ("open", "overdue")
        ]
        steps += [
            StepChoice(f"{status.process}/{s.step}", status.title, s.title) for s in open_steps
        ]
        if open_steps:
            people += [
                PersonChoice(p.id, status.title, p.name, str(p.email))
                for p in definition.participants
            ]
    return steps, people


def _guess(row: InboundMessage, people: list[PersonChoice]) -> str:
    """The participant the message is already tied to, or whose address sent it."""
    if row.participant_key:
        return row.participant_key
    sender = row.sender.lower()
    return next((p.value for p in people if p.email.lower() == sender), "")


@pages.get("/inbox")
def inbox(request: Request, db: Db, now: Now, alle: Annotated[bool, Query()] = False) -> Response:
    rows = listing(db, include_all=alle)
    return render(
        request,
        "inbox.html",
        {"rows": rows, "all": alle, "now": now, "STATUSES": STATUSES, "KINDS": KINDS},
    )


def _preview(
    db: Session, row: InboundMessage, chosen: dict[str, str], now: datetime
) -> Preview | None:
    """What assigning the message to the chosen step and participant would do, if both are
    chosen and the choice is one the assignment could take."""
    process_id, _slash, step_id = chosen.get("step", "").partition("/")
    participant = chosen.get("participant", "")
    if row.status != "held" or not (process_id and step_id and participant):
        return None
    try:
        definition = get_definition(db, process_id)
        if participant not in {p.id for p in definition.audience(step_id)}:
            return None
        return preview(db, row, definition, step_id=step_id, participant_id=participant, now=now)
    except (InnspillError, KeyError):
        return None


def _material(shown: Preview) -> bool:
    """Whether the assignment does more than make a first answer: then it is shown first."""
    return bool(
        shown.current is not None
        or shown.confirm
        or shown.registered_after_close
        or shown.process_ended
    )


def _detail(
    request: Request,
    db: Session,
    row: InboundMessage,
    now: datetime,
    *,
    error: str = "",
    chosen: dict[str, str] | None = None,
    status_code: int = 200,
    notice: str = "",
) -> Response:
    steps, people = choices(db, now)
    default_step = f"{row.process_id}/{row.step_key}" if row.process_id and row.step_key else ""
    chosen = chosen or {"step": default_step, "participant": _guess(row, people)}
    shown = _preview(db, row, chosen, now)
    context: dict[str, Any] = {
        "row": row,
        "mail": mail_view.view(row.raw),
        "names": names_of(db, [row.process_id] if row.process_id else []),
        "steps": steps,
        "people": people,
        "chosen": chosen,
        "preview": shown,
        "previewed": f"{chosen.get('step', '')}|{chosen.get('participant', '')}" if shown else "",
        "notice": notice,
        "error": error,
        "now": now,
        "STATUSES": STATUSES,
        "KINDS": KINDS,
    }
    return render(request, "inbox_message.html", context, status_code=status_code)


@pages.get("/inbox/{message_id}")
def message(request: Request, message_id: RowId, db: Db, now: Now) -> Response:
    return _detail(request, db, _row(db, message_id), now)


@pages.get("/inbox/{message_id}/html")
def message_html(message_id: RowId, db: Db) -> Response:
    shown = mail_view.view(_row(db, message_id).raw)
    if shown.html is None:
        raise HTTPException(404, _("Meldingen har ingen HTML-del."))
    return sandboxed(shown.html)


@pages.get("/inbox/{message_id}/files/{index}")
def message_file(message_id: RowId, index: int, db: Db) -> Response:
    found = mail_view.attachment(_row(db, message_id).raw, index)
    if found is None:
        raise HTTPException(404, _("Meldingen har ikke vedlegg nr. %(n)s.", n=index + 1))
    return download(found[1], found[0])


@pages.get("/inbox/{message_id}/melding.eml")
def message_raw(message_id: RowId, db: Db) -> Response:
    return download(_row(db, message_id).raw, f"innkommende-{message_id}.eml")


def _norwegian(exc: InnspillError) -> str:
    """The domain's English reason as what to correct, in the request's language."""
    text = str(exc)
    if m := re.search(r"is (\w+), not held", text):
        return _(
            "Meldingen er ikke lenger holdt tilbake (%(status)s).", status=STATUSES.get(m[1], m[1])
        )
    if m := re.search(r"'(.+)' is not asked for input in step '(.+)'", text):
        return _(
            "«%(participant)s» er ikke bedt om innspill i steget «%(step)s». "
            "Velg en deltaker som er med i steget.",
            participant=m[1],
            step=m[2],
        )
    if "received after the step closed" in text:
        return _(
            "Steget tar ikke lenger imot svar (det er stengt). Skal svaret likevel telle, "
            "må det registreres for hånd."
        )
    if "could not be made an answer" in text:
        return _(
            "Meldingen har verken tekst eller godkjente vedlegg som kan bli et svar. "
            "Legg den til side, eller registrer svaret for hånd."
        )
    if "no process" in text.lower() or "unknown" in text.lower():
        return _("Fant ikke prosessen eller steget. Velg et steg i listen.")
    return _("Handlingen ble ikke utført: %(why)s", why=text)


@actions.post("/inbox/{message_id}/assign")
def assign_message(
    request: Request,
    message_id: RowId,
    db: Db,
    now: Now,
    admin: Admin,
    csrf_token: CsrfToken = "",
    step: Annotated[str, Form(max_length=200)] = "",
    participant: Annotated[str, Form(max_length=100)] = "",
    previewed: Annotated[str, Form(max_length=310)] = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    acting.check_csrf(request, csrf_token)
    row = _row(db, message_id)
    chosen = {"step": step, "participant": participant}
    process_id, _slash, step_id = step.partition("/")
    if not (process_id and step_id and participant):
        error = _("Velg både steg og deltaker.")
        return _detail(request, db, row, now, error=error, chosen=chosen, status_code=400)
    shown = _preview(db, row, chosen, now)
    if shown is not None and _material(shown) and previewed != f"{step}|{participant}":
        # Not seen for this choice yet: show what it would do, and do nothing.
        notice = _("Se over hva tildelingen gjør, og trykk «Gjør til svar» igjen.")
        return _detail(request, db, row, now, chosen=chosen, notice=notice)
    try:
        assign(
            db,
            message_id,
            process_id=process_id,
            step_id=step_id,
            participant_id=participant,
            by=admin.username,
            now=now,
            confirm=confirm == "1",
        )
    except AssignRefused as exc:
        db.rollback()
        error = _("%(why)s Kryss av i boksen ved knappen for å bekrefte.", why=exc.norwegian)
        return _detail(
            request, db, _row(db, message_id), now, error=error, chosen=chosen, status_code=400
        )
    except (InnspillError, KeyError) as exc:
        db.rollback()
        error = _norwegian(exc) if isinstance(exc, InnspillError) else _("Ukjent steg.")
        return _detail(
            request, db, _row(db, message_id), now, error=error, chosen=chosen, status_code=400
        )
    db.commit()
    definition = queries.load_definitions(db, process_id)[process_id].definition
    name = next((p.name for p in definition.participants if p.id == participant), participant)
    title = next((s.title for s in definition.steps if s.id == step_id), step_id)
    said = " ".join(shown.notes) if shown is not None and _material(shown) else ""
    return acting.done(
        request,
        "/inbox",
        _(
            "Melding nr. %(id)s er nå svaret fra %(name)s på «%(title)s». %(said)s",
            id=message_id,
            name=name,
            title=title,
            said=said,
        ).strip(),
        acting.upcoming(db, definition, now, participant=participant, limit=acting.NEXT_LINES),
    )


@actions.post("/inbox/{message_id}/dismiss")
def dismiss_message(
    request: Request, message_id: RowId, db: Db, now: Now, admin: Admin, csrf_token: CsrfToken = ""
) -> Response:
    acting.check_csrf(request, csrf_token)
    row = _row(db, message_id)
    try:
        dismiss(db, message_id, by=admin.username, now=now)
    except InnspillError:
        db.rollback()
        error = _(
            "Meldingen er ikke holdt tilbake (%(status)s).",
            status=STATUSES.get(row.status, row.status),
        )
        return _detail(request, db, row, now, error=error, status_code=400)
    db.commit()
    return acting.done(
        request,
        "/inbox",
        _(
            "Melding nr. %(id)s er lagt til side (den er tatt vare på). "
            "Ingen melding sendes på grunn av det.",
            id=message_id,
        ),
    )
