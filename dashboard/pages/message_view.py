"""One outgoing message as it was sent: headers, text, inert HTML and files, from its stored
raw MIME (OutboxMessage.raw), shown the same safe way as incoming mail (mail_view)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlmodel import Session, select
from starlette.responses import Response

from innspill.dashboard.actions.common import Db, Now
from innspill.dashboard.deps import RowId, current_user, render
from innspill.dashboard.documents.downloads import download, sandboxed
from innspill.dashboard.pages import mail_view
from innspill.dashboard.pages.names import names_of
from innspill.i18n import _
from innspill.models import MessageStatus, OutboxMessage
from innspill.outbound.resend import resent_as

router = APIRouter(dependencies=[Depends(current_user)])


def _message(db: Session, message_id: int) -> OutboxMessage:
    row = db.get(OutboxMessage, message_id)
    if row is None:
        raise HTTPException(404, _("Fant ingen utgående melding nr. %(id)s.", id=message_id))
    if row.carried_by:  # an invitation sent inside another step's: show the message sent
        carrier = db.exec(select(OutboxMessage).where(OutboxMessage.key == row.carried_by)).first()
        if carrier is not None:
            return carrier
    return row


@router.get("/messages/{message_id}")
def message(request: Request, message_id: RowId, db: Db, now: Now) -> Response:
    row = _message(db, message_id)
    context = {
        "row": row,
        "mail": mail_view.view(row.raw),
        "now": now,
        "names": names_of(db, [row.process_id]),
        "resent_as": resent_as(db, row) if row.status == MessageStatus.FAILED else None,
    }
    return render(request, "message.html", context)


@router.get("/messages/{message_id}/html")
def message_html(message_id: RowId, db: Db) -> Response:
    shown = mail_view.view(_message(db, message_id).raw)
    if shown.html is None:
        raise HTTPException(404, _("Meldingen har ingen HTML-del."))
    return sandboxed(shown.html)


@router.get("/messages/{message_id}/files/{index}")
def message_file(message_id: RowId, index: int, db: Db) -> Response:
    found = mail_view.attachment(_message(db, message_id).raw, index)
    if found is None:
        raise HTTPException(404, _("Meldingen har ikke vedlegg nr. %(n)s.", n=index + 1))
    return download(found[1], found[0])


@router.get("/messages/{message_id}/melding.eml")
def message_raw(message_id: RowId, db: Db) -> Response:
    return download(_message(db, message_id).raw, f"utgaaende-{message_id}.eml")
