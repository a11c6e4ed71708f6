"""Due-time rules shared by the planners: of several due reminders only the latest goes out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from innspill.planning.actions import Action
from innspill.process.workdays import add_working_days, is_working_day


def latest_due(
    due: list[tuple[int, datetime]],
    *,
    make: Callable[[int, str | None], Action],
    blocker: str | None,
    invited_at: datetime,
    sendable: bool,
    label: str,
) -> list[Action]:
    """Of the reminders due, send only the latest; skip the rest and say why."""
    if not due:
        return []
    due = sorted(due, key=lambda item: item[1])
    *older, (latest_n, latest_at) = due
    out = [make(n, f"superseded by a later reminder ({label} {latest_n})") for n, _ in older]
    if blocker:
        out.append(make(latest_n, blocker))
    elif invited_at >= latest_at:
        out.append(make(latest_n, "the invitation went out after this reminder was due"))
    elif sendable:
        out.append(make(latest_n, None))
    return out


def first_working_day(day: date) -> date:
    """`day` if it is a working day, else the next one."""
    return day if is_working_day(day) else add_working_days(day, 1)
