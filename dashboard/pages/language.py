"""The interface's language: the user's choice of bokmål or nynorsk, kept in a cookie.

`Language` (an ASGI middleware) sets the language of each request from the cookie before any
route runs, so that texts made in code (notices, labels, refusals) and the templates speak it;
the answer form then speaks the participant's language instead (innspill.dashboard.answer).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from innspill import i18n
from innspill.dashboard.auth import csrf_ok
from innspill.dashboard.auth.signin_pages import _safe_next

COOKIE = "innspill_lang"
ONE_YEAR = 365 * 24 * 3600

router = APIRouter()


class Language:
    """Sets the request's language (innspill.i18n) from the cookie; bokmål without one."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = ""
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                cookies = value.decode("latin-1")
        with i18n.using(cookie_parser(cookies).get(COOKIE)):
            await self.app(scope, receive, send)


@router.post("/language", include_in_schema=False)
def choose(
    request: Request,
    language: Annotated[str, Form(max_length=8)] = "",
    return_to: Annotated[str, Form(max_length=2000)] = "/",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Keep the choice (the header's switch) in a cookie and go back to the page it was made
    on. Another language is refused (400), and so is a form without the session's CSRF token
    (403), as every form of the dashboard."""
    if language not in i18n.LANGUAGES:
        raise HTTPException(400, i18n.gettext("Velg bokmål eller nynorsk."))
    if not csrf_ok(request, csrf_token):
        raise HTTPException(403, i18n.gettext("Skjemaet var utløpt. Last inn siden og prøv igjen."))
    response = RedirectResponse(_safe_next(return_to), status_code=303)
    secure = bool(request.app.state.settings.dashboard_secure_cookie)
    response.set_cookie(
        COOKIE, language, max_age=ONE_YEAR, httponly=True, samesite="lax", secure=secure
    )
    return response
