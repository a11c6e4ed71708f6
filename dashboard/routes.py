"""The pages: sign-in and -out, the overview, a process, a participant, the message log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from sqlalchemy import text
from sqlmodel import Session
from starlette.responses import Response

from innspill.dashboard import action_forms, csv_export, documents, progress, queries
from innspill.dashboard.action_forms import Refused
from innspill.dashboard.auth import (
    authenticate,
    client_addresses,
    csrf_ok,
    end_session,
    signed_in,
    start_session,
)
from innspill.dashboard.deps import current_user, get_db, get_now, render
from innspill.dashboard.labels import MESSAGE_KINDS, MESSAGE_STATUSES
from innspill.process.loading import get_definition

Db = Annotated[Session, Depends(get_db)]
Now = Annotated[datetime, Depends(get_now)]

public = APIRouter()
pages = APIRouter(dependencies=[Depends(current_user)])


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to somewhere else."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@public.get("/healthz", include_in_schema=False)
def healthz(db: Db) -> JSONResponse:
    db.execute(text("SELECT 1"))
    return JSONResponse({"status": "ok"})


@public.get("/login")
def login_form(request: Request, db: Db, now: Now, next: str | None = None) -> Response:
    if signed_in(db, request, now=now):
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next), "username": ""})


@public.post("/login")
def login(
    request: Request,
    db: Db,
    now: Now,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    target = _safe_next(next)
    context = {"next": target, "username": username}
    if not csrf_ok(request, csrf_token):
        context["error"] = (
            "Skjemaet var utløpt eller kom ikke fra denne siden. Last inn siden og prøv igjen. "
            "(Nettleseren må tillate informasjonskapsler.)"
        )
        return render(request, "login.html", context, status_code=403)
    settings = request.app.state.settings
    limit = request.app.state.signin_limit
    addresses = client_addresses(request, settings.trusted_proxy_networks)
    attempt, wait = limit.claim(db, username, addresses=addresses, now=now)
    if wait:
        limit.release(db, attempt)
        minutes = max(1, (wait + 59) // 60)
        context["error"] = (
            f"For mange mislykkede innlogginger. Vent {minutes} minutt"
            f"{'er' if minutes > 1 else ''} og prøv igjen."
        )
        response = render(request, "login.html", context, status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response
    user = authenticate(db, username, password, now=now)
    if user is None:  # the attempt's rows stay: they are the failures that count
        context["error"] = "Feil brukernavn eller passord."
        return render(request, "login.html", context, status_code=401)
    limit.succeeded(db, username, addresses=addresses)
    lifetime = timedelta(hours=settings.dashboard_session_hours)
    start_session(db, request, user=user, now=now, lifetime=lifetime)
    db.commit()
    return RedirectResponse(target, status_code=303)


@public.post("/logout")
def logout(
    request: Request, db: Db, now: Now, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    if signed_in(db, request, now=now) is None:  # signed out already (or the session ended)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)
    if not csrf_ok(request, csrf_token):
        raise HTTPException(403, "Skjemaet var utløpt. Last inn siden og prøv igjen.")
    end_session(db, request)
    db.commit()
    return RedirectResponse("/login", status_code=303)


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
        raise HTTPException(404, f"Fant ingen prosess med id «{process_id}».")
    definition = get_definition(db, process_id)
    forms = action_forms.forms_for(definition, now, refused=refused)
    docs = documents.process_context(db, definition, now)
    return {"page": page, "now": now, "forms": forms} | docs


@pages.get("/processes/{process_id}/matrix.csv")
def process_csv(process_id: str, db: Db, now: Now) -> Response:
    page = progress.process_page(db, process_id, now=now)
    if page is None:
        raise HTTPException(404, f"Fant ingen prosess med id «{process_id}».")
    return csv_export.response(csv_export.matrix_rows(page), filename=f"{process_id}-matrise.csv")


@pages.get("/processes/{process_id}/participants/{key}")
def participant(request: Request, process_id: str, key: str, db: Db, now: Now) -> Response:
    return render(request, "participant.html", participant_view(db, process_id, key, now))


def participant_view(
    db: Session, process_id: str, key: str, now: datetime, *, refused: Refused | None = None
) -> dict[str, Any]:
    """What a participant's page shows: the GET, and an action refused on it, render the same."""
    page = progress.participant_page(db, process_id, key, now=now)
    if page is None:
        raise HTTPException(404, f"Fant ingen deltaker «{key}» i prosessen «{process_id}».")
    definition = get_definition(db, process_id)
    forms = action_forms.forms_for(definition, now, participant=key, refused=refused)
    files = documents.answer_files(db, process_id, key)
    return {"page": page, "now": now, "forms": forms, "files": files}


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
    process: FilterText = None,
    kind: FilterText = None,
    status: FilterText = None,
    participant: FilterText = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    flt = _filter(process, kind, status, participant)
    rows, total = queries.messages_page(db, flt, page=page)
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
        },
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
