"""Sessions kept on the server: a random id in the signed cookie, its SHA-256 in a row; CSRF."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, col, select
from starlette.requests import Request

from innspill.config.settings import Settings
from innspill.errors import InnspillError
from innspill.models import DashboardSession, User

SESSION_ID = "sid"
SESSION_CSRF = "csrf"
# last_seen_at is written at most this often, so reading a page is not a write each time.
LAST_SEEN_STEP = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session, request: Request, *, user: User, now: datetime, lifetime: timedelta
) -> None:
    """Sign `user` in in this browser: a new random session id (and CSRF token), stored hashed.

    Nothing set before sign-in carries over, so a planted cookie cannot fixate the session.
    """
    end_session(session, request)
    session.exec(delete(DashboardSession).where(col(DashboardSession.expires_at) <= now))
    token = secrets.token_urlsafe(32)
    assert user.id is not None
    session.add(
        DashboardSession(
            token_hash=_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    request.session.clear()
    request.session[SESSION_ID] = token
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)


def end_session(session: Session, request: Request) -> None:
    """Sign this browser out: its session row goes, so a copy of the cookie is worth nothing."""
    token = request.session.get(SESSION_ID)
    if isinstance(token, str) and token:
        session.exec(
            delete(DashboardSession).where(col(DashboardSession.token_hash) == _digest(token))
        )
    request.session.clear()


def end_sessions(session: Session, user: User) -> int:
    """End every session of `user` (in every browser); how many there were."""
    rows = session.exec(select(DashboardSession).where(col(DashboardSession.user_id) == user.id))
    ended = 0
    for row in rows:
        session.delete(row)
        ended += 1
    return ended


def signed_in(session: Session, request: Request, *, now: datetime) -> User | None:
    """The user whose live session this browser's cookie names, else None."""
    token = request.session.get(SESSION_ID)
    if not isinstance(token, str) or not token:
        return None
    found = session.exec(
        select(DashboardSession, User)
        .join(User, col(User.id) == col(DashboardSession.user_id))
        .where(col(DashboardSession.token_hash) == _digest(token))
        .where(col(DashboardSession.expires_at) > now)
    ).first()
    if found is None:
        return None
    row, user = found
    if now - row.last_seen_at >= LAST_SEEN_STEP:
        row.last_seen_at = now
        session.add(row)
        session.commit()
    return user


def active_sessions(session: Session, *, now: datetime) -> dict[int, int]:
    """How many live sessions each user id has."""
    rows = session.exec(
        select(DashboardSession.user_id, func.count())
        .where(col(DashboardSession.expires_at) > now)
        .group_by(col(DashboardSession.user_id))
    )
    return {user_id: count for user_id, count in rows}


# --- CSRF and the cookie's key ----------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use (a session exists before sign-in too)."""
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return str(token)


def csrf_ok(request: Request, submitted: str | None) -> bool:
    expected = request.session.get(SESSION_CSRF)
    return bool(expected and submitted) and hmac.compare_digest(str(expected), str(submitted))


def secret_key(settings: Settings) -> str:
    """The key that signs session cookies (see Settings.resolved_secret_key)."""
    try:
        return settings.resolved_secret_key()
    except ValueError as exc:
        raise InnspillError(str(exc)) from None
