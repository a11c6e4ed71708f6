"""Two read pages of a process: what goes out next (the forecast) and its event log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.responses import Response

from innspill.dashboard import labels
from innspill.dashboard.deps import current_user, get_db, get_now, render
from innspill.dashboard.pages import forecast_view
from innspill.errors import UnknownProcess
from innspill.i18n import _
from innspill.models import Event
from innspill.planning.forecast import WORKING_DAYS_AHEAD, cached_forecast
from innspill.planning.state import load_state
from innspill.process.definition import ProcessDefinition
from innspill.process.loading import get_definition

Db = Annotated[Session, Depends(get_db)]
Now = Annotated[datetime, Depends(get_now)]
FilterText = Annotated[str | None, Query(max_length=100)]

router = APIRouter(dependencies=[Depends(current_user)])

EVENTS_PER_PAGE = 50


def _definition(db: Session, process_id: str) -> ProcessDefinition:
    try:
        return get_definition(db, process_id)
    except UnknownProcess:
        raise HTTPException(404, _("Fant ingen prosess med id «%(id)s».", id=process_id)) from None


@router.get("/processes/{process_id}/next")
def next_up(request: Request, process_id: str, db: Db, now: Now) -> Response:
    definition = _definition(db, process_id)
    planned = cached_forecast(definition, load_state(db, definition), now)
    days = forecast_view.group(definition, planned, now)
    return render(
        request,
        "next.html",
        {
            "definition": definition,
            "days": days,
            "working_days": WORKING_DAYS_AHEAD,
            "sends": sum(1 for p in planned if p.action.sends),
            "skips": sum(1 for p in planned if p.action.skip_reason),
            "now": now,
        },
    )


@router.get("/processes/{process_id}/events")
def events(
    request: Request,
    process_id: str,
    db: Db,
    kind: FilterText = None,
    participant: FilterText = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    definition = _definition(db, process_id)
    kind = (kind or "").strip() or None
    participant = (participant or "").strip() or None
    kinds = sorted(
        db.exec(select(Event.kind).where(Event.process_id == process_id).distinct()).all(),
        key=labels.event_kind,
    )
    if kind and kind not in kinds and labels.event_kind(kind) == kind:
        raise HTTPException(
            400, _("Ukjent hendelsestype «%(kind)s». Velg en type fra listen.", kind=kind)
        )
    people = {p.id: p.name for p in definition.participants}
    conditions = [Event.process_id == process_id]
    if kind:
        conditions.append(Event.kind == kind)
    if participant:
        conditions.append(Event.participant_key == participant)
    total = db.exec(select(func.count()).select_from(Event).where(*conditions)).one()
    rows = db.exec(
        select(Event)
        .where(*conditions)
        .order_by(col(Event.at).desc(), col(Event.id).desc())
        .offset((page - 1) * EVENTS_PER_PAGE)
        .limit(EVENTS_PER_PAGE)
    ).all()
    pages = max(1, -(-total // EVENTS_PER_PAGE))
    params = {k: v for k, v in (("kind", kind), ("participant", participant)) if v}
    base = f"/processes/{process_id}/events?"

    def link(number: int) -> str:
        return base + urlencode(params | {"page": str(number)})

    steps = {s.id: s.title for s in definition.steps}
    return render(
        request,
        "events.html",
        {
            "definition": definition,
            "rows": rows,
            "total": total,
            "page": page,
            "pages": pages,
            "first": (page - 1) * EVENTS_PER_PAGE + 1 if rows else 0,
            "last": (page - 1) * EVENTS_PER_PAGE + len(rows),
            "previous_url": link(page - 1) if page > 1 else None,
            "next_url": link(page + 1) if page < pages else None,
            "kinds": [(k, labels.event_kind(k)) for k in kinds],
            "kind": kind,
            "participant": participant,
            "people": people,
            "steps": steps,
            "system": labels.SYSTEM_ACTOR,
        },
    )
