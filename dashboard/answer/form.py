"""The participants' answer form: `/svar/{token}`, opened from the link in each invitation.

No sign-in: the token in the link is the key, and it opens one participant's own answer to one
request step, nothing else (no parameter selects a participant). Opening the link writes
nothing (mail scanners open links); saving is a POST with a CSRF token bound to the access
token (an HMAC with the app's secret key), and makes a new version of the answer.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from starlette.formparsers import MultiPartException
from starlette.responses import Response

from innspill.dashboard.answer.access import (
    MAX_TEXT_CHARS,
    Opened,
    Refused,
    open_token,
    refusal,
)
from innspill.dashboard.answer.texts import WEEKDAYS, wording
from innspill.dashboard.answer.upload import (
    FIELD_PREFIX,
    Posted,
    TooLarge,
    file_problems,
    read_form,
)
from innspill.dashboard.auth import secret_key
from innspill.dashboard.deps import get_db, get_now, templates
from innspill.errors import InnspillError
from innspill.inbound.answers import MAX_FILE_BYTES, MAX_FILES, attach_file, register_answer
from innspill.models import Answer, AnswerAttachment
from innspill.process.nbformat import day_off, nbdate

Db = Annotated[Session, Depends(get_db)]
Now = Annotated[datetime, Depends(get_now)]

router = APIRouter()

REGISTERED_BY = "nettskjema"
#: Headers on every response here: the token is in the address, so keep it out of caches
#: and out of the Referer header of links followed from the page.
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


# --- CSRF -----------------------------------------------------------------------------------


def form_csrf(request: Request, token: str) -> str:
    """The CSRF token of the form a token opens: HMAC(secret, "csrf/" + token)."""
    key = secret_key(request.app.state.settings).encode()
    return hmac.new(key, f"csrf/{token}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: Request, token: str, submitted: str) -> bool:
    return bool(submitted) and hmac.compare_digest(form_csrf(request, token), submitted)


def same_site(request: Request) -> bool:
    """False when the Origin (or else the Referer) names another site.

    A browser sends `Origin: null` with a form posted from a page with Referrer-Policy
    no-referrer (as this one is), so "null" counts as absent: the CSRF token decides.
    """
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return _same(origin, request)
    referer = request.headers.get("referer")
    if referer:
        return _same(referer, request)
    return True


def _same(address: str, request: Request) -> bool:
    parts = urlsplit(address)
    return bool(parts.netloc) and parts.netloc.lower() == request.url.netloc.lower()


# --- pages ----------------------------------------------------------------------------------


def _deadline_note(opened: Opened) -> str:
    """Why the deadline in effect is later than the day set (a weekend or holiday), or ""."""
    written = opened.written_deadline
    if written is None:
        return ""
    return wording(opened.language)["deadline_moved"].format(
        written=nbdate(written), day_off=day_off(written, opened.language)
    )


def _page(request: Request, name: str, context: dict[str, Any], status_code: int) -> Response:
    """A page of the form (no session: participants do not sign in, and get no cookie)."""
    response = templates.TemplateResponse(
        request, name, {"user": None} | context, status_code=status_code
    )
    response.headers.update(PRIVATE_HEADERS)
    return response


def refused_page(request: Request, refused: Refused) -> Response:
    return _page(
        request,
        "answer_error.html",
        {
            "title": refused.title,
            "detail": refused.detail,
            "sender": refused.sender,
            "t": wording(refused.language),
            "lang": refused.language,
        },
        refused.status,
    )


@dataclass(frozen=True)
class Problem:
    """A message in the error summary, linked to the field it is about."""

    target: str
    text: str


def form_page(
    request: Request,
    opened: Opened,
    *,
    status_code: int = 200,
    saved: bool = False,
    texts: dict[str, str] | None = None,
    problems: list[Problem] | None = None,
    text_error: str = "",
    file_errors: list[str] | None = None,
    notice: str = "",
) -> Response:
    latest = opened.latest
    return _page(
        request,
        "answer_form.html",
        {
            "o": opened,
            "process": opened.definition.process,
            "t": wording(opened.language),
            "lang": opened.language,
            "deadline_text": f"{WEEKDAYS[opened.language][opened.deadline.weekday()]} "
            f"{nbdate(opened.deadline)}",
            "closes_text": f"{WEEKDAYS[opened.language][opened.closes.weekday()]} "
            f"{nbdate(opened.closes)}",
            "deadline_note": _deadline_note(opened),
            "action": f"/svar/{opened.token}",
            "csrf": "" if opened.closed else form_csrf(request, opened.token),
            "texts": opened.texts if texts is None else texts,
            "saved": saved and latest is not None,
            "problems": problems or [],
            "text_error": text_error,
            "file_errors": file_errors or [],
            "notice": notice,
            "max_files": MAX_FILES,
            "max_mb": MAX_FILE_BYTES // (1024 * 1024),
            "answered_texts": [
                (t, opened.texts.get(t.id, "")) for t in opened.themes if opened.texts.get(t.id)
            ],
        },
        status_code,
    )


def too_large_page(request: Request) -> Response:
    """413 for a body larger than the form takes (`serving.limits`, before anything is read),
    in the participant's language when the token in the address is theirs."""
    now = request.app.dependency_overrides.get(get_now, get_now)()
    token = request.url.path.rsplit("/", 1)[-1]
    opened = _open(request, token, now)
    sender = opened.sender if isinstance(opened, Opened) else None
    return refused_page(request, refusal(413, "too_large", opened.language, sender))


