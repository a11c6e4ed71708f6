"""Norwegian formatting of dates, times and small numbers, as a case officer writes them."""

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


#: Public holidays (by the `holidays` package's Norwegian name) as a letter names them in
#: running text; a name not listed is written as the package gives it, first letter lower case.
HOLIDAYS = {
    "nb": {
        "Arbeidernes dag": "arbeidernes dag (1. mai)",
        "Grunnlovsdag": "grunnlovsdagen (17. mai)",
        "Kristi himmelfartsdag": "Kristi himmelfartsdag",
    },
    "nn": {
        "Arbeidernes dag": "arbeidarane sin dag (1. mai)",
        "Grunnlovsdag": "grunnlovsdagen (17. mai)",
        "Kristi himmelfartsdag": "Kristi himmelfartsdag",
    },
}
WEEKEND = {"nb": ("en lørdag", "en søndag"), "nn": ("ein laurdag", "ein sundag")}


def day_off(day: date, language: str = "nb") -> str:
    """Why `day` is not a working day, as a letter says it in `language` (nb or nn): "andre
    pinsedag", "en lørdag"; "" for a working day."""
    from innspill.process.workdays import holiday_name

    language = language if language in WEEKEND else "nb"
    name = holiday_name(day)
    if name:
        return HOLIDAYS[language].get(name) or name[:1].lower() + name[1:]
    if day.weekday() >= 5:
        return WEEKEND[language][day.weekday() - 5]
    return ""


#: Numbers under 13 are written as words in running text; "én"/"ein" is for a masculine or
#: feminine noun, and the caller gives the neuter ("ett"/"eitt") where it is needed.
_NUMBER_WORDS = {
    "nb": (
        "null",
        "én",
        "to",
        "tre",
        "fire",
        "fem",
        "seks",
        "sju",
        "åtte",
        "ni",
        "ti",
        "elleve",
        "tolv",
    ),
    "nn": (
        "null",
        "ein",
        "to",
        "tre",
        "fire",
        "fem",
        "seks",
        "sju",
        "åtte",
        "ni",
        "ti",
        "elleve",
        "tolv",
    ),
}


def in_words(number: int, language: str = "nb", one: str | None = None) -> str:
    """`to`, `fem`, `tolv`; 13 and above as digits (`13`), as Norwegian style has it."""
    if number == 1 and one is not None:
        return one
    words = _NUMBER_WORDS.get(language, _NUMBER_WORDS["nb"])
    return words[number] if 0 <= number < len(words) else str(number)
