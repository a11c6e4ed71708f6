"""Parse the times a user types: ISO 8601, local Europe/Oslo unless a zone is given."""

from __future__ import annotations

from datetime import UTC, date, datetime

from innspill.errors import InnspillError
from innspill.process.workdays import OSLO


def parse_instant(text: str) -> datetime:
    """`2020-04-20T09:00` (Oslo), `2020-04-20` (00:00 Oslo) or with an offset; returns UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InnspillError(
            f"'{text}' is not a time; write it as 2020-04-20T09:00 (Europe/Oslo) "
            "or with an offset, 2020-04-20T09:00+02:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=OSLO)
    return value.astimezone(UTC)


def parse_date(text: str) -> date:
    """`2020-05-08`."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InnspillError(f"'{text}' is not a date; write it as 2020-05-08") from None
