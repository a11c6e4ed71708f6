"""The app factory: settings in, a FastAPI app with its database, sessions and pages out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innspill.config.settings import Settings, get_settings
from innspill.dashboard.actions import answer as actions_answer
from innspill.dashboard.actions import compile_cancel
from innspill.dashboard.actions import load as load_upload
from innspill.dashboard.actions import mail as mail_actions
from innspill.dashboard.actions import steps as actions_steps
from innspill.dashboard.answer import files as step_files
from innspill.dashboard.answer import form as answer_form
from innspill.dashboard.auth import SignInLimit, secret_key, signin_pages, users
from innspill.dashboard.deps import NotSignedIn, render
from innspill.dashboard.documents import extract as documents_extract
from innspill.dashboard.documents import pages as documents
from innspill.dashboard.pages import inbox as inbox_pages
from innspill.dashboard.pages import journal as journal_pages
from innspill.dashboard.pages import language, message_view, process_pages, routes
from innspill.dashboard.serving.limits import BodyLimit
from innspill.i18n import N_
from innspill.i18n import gettext as _
from innspill.models.db import make_engine, migrate

STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "innspill_session"

SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds the security headers to every response (a plain ASGI middleware: cheap)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}  # a route's own value wins
                headers += [h for h in SECURITY_HEADERS if h[0] not in present]
                if not scope["path"].startswith("/static/") and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class Dashboard(FastAPI):
    """The app with the security headers and the body limits outside all of Starlette's own
    layers, so that they hold for every response: a 413 sent before the session is read, and
    even the 500 that Starlette's error middleware (the outermost layer otherwise) sends."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(language.Language(BodyLimit(super().build_middleware_stack())))


def create_app(settings: Settings | None = None) -> FastAPI:
    """The dashboard for the database the settings name (migrated to the newest schema)."""
    settings = settings or get_settings()
    url = settings.resolved_database_url
    migrate(url)
    engine = make_engine(url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = Dashboard(
        title="innspill – fremdrift",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.signin_limit = SignInLimit()  # counted in the database: shared by processes
    # The cookie is signed and carries the session's id and CSRF token; whether the session
    # is still live is decided by its row on the server (dashboard_session).
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(settings),
        session_cookie=SESSION_COOKIE,
        max_age=settings.dashboard_session_hours * 3600,
        same_site="lax",
        https_only=settings.dashboard_secure_cookie,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(signin_pages.router)  # sign in and out, /healthz
    app.include_router(language.router)  # bokmål or nynorsk: /language/nn?next=...
    app.include_router(routes.pages)
    app.include_router(users.router)  # user management: administrators only
    app.include_router(actions_steps.router)  # deadlines, treatment, attendance
    app.include_router(compile_cancel.router)  # a compilation now, a meeting cancelled
    app.include_router(actions_answer.router)  # answers that came by letter
    app.include_router(process_pages.router)  # what goes out next, the event log
    app.include_router(load_upload.router)  # load an edited process file: administrators only
    app.include_router(answer_form.router)  # participants' form: the token, no sign-in
    app.include_router(step_files.router)  # the files sent with an invitation, by the token
    app.include_router(inbox_pages.pages)  # the holding queue
    app.include_router(inbox_pages.actions)
    app.include_router(message_view.router)  # one outgoing message as sent
    app.include_router(documents.pages)  # documents and answer files to download
    app.include_router(documents.actions)
    app.include_router(documents_extract.router)  # the Noark 5 extract: administrators only
    app.include_router(mail_actions.router)  # resend a failed message, remind one now
    app.include_router(journal_pages.router)  # a process's journal, the public journal

    @app.exception_handler(NotSignedIn)
    async def to_login(request: Request, _: NotSignedIn) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        suffix = "" if target == "/" else f"?next={quote(target, safe='')}"
        return RedirectResponse(f"/login{suffix}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {
            400: _("Ugyldig forespørsel"),
            403: _("Ikke tillatt"),
            404: _("Fant ikke siden"),
            405: _("Ikke tillatt"),
            409: _("Kan ikke gjøres nå"),
        }
        standard = {"Not Found": N_("Adressen finnes ikke."), "Method Not Allowed": ""}
        detail = exc.detail if isinstance(exc.detail, str) and exc.status_code < 500 else ""
        detail = (
            _(standard[detail])
            if standard.get(detail)
            else ("" if detail in standard else _(detail))
        )
        return render(
            request,
            "error.html",
            {"title": titles.get(exc.status_code, _("Feil")), "detail": detail},
            status_code=exc.status_code,
        )

    @app.exception_handler(DataError)  # PostgreSQL: a NUL in a form's text, say
    @app.exception_handler(OverflowError)  # SQLite: a number past 2^63 - 1 in a form
    async def unstorable(request: Request, exc: Exception) -> Response:
        return render(
            request,
            "error.html",
            {
                "title": _("Ugyldig forespørsel"),
                "detail": _(
                    "Skjemaet har en verdi som ikke kan lagres eller slås opp, "
                    "for eksempel et kontrolltegn eller et altfor stort tall."
                ),
            },
            status_code=400,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return render(
            request,
            "error.html",
            {"title": _("Ugyldig forespørsel"), "detail": _("Adressen har en ugyldig verdi.")},
            status_code=400,
        )

    return app
