"""What every action in the browser shares.

An action is a POST from a signed-in administrator with the form's CSRF token. It calls the
same domain function as its CLI command, with `by` set to the signed-in user (so the event log
says who), commits, and redirects (303) to a page that shows a notice: what was done, and what
the next ticks will send because of it (from the cached_forecast, the same `plan()` the tick uses).

Routers of actions use `router = APIRouter(dependencies=[Depends(require_admin)])` and, in each
handler: `check_csrf(request, csrf_token)`; the domain call inside `try`, turning an
`InnspillError` into a 400 page that says what to correct; then `db.commit()` and
`done(...)`. `deps.render()` shows the notice on whichever page comes next (base.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.responses import Response

from innspill.dashboard import labels
from innspill.dashboard.auth import csrf_ok
from innspill.dashboard.deps import get_db, get_now, render, require_admin
from innspill.i18n import _
from innspill.models import User
from innspill.planning.forecast import Planned, cached_forecast
from innspill.planning.state import load_state
from innspill.process.definition import ProcessDefinition

Db = Annotated[Session, Depends(get_db)]
Now = Annotated[datetime, Depends(get_now)]
Admin = Annotated[User, Depends(require_admin)]
CsrfToken = Annotated[str, Form(max_length=200)]

#: Session keys of the notice shown once on the page an action redirects to.
NOTICE = "action_notice"
NEXT = "action_next"
#: The session lives in a signed cookie (4 KB at most): a notice carries a few lines only.
NEXT_LINES = 6


def check_csrf(request: Request, token: str) -> None:
    """403 unless the form carries this session's CSRF token."""
    if not csrf_ok(request, token):
        raise HTTPException(403, _("Skjemaet var utløpt. Last inn siden og prøv igjen."))


@dataclass(frozen=True)
class Upcoming:
    """One line of "what goes out next", ready for a template."""

    at: datetime
    kind: str  # the message kind's Norwegian label
    step: str  # the step's title
    participant: str  # the participant's name, or "" for a step as a whole
    skipped: str  # why a due message will not be sent, or ""


def refused(request: Request, title: str, what: str, detail: str, back: str) -> Response:
    """An action refused (400): what was refused, why in the user's words, the engine's
    detail, and the way back."""
    context = {"title": title, "what": what, "detail": detail, "back": back}
    return render(request, "action_error.html", context, status_code=400)


def upcoming(
    db: Session,
    definition: ProcessDefinition,
    now: datetime,
    *,
    participant: str | None = None,
    step: str | None = None,
    limit: int | None = None,
) -> list[Upcoming]:
    """The forecast for the next working days, for one participant and/or step if given."""
    planned: list[Planned] = cached_forecast(definition, load_state(db, definition), now)
    rows = as_upcoming(
        definition,
        [
            p
            for p in planned
            if (participant is None or p.action.participant_id == participant)
            and (step is None or p.action.step_id == step)
        ],
    )
    return rows[:limit] if limit is not None else rows


def as_upcoming(definition: ProcessDefinition, planned: list[Planned]) -> list[Upcoming]:
    """Forecast lines as a page shows them (names and labels, not ids and codes)."""
    names = {p.id: p.name for p in definition.participants}
    titles = {s.id: s.title for s in definition.steps}
    return [
        Upcoming(
            at=p.at,
            kind=labels.MESSAGE_KINDS.get(p.action.kind.value, p.action.kind.value),
            step=titles.get(p.action.step_id, p.action.step_id),
            participant=names.get(p.action.participant_id, ""),
            skipped=p.action.skip_reason or "",
        )
        for p in planned
    ]


def done(
    request: Request, target: str, notice: str, next_up: list[Upcoming] | None = None
) -> Response:
    """Redirect (303) to `target`, which shows `notice` and the lines of `next_up` once."""
    request.session[NOTICE] = notice
    request.session[NEXT] = [
        {
            "at": labels.fmt_datetime(u.at),
            "kind": u.kind,
            "step": u.step[:80],
            "participant": u.participant,
            "skipped": u.skipped,
        }
        for u in (next_up or [])[:NEXT_LINES]
    ]
    return RedirectResponse(target, status_code=303)
