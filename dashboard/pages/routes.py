"""The read pages: the overview, a process, a participant, the message log (and its CSV)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session
from starlette.responses import Response

from innspill.dashboard.actions import forms as action_forms
from innspill.dashboard.actions.forms import Refused
from innspill.dashboard.deps import current_user, get_db, get_now, render
from innspill.dashboard.documents import pages as documents
from innspill.dashboard.labels import MESSAGE_KINDS, MESSAGE_STATUSES
from innspill.dashboard.pages import csv_export, progress, queries
from innspill.dashboard.pages import participant as participant_model
from innspill.dashboard.pages.message_counts import message_counts
from innspill.dashboard.pages.names import names_of
from innspill.i18n import _
from innspill.process.loading import get_definition

Db = Annotated[Session, Depends(get_db)]
Now = Annotated[datetime, Depends(get_now)]

pages = APIRouter(dependencies=[Depends(current_user)])


@pages.get("/")
def overview(request: Request, db: Db, now: Now) -> Response:
    rows = queries.overview(db, now=now)
    return render(request, "overview.html", {"rows": rows, "now": now})


@pages.get("/processes/{process_id}")
def process(request: Request, process_id: str, db: Db, now: Now) -> Response:
    return render(request, "process.html", process_view(db, process_id, now))


def process_view(
    db: Session, process_id: str, now: datetime, *, refused: Refused | None = None
) -> dict[str, Any]:
    """What the process page shows: the GET, and an action refused on it, render the same."""
    page = progress.process_page(db, process_id, now=now)
    if page is None:
        raise HTTPException(404, _("Fant ingen prosess med id «%(id)s».", id=process_id))
    definition = get_definition(db, process_id)
    forms = action_forms.forms_for(definition, now, refused=refused)
    docs = documents.process_context(db, definition, now)
    names = names_of(db, [process_id])
    return {"page": page, "now": now, "forms": forms, "names": names} | docs


@pages.get("/processes/{process_id}/matrix.csv")
def process_csv(process_id: str, db: Db, now: Now) -> Response:
    page = progress.process_page(db, process_id, now=now)
    if page is None:
        raise HTTPException(404, _("Fant ingen prosess med id «%(id)s».", id=process_id))
    return csv_export.response(csv_export.matrix_rows(page), filename=f"{process_id}-matrise.csv")


@pages.get("/processes/{process_id}/participants/{key}")
def participant(request: Request, process_id: str, key: str, db: Db, now: Now) -> Response:
    return render(request, "participant.html", participant_view(db, process_id, key, now))


def participant_view(
    db: Session, process_id: str, key: str, now: datetime, *, refused: Refused | None = None
) -> dict[str, Any]:
    """What a participant's page shows: the GET, and an action refused on it, render the same."""
    page = participant_model.participant_page(db, process_id, key, now=now)
    if page is None:
        raise HTTPException(
            404,
            _("Fant ingen deltaker «%(key)s» i prosessen «%(id)s».", key=key, id=process_id),
        )
    definition = get_definition(db, process_id)
    forms = action_forms.forms_for(definition, now, participant=key, refused=refused)
    files = documents.answer_files(db, process_id, key)
    names = names_of(db, [process_id])
    return {"page": page, "now": now, "forms": forms, "files": files, "names": names}


def _filter(
    process: str | None, kind: str | None, status: str | None, participant: str | None
) -> queries.MessageFilter:
    def clean(value: str | None) -> str | None:
        value = (value or "").strip()
        return value or None

    kind, status = clean(kind), clean(status)
    if kind and kind not in MESSAGE_KINDS:
        raise HTTPException(400, f"Ukjent meldingstype «{kind}».")
    if status and status not in MESSAGE_STATUSES:
        raise HTTPException(400, f"Ukjent status «{status}».")
    return queries.MessageFilter(clean(process), kind, status, clean(participant))


FilterText = Annotated[str | None, Query(max_length=100)]


@pages.get("/messages")
def messages(
    request: Request,
    db: Db,
    now: Now,
    process: FilterText = None,
    kind: FilterText = None,
    status: FilterText = None,
    participant: FilterText = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    flt = _filter(process, kind, status, participant)
    rows, total = queries.messages_page(db, flt, page=page)
    names = names_of(db)
    size = queries.PAGE_SIZE
    pages_total = max(1, -(-total // size))
    params = flt.params()

    def link(number: int) -> str:
        return "/messages?" + urlencode(params | {"page": str(number)})

    return render(
        request,
        "messages.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": pages_total,
            "first": (page - 1) * size + 1 if rows else 0,
            "last": (page - 1) * size + len(rows),
            "previous_url": link(page - 1) if page > 1 else None,
            "next_url": link(page + 1) if page < pages_total else None,
            "csv_url": "/messages.csv" + ("?" + urlencode(params) if params else ""),
            "filter": flt,
            "processes": queries.process_ids(db),
            "queue": _queue(request, now),
            "counts": message_counts(db, flt),
            "names": names,
            "people": names.choices(flt.process),
        },
    )


def _queue(request: Request, now: datetime) -> Any:
    """The outbox's queue and the relay's pace (the same as `innspill status` shows)."""
    from innspill.outbound.pace import Limits
    from innspill.outbound.queue import queue
    from innspill.outbound.transport import transport_for

    settings = request.app.state.settings
    return queue(
        request.app.state.engine,
        now=now,
        at=now,
        relay=transport_for(settings).relay,
        limits=Limits.from_settings(settings),
    )


@pages.get("/messages.csv")
def messages_csv(
    request: Request,
    process: FilterText = None,
    kind: FilterText = None,
    status: FilterText = None,
    participant: FilterText = None,
) -> StreamingResponse:
    flt = _filter(process, kind, status, participant)
    return csv_export.response(
        csv_export.message_rows(request.app.state.engine, flt), filename="meldingslogg.csv"
    )
