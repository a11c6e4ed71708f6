"""Dashboard accounts, password hashing, sign-in sessions, the sign-in rate limit and CSRF."""

from __future__ import annotations

import hmac
import re
import secrets
import threading
from collections import deque
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select
from starlette.requests import Request

from innspill.config.settings import Settings
from innspill.errors import InnspillError
from innspill.models import User

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,79}$")
MIN_PASSWORD_LENGTH = 10
SESSION_USER = "user"
SESSION_CSRF = "csrf"

_hasher = PasswordHasher()


class AccountError(InnspillError):
    """A user cannot be created as asked (name taken, password too short, ...)."""


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password: str, *, username: str) -> None:
    """Raise AccountError if the password is too weak to accept."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip().lower() == username.strip().lower():
        raise AccountError("the password must not be the user name")


def create_user(session: Session, username: str, password: str, *, now: datetime) -> User:
    """Add an administrator; the password is stored as an argon2id hash only."""
    if not USERNAME.match(username):
        raise AccountError(
            "a user name has 1 to 80 characters: letters, digits and . _ @ - "
            "(starting with a letter or digit)"
        )
    check_password(password, username=username)
    if find_user(session, username) is not None:
        raise AccountError(f"the user '{username}' exists already")
    user = User(username=username, password_hash=hash_password(password), created_at=now)
    session.add(user)
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(col(User.username) == username)).first()


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


class RateLimiter:
    """Counts failed sign-ins per key (user name and address) in a sliding window.

    Kept in memory: one dashboard process. Several workers would each count on their own.
    """

    def __init__(self, max_failures: int = 5, window: timedelta = timedelta(minutes=15)):
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            self._failures.pop(key, None)
        return failures

    def retry_after(self, key: str, now: datetime) -> int:
        """Seconds until `key` may try again; 0 when it may try now."""
        with self._lock:
            failures = self._recent(key, now)
            if len(failures) < self.max_failures:
                return 0
            return max(1, int((failures[0] + self.window - now).total_seconds()) + 1)

    def failed(self, key: str, now: datetime) -> None:
        with self._lock:
            failures = self._recent(key, now)
            failures.append(now)
            self._failures[key] = failures
            if len(self._failures) > 100_000:  # a flood of names: forget the oldest half
                for stale in list(self._failures)[:50_000]:
                    del self._failures[stale]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


def limit_key(username: str, request: Request) -> str:
    host = request.client.host if request.client else "unknown"
    return f"{username.strip().lower()}|{host}"


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


def sign_in(request: Request, username: str) -> None:
    """Start a fresh session (a new CSRF token too, so nothing set before sign-in carries over)."""
    request.session.clear()
    request.session[SESSION_USER] = username
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    request.session.clear()


def session_user(request: Request) -> str | None:
    value = request.session.get(SESSION_USER)
    return str(value) if value else None


def secret_key(settings: Settings) -> str:
    """The key that signs session cookies (see Settings.resolved_secret_key)."""
    try:
        return settings.resolved_secret_key()
    except ValueError as exc:
        raise InnspillError(str(exc)) from None
