"""When a step's messages may leave: its send window, for first sends and for retries alike."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from innspill.planning.actions import SEND_WINDOW_END
from innspill.process.schema import RequestStep, Step
from innspill.process.workdays import OSLO, is_working_day, local_datetime


def send_time_of(step: Step) -> time:
    """The earliest local time of day a step's messages go out, as the planner uses it.

    A request step sends at its reminders' hour; a circulation's `send_time` is its
    reminders' too; every other kind has its own `hour`.
    """
    if isinstance(step, RequestStep):
        return step.reminders.send_time
    return step.send_time


def next_in_window(at: datetime, send_time: time) -> datetime:
    """`at` if it falls in the send window (a working day, from `send_time` to 17.00 local
    time), else the next opening of the window."""
    local = at.astimezone(OSLO)
    day = local.date()
    if is_working_day(day) and local.time() < SEND_WINDOW_END:
        if local.time() >= send_time:
            return at
        return local_datetime(day, send_time)
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return local_datetime(day, send_time)
