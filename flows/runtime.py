"""What flows share: the settings, one database engine per URL, the mail transport."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy.engine import Engine

from innspill.config.settings import Settings, get_settings
from innspill.models.db import DEFAULT_WAIT, make_engine, migrate
from innspill.outbound.transport import Transport, transport_for
from innspill.process.timeparse import parse_instant


@lru_cache(maxsize=8)
def engine_for(url: str, lock_timeout: float = DEFAULT_WAIT) -> Engine:
    """The engine for a database URL, migrated to the newest schema on first use."""
    migrate(url, lock_timeout=lock_timeout)
    return make_engine(url, lock_timeout=lock_timeout)


#: (database URL, key fingerprint) pairs this process has checked: once each is enough.
_checked: set[tuple[str, str]] = set()


def database() -> Engine:
    """The settings' database, with their lock timeout, after checking this machine's key as
    every CLI command does: a serve started with another key refuses to plan or send (its
    tokens would be useless to participants) instead of running."""
    from innspill.keys import ensure_key, fingerprint

    s = settings()
    url = s.resolved_database_url
    engine = engine_for(url, s.database_lock_timeout)
    secret = s.resolved_secret_key()
    if (url, fingerprint(secret)) not in _checked:
        ensure_key(engine, secret, now=wall_clock())
        _checked.add((url, fingerprint(secret)))
    return engine


def settings() -> Settings:
    return get_settings()


def transport() -> Transport:
    return transport_for(get_settings())


def parse_at(at: str | None) -> datetime:
    """A flow parameter `at` (ISO 8601; naive means Europe/Oslo) or the wall clock."""
    return wall_clock() if at is None else parse_instant(at)


def wall_clock() -> datetime:
    """The one place flows read the clock; domain code gets `now` passed in."""
    return datetime.now(UTC)


def explain(error: object) -> str:
    """One line for a run's state message: what failed and, where we know it, what to do."""
    from sqlalchemy.exc import OperationalError

    from innspill.errors import InnspillError

    if isinstance(error, InnspillError):
        # Our own errors already say in one line what failed and what to do.
        lines = str(error).strip().splitlines()
        text = " ".join(line.strip() for line in lines) or type(error).__name__
        return f"{text}; the next run tries again"
    if isinstance(error, OperationalError):
        cause = str(error.orig or error).strip().splitlines()
        first = cause[0] if cause else type(error).__name__
        return (
            f"the database cannot be reached ({first}); check INNSPILL_DATABASE_URL and that "
            f"the database is up; the next run tries again"
        )
    if isinstance(error, BaseException):
        lines = str(error).strip().splitlines()
        text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
        return f"{text} (the task's log has the traceback; the next run tries again)"
    return str(error).strip().splitlines()[0] if str(error).strip() else "unknown failure"
