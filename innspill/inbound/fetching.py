"""The mailbox into the database: fetch what is new, import each message in its own
transaction (innspill.inbound.intake decides what it is)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from innspill.config.settings import Settings
from innspill.inbound.intake import import_mail
from innspill.models.db import session_scope

if TYPE_CHECKING:
    from innspill.inbound.mailbox import Fetched, FetchReport


def fetch_into(
    engine: Engine, settings: Settings, *, clock: Callable[[], datetime], limit: int | None = None
) -> tuple[FetchReport, dict[str, int]]:
    """Read the mailbox and import every new message; counts by what became of them.

    `clock` gives the time of each import (the wall clock in production, passed in by the
    caller); a message whose import fails stays unmarked on the server for the next run.
    """
    from innspill.inbound.mailbox import fetch_new, source_name

    source = source_name(settings)
    counts: dict[str, int] = {}

    def handle(fetched: Fetched) -> None:
        with session_scope(engine) as session:
            result = import_mail(
                session,
                fetched.raw,
                source=source,
                uid=fetched.uid,
                received_at=fetched.received_at,
                now=clock(),
            )
        status = str(result.message.status) if result.new else "already imported"
        counts[status] = counts.get(status, 0) + 1

    return fetch_new(settings, handle, limit=limit), counts
