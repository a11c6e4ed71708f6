"""What the routes depend on: the clock, the database, the signed-in user and role, templates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.templating import Jinja2Templates
from sqlmodel import Session
from starlette.responses import Response

from innspill import i18n
from innspill.dashboard import labels
from innspill.dashboard.auth import csrf_token, signed_in
from innspill.dashboard.pages.english import say
from innspill.i18n import N_
from innspill.models import Role, User

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: An id in an address (`/documents/{document_id}`, `/messages/{message_id}/resend`, ...):
#: what fits the column (BIGINT on PostgreSQL, INTEGER on SQLite: both at most 2^63 - 1).
#: Anything larger cannot even be looked up (SQLite's driver raises, PostgreSQL's refuses
#: to compare), so it gets the 400 of any address with an invalid value.
RowId = Annotated[int, PathParam(ge=0, le=2**63 - 1)]


def get_now() -> datetime:
    """The wall clock: where time enters the dashboard (tests override this dependency)."""
    return datetime.now(UTC)


def get_db(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


class NotSignedIn(Exception):
    """The request has no valid session: the app answers with a redirect to /login."""


def current_user(
    request: Request,
    db: Session = Depends(get_db),  # noqa: B008
    now: datetime = Depends(get_now),  # noqa: B008
) -> User:
    """The signed-in user: the cookie's session must be live on the server (not signed out,
    expired, or ended by a password change or the user's removal)."""
    user = signed_in(db, request, now=now)
    if user is None:
        raise NotSignedIn
    request.state.user = user  # for render(): the header shows who is signed in
    return user


def require_admin(user: User = Depends(current_user)) -> User:  # noqa: B008
    """Only an administrator may act: a viewer gets 403 (reading needs current_user only)."""
    if user.role != Role.ADMIN:
        raise HTTPException(403, N_("Bare administratorer kan gjøre dette. Du kan bare lese."))
    return user


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    # The texts are translated when rendered, in the language of the request (innspill.i18n):
    # newstyle gettext, so `_("%(n)s sendt", n=...)` escapes its values and always formats.
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext,
        i18n.ngettext,
        newstyle=True,
        pgettext=i18n.pgettext,
        npgettext=i18n.npgettext,
    )
    env.globals["LANGUAGES"] = i18n.NAMES
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
    env.globals["SKIP_REASONS"] = labels.SKIP_REASONS
    env.globals["say_note"] = say  # the domain's English notes, said in the page's language
    return templates


templates = _templates()


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> Response:
    """A page from the templates, with what every page needs (user, CSRF token, links), in the
    language of the request (the user's choice) or the one the context gives (`lang`: the
    answer form speaks the participant's)."""
    settings = request.app.state.settings
    prefect = settings.prefect_ui_url.rstrip("/") if settings.prefect_ui_url else None
    user: User | None = getattr(request.state, "user", None)
    base = {
        "user": user.username if user else None,
        "is_admin": bool(user and user.role == Role.ADMIN),
        "csrf_token": csrf_token(request),
        "prefect_runs_url": f"{prefect}/runs" if prefect else None,
        # The result of the action that redirected here (dashboard/actions/common.py), shown once.
        "action_notice": request.session.pop("action_notice", "") if user else "",
        "action_next": request.session.pop("action_next", []) if user else [],
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    context = base | (context or {})
    with i18n.using(context.get("lang") or i18n.current()) as lang:
        context["lang"] = lang
        return templates.TemplateResponse(request, name, context, status_code=status_code)
