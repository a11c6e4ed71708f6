"""Dashboard accounts and roles, password hashing, server-side sessions, the sign-in limit, CSRF."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func
from sqlmodel import Session, col, select
from starlette.requests import Request

from innspill.config.settings import IPNetwork, Settings
from innspill.errors import InnspillError
from innspill.models import DashboardSession, Role, SignInAttempt, User

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,79}$")
MIN_PASSWORD_LENGTH = 10
SESSION_ID = "sid"
SESSION_CSRF = "csrf"
# last_seen_at is written at most this often, so reading a page is not a write each time.
LAST_SEEN_STEP = timedelta(minutes=1)

_hasher = PasswordHasher()


class AccountError(InnspillError):
    """A user cannot be created or changed as asked (name taken, password too short, ...)."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code  # short, same_as_name, bad_name, exists, unknown: pages word it


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- accounts ---------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password: str, *, username: str) -> None:
    """Raise AccountError if the password is too weak to accept."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters", code="short"
        )
    if password.strip().lower() == username.strip().lower():
        raise AccountError("the password must not be the user name", code="same_as_name")


def default_role(session: Session) -> Role:
    """The first user is an administrator (someone must manage the rest); later ones read."""
    return Role.VIEWER if session.exec(select(User.id).limit(1)).first() else Role.ADMIN


def create_user(
    session: Session, username: str, password: str, *, now: datetime, role: Role | None = None
) -> User:
    """Add a user (role: see default_role); the password is stored as an argon2id hash only."""
    if not USERNAME.match(username):
        raise AccountError(
            "a user name has 1 to 80 characters: letters, digits and . _ @ - "
            "(starting with a letter or digit)",
            code="bad_name",
        )
    check_password(password, username=username)
    if find_user(session, username) is not None:
        raise AccountError(f"the user '{username}' exists already", code="exists")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=Role(role) if role else default_role(session),
        created_at=now,
    )
    session.add(user)
    session.flush()  # the id, so sessions can point at it
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(col(User.username) == username)).first()


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.username))))


def _existing(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise AccountError(f"there is no user '{username}'", code="unknown")
    return user


def set_password(session: Session, username: str, *, password: str) -> int:
    """Give a user a new password and end all their sessions; how many were ended."""
    user = _existing(session, username)
    check_password(password, username=username)
    user.password_hash = hash_password(password)
    session.add(user)
    return end_sessions(session, user)


def set_role(session: Session, username: str, *, role: Role) -> User:
    """Make a user an administrator or a viewer; it holds from their next page (no sign-in)."""
    user = _existing(session, username)
    user.role = Role(role)
    session.add(user)
    return user


def remove_user(session: Session, username: str) -> int:
    """Delete a user and end all their sessions; how many were ended."""
    user = _existing(session, username)
    ended = end_sessions(session, user)
    session.delete(user)
    return ended


def authenticate(session: Session, username: str, password: str, *, now: datetime) -> User | None:
    """The user if the password is right, else None (in about the same time either way)."""
    user = find_user(session, username) if USERNAME.match(username) else None
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:  # pragma: no cover - the dummy hash's password is never known
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    session.add(user)
    return user


# --- sessions on the server -------------------------------------------------------------------


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


# --- the sign-in limit ------------------------------------------------------------------------


def _address(text: str) -> str:
    """An address as written by a client or proxy, normalised ("[::1]:80" -> "::1")."""
    value = text.strip().strip('"').strip()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has several colons
        value = value.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return value.lower()[:100] or "unknown"  # "unknown", an obfuscated name: still a key
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip)


def _trusted(address: str, trusted: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in trusted)


def _forwarded_for(value: str) -> list[str]:
    """The for= of each element of an RFC 7239 Forwarded header, in order."""
    hops = []
    for element in value.split(","):
        found = "unknown"
        for pair in element.split(";"):
            name, _, given = pair.partition("=")
            if name.strip().lower() == "for":
                found = given
        hops.append(_address(found))
    return hops


def _client_of(hops: list[str], trusted: Sequence[IPNetwork]) -> str:
    """The first hop, from the right, that is not one of our proxies: the one they saw."""
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0]


def client_addresses(request: Request, trusted: Sequence[IPNetwork]) -> list[str]:
    """Where a request comes from, as far as we can believe it: the connecting address, or,
    when that is a trusted proxy, the client its forwarded headers name.

    A proxy that writes one of X-Forwarded-For and Forwarded usually passes the other on as the
    client sent it, so when both are present both addresses count: the one the proxy wrote is
    always among them, and a forged one cannot lift a limit that the real one is under.
    """
    peer = _address(request.client.host if request.client else "unknown")
    if not _trusted(peer, trusted):
        return [peer]
    found = set()
    xff = ",".join(request.headers.getlist("x-forwarded-for"))
    if xff.strip():
        found.add(_client_of([_address(hop) for hop in xff.split(",")], trusted))
    forwarded = ",".join(request.headers.getlist("forwarded"))
    if forwarded.strip():
        found.add(_client_of(_forwarded_for(forwarded), trusted))
    return sorted(found) or [peer]


@dataclass(frozen=True)
class SignInLimit:
    """At most `max_failures` failed sign-ins for one user name from one address within
    `window`; the count is in the database, so every dashboard process shares it."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)

    def claim(
        self, session: Session, username: str, *, addresses: Sequence[str], now: datetime
    ) -> tuple[list[int], int]:
        """Record an attempt before its password is checked; its rows, and seconds to wait.

        Written and committed first, then counted: of several attempts at once (in several
        processes), the later ones see the earlier ones, so no more than the limit get through.
        """
        name = username.strip().lower()[:200]
        session.exec(delete(SignInAttempt).where(col(SignInAttempt.at) <= now - self.window))
        mine = [SignInAttempt(username=name, address=a, at=now) for a in addresses]
        session.add_all(mine)
        session.commit()
        ids = [row.id for row in mine if row.id is not None]
        wait = 0
        for address in addresses:
            others = sorted(
                at
                for row_id, at in session.exec(
                    select(SignInAttempt.id, SignInAttempt.at)
                    .where(col(SignInAttempt.username) == name)
                    .where(col(SignInAttempt.address) == address)
                    .where(col(SignInAttempt.at) > now - self.window)
                )
                if row_id not in ids
            )
            if len(others) >= self.max_failures:
                # free again when fewer than max_failures of the others are inside the window
                until = others[len(others) - self.max_failures] + self.window
                wait = max(wait, max(1, math.ceil((until - now).total_seconds())))
        return ids, wait

    def release(self, session: Session, ids: Sequence[int]) -> None:
        """Forget attempts that were refused or succeeded: they are not failures."""
        if ids:
            session.exec(delete(SignInAttempt).where(col(SignInAttempt.id).in_(ids)))
        session.commit()

    def succeeded(self, session: Session, username: str, *, addresses: Sequence[str]) -> None:
        """A right password clears the count for this name from these addresses."""
        name = username.strip().lower()[:200]
        session.exec(
            delete(SignInAttempt)
            .where(col(SignInAttempt.username) == name)
            .where(col(SignInAttempt.address).in_(list(addresses)))
        )


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
