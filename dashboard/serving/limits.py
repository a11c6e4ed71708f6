"""Request bodies bounded per route before anything reads them, and addresses without NUL
(a plain ASGI middleware).

Every POST is held to the limit of its route: the largest body that route can take (the
answer form's files, an uploaded process file and its attachments, a draft), or a small
default for every other form. A body whose `Content-Length` says it is larger is refused with
413 before a byte of it is read; a body sent without one (chunked), or longer than it said, is
counted as it streams in and refused as soon as it passes the limit, so nothing beyond it is
read, parsed or written to a temporary file. The middleware sits outside the session and
every route (see `app.Dashboard`), so the answer is the same with a session as without one:
nobody is sent to sign in after uploading 150 MB.

An address whose path or query holds a NUL character gets 400 at once: no name or id has one,
and PostgreSQL refuses it in any text it is asked to compare.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innspill.dashboard.actions.upload_bundle import MAX_FIELD, MAX_TOTAL
from innspill.dashboard.answer import form as answer_form
from innspill.dashboard.answer.upload import MAX_BODY_BYTES
from innspill.dashboard.deps import templates
from innspill.documents.store import MAX_DRAFT_BYTES
from innspill.i18n import _, current

KB = 1024
MB = 1024 * KB
#: The parts' headers, the CSRF token and the short fields beside the files of an upload.
FORM_OVERHEAD = 256 * KB
#: Every other form: the longest text field (20,000 characters, up to 9 bytes each once
#: URL-encoded) with room to spare.
DEFAULT_LIMIT = 256 * KB

Refuse = Callable[[Request, int], Awaitable[Response]]


@dataclass(frozen=True)
class Limit:
    """The largest body a route takes, and the page that refuses a larger one (None: the
    dashboard's own error page)."""

    size: int
    refuse: Refuse | None = None


async def _answer_form_refusal(request: Request, _size: int) -> Response:
    """The participant's own refusal page, in their language (the token says whose)."""
    return await run_in_threadpool(answer_form.too_large_page, request)


#: The routes that take more than the default, by method and path as the routers declare them
#: (tests/test_body_limits.py checks that each is a route of the app).
ROUTES: dict[tuple[str, str], Limit] = {
    ("POST", "/svar/{token}"): Limit(MAX_BODY_BYTES, _answer_form_refusal),
    ("POST", "/processes/{process_id}/steps/{step_id}/answer"): Limit(MAX_BODY_BYTES),
    ("POST", "/processes/{process_id}/steps/{step_id}/drafts"): Limit(
        MAX_DRAFT_BYTES + FORM_OVERHEAD
    ),
    ("POST", "/load"): Limit(MAX_TOTAL + FORM_OVERHEAD),
    ("POST", "/load/apply"): Limit(MAX_FIELD + FORM_OVERHEAD),
}


def _size_text(size: int) -> str:
    return f"{size // MB} MB" if size >= MB else f"{size // KB} kB"


async def _dashboard_refusal(request: Request, size: int) -> Response:
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "user": None,
            "lang": current(),
            "title": _("For mye data"),
            "detail": _(
                "Det som ble sendt, er større enn denne siden tar imot (høyst %(size)s). "
                "Ingenting er lagret. Send mindre filer, eller færre om gangen.",
                size=_size_text(size),
            ),
        },
        status_code=413,
    )


class BodyTooLarge(Exception):
    """Raised into whatever reads the body once it passes the route's limit."""


async def _bad_address(request: Request, _size: int) -> Response:
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "user": None,
            "lang": current(),
            "title": _("Ugyldig forespørsel"),
            "detail": _("Adressen har en ugyldig verdi."),
        },
        status_code=400,
    )


class BodyLimit:
    """Bounds each request's body by its route's `Limit` (`ROUTES`, else `default`), and
    refuses an address with a NUL character."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: dict[tuple[str, str], Limit] | None = None,
        default: int = DEFAULT_LIMIT,
    ):
        self.app = app
        self.default = Limit(default)
        self.routes = [
            (method, compile_path(path)[0], limit)
            for (method, path), limit in (ROUTES if routes is None else routes).items()
        ]

    def limit_for(self, method: str, path: str) -> Limit:
        for route_method, pattern, limit in self.routes:
            if route_method == method and pattern.match(path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
            await _answer(scope, send, _bad_address, 0, status=400)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit.size:
            await self._refuse(scope, send, limit)  # not a byte read
            return
        received = 0
        exceeded = False
        started = False

        async def counted() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.size:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the route made of the cut-off body: ours goes out instead
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse(scope, send, limit)

    async def _refuse(self, scope: Scope, send: Send, limit: Limit) -> None:
        await _answer(scope, send, limit.refuse or _dashboard_refusal, limit.size, status=413)


async def _answer(scope: Scope, send: Send, page: Refuse, size: int, *, status: int) -> None:
    """`page`'s response with `status`, sent without reading the request's body."""

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    response = await page(Request(scope, nothing), size)
    response.status_code = status
    # The rest of the body is never read: the connection cannot carry another request.
    response.headers["connection"] = "close"
    await response(scope, nothing, send)


_DIGITS = re.compile(rb"[0-9]+")
#: Longer numbers are not converted (Python refuses 4,300 digits and more): larger than any limit.
_LONGEST = 18


def _content_length(scope: Scope) -> int | None:
    """The declared length, or None when there is none (chunked) or it is not a number (the
    server refuses those itself)."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            value = value.strip()
            if not _DIGITS.fullmatch(value):
                return None
            return int(value) if len(value) <= _LONGEST else 10**_LONGEST
    return None
