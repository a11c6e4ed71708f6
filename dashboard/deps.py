"""What the routes depend on: the clock, a database session, the signed-in user, the templates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlmodel import Session
from starlette.responses import Response

from innspill.dashboard import labels
from innspill.dashboard.auth import csrf_token, find_user, session_user

TEMPLATES = Path(__file__).resolve().parent / "templates"


def get_now() -> datetime:
    """The wall clock: where time enters the dashboard (tests override this dependency)."""
    return datetime.now(UTC)


def get_db(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


class NotSignedIn(Exception):
    """The request has no valid session: the app answers with a redirect to /login."""


def current_user(request: Request, db: Session = Depends(get_db)) -> str:  # noqa: B008
    """The signed-in user's name; an account deleted since sign-in no longer counts."""
    username = session_user(request)
    if username is None or find_user(db, username) is None:
        raise NotSignedIn
    return username


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.filters["nbdate"] = labels.fmt_date
    env.filters["nbdatetime"] = labels.fmt_datetime
    env.filters["countdown"] = labels.countdown
    env.globals["labels"] = labels
    env.globals["STEP_KINDS"] = labels.STEP_KINDS
    env.globals["STEP_STATES"] = labels.STEP_STATES
    env.globals["MESSAGE_KINDS"] = labels.MESSAGE_KINDS
    env.globals["MESSAGE_STATUSES"] = labels.MESSAGE_STATUSES
    env.globals["ROLES"] = labels.ROLES
    env.globals["CHANNELS"] = labels.CHANNELS
    return templates


templates = _templates()


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> Response:
    """A page from the templates, with what every page needs (user, CSRF token, links)."""
    settings = request.app.state.settings
    prefect = settings.prefect_ui_url.rstrip("/") if settings.prefect_ui_url else None
    base = {
        "user": session_user(request),
        "csrf_token": csrf_token(request),
        "prefect_runs_url": f"{prefect}/runs" if prefect else None,
    }
    return templates.TemplateResponse(
        request, name, base | (context or {}), status_code=status_code
    )
