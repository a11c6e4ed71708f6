"""Dashboard accounts and roles: argon2id password hashes; adding, changing, removing users."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from innspill.dashboard.auth.sessions import end_sessions
from innspill.errors import InnspillError
from innspill.models import Role, User

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,79}$")
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()


class AccountError(InnspillError):
    """A user cannot be created or changed as asked (name taken, password too short, ...)."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code  # short, same_as_name, bad_name, exists, unknown: pages word it


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


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
