"""Signing in and out, and the health check: the routes open to everyone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import text
from sqlmodel import Session
from starlette.responses import Response

from innspill.dashboard.auth import (
    authenticate,
    client_addresses,
    csrf_ok,
    end_session,
    signed_in,
    start_session,
)
from innspill.dashboard.deps import get_db, get_now, render
from innspill.i18n import _, ngettext

Db = Annotated[Session, Depends(get_db)]
Now = Annotated[datetime, Depends(get_now)]

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to somewhere else."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.get("/healthz", include_in_schema=False)
def healthz(db: Db) -> JSONResponse:
    db.execute(text("SELECT 1"))
    return JSONResponse({"status": "ok"})


@router.get("/login")
def login_form(request: Request, db: Db, now: Now, next: str | None = None) -> Response:
    if signed_in(db, request, now=now):
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next), "username": ""})


@router.post("/login")
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
        context["error"] = _(
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
        context["error"] = ngettext(
            "For mange mislykkede innlogginger. Vent %(n)s minutt og prøv igjen.",
            "For mange mislykkede innlogginger. Vent %(n)s minutter og prøv igjen.",
            minutes,
        ) % {"n": minutes}
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


@router.post("/logout")
def logout(
    request: Request, db: Db, now: Now, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    if signed_in(db, request, now=now) is None:  # signed out already (or the session ended)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)
    if not csrf_ok(request, csrf_token):
        raise HTTPException(403, _("Skjemaet var utløpt. Last inn siden og prøv igjen."))
    end_session(db, request)
    db.commit()
    return RedirectResponse("/login", status_code=303)