def _open(request: Request, token: str, now: datetime) -> Opened | Refused:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        return open_token(session, token, now=now)


@router.get("/svar/{token}")
def show(request: Request, token: str, db: Db, now: Now, lagret: str | None = None) -> Response:
    opened = open_token(db, token, now=now)
    if isinstance(opened, Refused):
        return refused_page(request, opened)
    return form_page(request, opened, saved=lagret == "1")


@router.post("/svar/{token}")
async def submit(request: Request, token: str, now: Now) -> Response:
    opened = await run_in_threadpool(_open, request, token, now)
    if isinstance(opened, Refused):
        return refused_page(request, opened)
    if opened.closed:
        return form_page(
            request, opened, status_code=403, notice=wording(opened.language)["closed_notice"]
        )
    if not same_site(request):
        return refused_page(request, refusal(403, "foreign", opened.language))
    try:
        posted = await read_form(request, opened.themes)
    except TooLarge:
        return refused_page(request, refusal(413, "too_large", opened.language))
    except MultiPartException:
        return refused_page(request, refusal(400, "unreadable", opened.language))
    if not csrf_ok(request, token, posted.csrf):
        return refused_page(request, refusal(403, "stale", opened.language))

    problems, text_error, file_errors = _check(opened, posted)
    if problems:
        return form_page(
            request,
            opened,
            status_code=400,
            texts=posted.texts,
            problems=problems,
            text_error=text_error,
            file_errors=file_errors,
        )
    try:
        await run_in_threadpool(_save, request, opened, posted, now)
    except InnspillError:  # pragma: no cover - checked above; a changed definition at most
        return form_page(
            request,
            opened,
            status_code=400,
            texts=posted.texts,
            problems=[Problem("tekster", wording(opened.language)["save_failed"])],
        )
    response = RedirectResponse(f"/svar/{token}?lagret=1", status_code=303)
    response.headers.update(PRIVATE_HEADERS)
    return response


def _check(opened: Opened, posted: Posted) -> tuple[list[Problem], str, list[str]]:
    """The problems to show in the error summary, the text error, the file errors."""
    words = wording(opened.language)
    problems: list[Problem] = []
    text_error = ""
    first = f"{FIELD_PREFIX}{opened.themes[0].id}" if opened.themes else "tekster"
    if not any(text.strip() for text in posted.texts.values()):
        text_error = words["empty"]
        problems.append(Problem(first, text_error))
    for theme_id in posted.too_long:
        title = next(t.title for t in opened.themes if t.id == theme_id)
        message = words["too_long"].format(title=title, limit=MAX_TEXT_CHARS)
        problems.append(Problem(f"{FIELD_PREFIX}{theme_id}", message))
        text_error = text_error or message
    kept = [f for f in opened.files if f.id not in posted.remove]
    file_errors = file_problems(words, posted.files, kept=len(kept))
    if posted.files and (problems or file_errors):  # a browser cannot fill in a file field
        file_errors.append(words["choose_again"])
    problems += [Problem("filer", message) for message in file_errors]
    return problems, text_error, file_errors


def _save(request: Request, opened: Opened, posted: Posted, now: datetime) -> None:
    """A new version with the texts, the files kept from the last one and the new files:
    all in one transaction (tried again once if another save took the version number)."""
    texts = {theme_id: text for theme_id, text in posted.texts.items() if text.strip()}
    for attempt in (1, 2):
        with Session(request.app.state.engine, expire_on_commit=False) as session:
            try:
                _save_in(session, opened, posted, texts, now)
                session.commit()
                return
            except IntegrityError:
                session.rollback()
                if attempt == 2:
                    raise


def _save_in(
    session: Session, opened: Opened, posted: Posted, texts: dict[str, str], now: datetime
) -> None:
    step_id, participant_id = opened.step.id, opened.participant.id
    previous = session.exec(
        select(Answer)
        .where(
            Answer.process_id == opened.definition.id,
            Answer.step_key == step_id,
            Answer.participant_key == participant_id,
        )
        # the version that counts: received last (a held message assigned later may be older)
        .order_by(col(Answer.received_at).desc(), col(Answer.version).desc())
    ).first()
    kept: list[AnswerAttachment] = []
    if previous is not None:
        kept = list(
            session.exec(
                select(AnswerAttachment)
                .where(AnswerAttachment.answer_id == previous.id)
                .order_by(col(AnswerAttachment.id))
            ).all()
        )
        kept = [row for row in kept if row.id not in posted.remove]
    answer = register_answer(
        session,
        opened.definition,
        step_id=step_id,
        participant_id=participant_id,
        texts=texts,
        at=now,
        channel="form",
        registered_by=REGISTERED_BY,
    )
    session.flush()
    assert answer.id is not None  # the flush gave the new version its id
    for row in kept:  # the files sent before stay with the new version
        session.add(
            AnswerAttachment(
                answer_id=answer.id,
                filename=row.filename,
                content_type=row.content_type,
                size=row.size,
                sha256=row.sha256,
                data=row.data,
            )
        )
    for name, data in posted.files:
        attach_file(session, answer, filename=name, data=data)
    session.flush()
