"""What flows share: the settings, one database engine per URL, the mail transport."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy.engine import Engine

from innspill.config.settings import Settings, get_settings
from innspill.models.db import make_engine, migrate
from innspill.outbound.transport import Transport, transport_for
from innspill.process.timeparse import parse_instant


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """The engine for a database URL, migrated to the newest schema on first use."""
    migrate(url)
    return make_engine(url)


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
