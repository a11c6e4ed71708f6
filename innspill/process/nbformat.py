"""Norwegian (bokmål) formatting of dates and times, as a case officer writes them."""

from __future__ import annotations

from datetime import date, datetime, time

MONTHS = (
    "januar",
    "februar",
    "mars",
    "april",
    "mai",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "desember",
)
WEEKDAYS = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")


def nbdate(day: date) -> str:
    """`27. april 2020`."""
    return f"{day.day}. {MONTHS[day.month - 1]} {day.year}"


def nbdate_short(day: date) -> str:
    """`27.04.2020`."""
    return f"{day.day:02d}.{day.month:02d}.{day.year}"


def nbweekday(day: date) -> str:
    """`mandag 1. juni 2020`."""
    return f"{WEEKDAYS[day.weekday()]} {nbdate(day)}"


def nbtime(value: time | datetime) -> str:
    """`kl. 09.00`."""
    return f"kl. {value.hour:02d}.{value.minute:02d}"
