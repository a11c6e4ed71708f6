"""User management pages for administrators: list, add, remove, set a new password."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.responses import Response

from innspill.dashboard.auth import (
    AccountError,
    active_sessions,
    create_user,
    csrf_ok,
    list_users,
    remove_user,
    set_password,
)
from innspill.dashboard.deps import get_db, get_now, render, require_admin
from innspill.i18n import N_, Labels, _
from innspill.models import Role, User

Db = Annotated[Session, Depends(get_db)]
Now = Annotated[datetime, Depends(get_now)]
Admin = Annotated[User, Depends(require_admin)]
Text = Annotated[str, Form(max_length=200)]
Password = Annotated[str, Form(max_length=1000)]

router = APIRouter(dependencies=[Depends(require_admin)])

ROLE_NAMES = Labels({Role.ADMIN: N_("Administrator"), Role.VIEWER: N_("Leser")})
FLASH = "flash"
ACCOUNT_ERRORS = Labels(
    {
        "short": N_("Passordet må ha minst 10 tegn."),
        "same_as_name": N_("Passordet kan ikke være brukernavnet."),
        "exists": N_("Det finnes alt en bruker med det navnet."),
        "bad_name": N_(
            "Et brukernavn har 1 til 80 tegn: bokstaver, sifre og . _ @ - "
            "(først en bokstav eller et siffer)."
        ),
    }
)


def _page(
    request: Request, db: Session, *, now: datetime, error: str = "", status_code: int = 200
) -> Response:
    counts = active_sessions(db, now=now)
    rows = [(user, counts.get(user.id or 0, 0)) for user in list_users(db)]
    return render(
        request,
        "users.html",
        {
            "rows": rows,
            "roles": ROLE_NAMES,
            "error": error,
            "notice": request.session.pop(FLASH, ""),
            "now": now,
        },
        status_code=status_code,
    )


def _check_csrf(request: Request, token: str) -> None:
    if not csrf_ok(request, token):
        raise HTTPException(403, _("Skjemaet var utløpt. Last inn siden og prøv igjen."))


def _done(request: Request, notice: str) -> Response:
    request.session[FLASH] = notice
    return RedirectResponse("/users", status_code=303)


@router.get("/users")
def users(request: Request, db: Db, now: Now) -> Response:
    return _page(request, db, now=now)


@router.post("/users")
def add_user(
    request: Request,
    db: Db,
    now: Now,
    username: Text = "",
    role: Text = "",
    password: Password = "",
    repeat: Password = "",
    csrf_token: Text = "",
) -> Response:
    _check_csrf(request, csrf_token)
    if role not in ROLE_NAMES:
        return _page(request, db, now=now, error=_("Velg en rolle."), status_code=400)
    if password != repeat:
        return _page(request, db, now=now, error=_("Passordene er ulike."), status_code=400)
    try:
        create_user(db, username.strip(), password, now=now, role=Role(role))
    except AccountError as exc:
        return _page(request, db, now=now, error=_norsk(exc), status_code=400)
    db.commit()
    return _done(
        request,
        _(
            "Brukeren «%(name)s» er lagt til (%(role)s).",
            name=username.strip(),
            role=ROLE_NAMES[Role(role)],
        ),
    )


@router.post("/users/{username}/remove")
def remove(
    request: Request, username: str, db: Db, now: Now, admin: Admin, csrf_token: Text = ""
) -> Response:
    _check_csrf(request, csrf_token)
    if username == admin.username:  # so an administrator always remains on the web
        return _page(request, db, now=now, error=_("Du kan ikke fjerne deg selv."), status_code=400)
    try:
        ended = remove_user(db, username)
    except AccountError:
        raise HTTPException(404, _("Fant ingen bruker «%(name)s».", name=username)) from None
    db.commit()
    return _done(
        request,
        _(
            "Brukeren «%(name)s» er fjernet; %(n)s økt(er) ble avsluttet.",
            name=username,
            n=ended,
        ),
    )


@router.post("/users/{username}/password")
def new_password(
    request: Request,
    username: str,
    db: Db,
    now: Now,
    admin: Admin,
    password: Password = "",
    repeat: Password = "",
    csrf_token: Text = "",
) -> Response:
    _check_csrf(request, csrf_token)
    if password != repeat:
        return _page(request, db, now=now, error=_("Passordene er ulike."), status_code=400)
    try:
        ended = set_password(db, username, password=password)
    except AccountError as exc:
        if exc.code == "unknown":
            raise HTTPException(404, _("Fant ingen bruker «%(name)s».", name=username)) from None
        return _page(request, db, now=now, error=_norsk(exc), status_code=400)
    db.commit()
    if username == admin.username:  # your own sessions ended too, this one included
        request.session.clear()
        return RedirectResponse("/login", status_code=303)
    return _done(
        request,
        _(
            "«%(name)s» har fått nytt passord; %(n)s økt(er) ble avsluttet.",
            name=username,
            n=ended,
        ),
    )


def _norsk(exc: AccountError) -> str:
    """The account rules, worded for the page (the exceptions speak English for the CLI)."""
    return ACCOUNT_ERRORS.get(exc.code, str(exc))
