"""Bokmål labels and formats for what the pages show; the code's words stay English."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from innspill.nbformat import nbdate, nbtime
from innspill.workdays import OSLO

STEP_KINDS = {
    "request": "Innspill",
    "compilation": "Sammenstilling",
    "meeting": "Møte",
    "circulation": "Oversendelse til behandling",
}
STEP_STATES = {
    "not started": "Ikke startet",
    "open": "Åpen",
    "overdue": "Over fristen",
    "done": "Ferdig",
}
MESSAGE_KINDS = {
    "invitation": "Invitasjon",
    "reminder": "Påminnelse",
    "overdue": "Purring",
    "deadline_changed": "Endret frist",
    "compilation": "Sammenstilling",
    "meeting_invitation": "Møteinnkalling",
    "meeting_reminder": "Påminnelse om møte",
    "meeting_cancel": "Avlysning av møte",
    "circulation": "Oversendelse til behandling",
    "treatment_reminder": "Påminnelse om behandling",
}
MESSAGE_STATUSES = {"pending": "Venter", "sent": "Sendt", "failed": "Feilet"}
ROLES = {
    "secretariat": "Sekretariat",
    "steering_group": "Styringsgruppe",
    "drafter": "Utreder",
}
CHANNELS = {"email": "E-post", "form": "Skjema", "registered": "Registrert manuelt"}


def label(table: dict[str, str], key: str) -> str:
    """The bokmål label of a code word, or the word itself when none is known."""
    return table.get(key, key)


def times(n: int) -> str:
    return "1 gang" if n == 1 else f"{n} ganger"


def as_date(value: date | str | None) -> date | None:
    if value is None or value == "None":
        return None
    if isinstance(value, datetime):
        return value.astimezone(OSLO).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value[:10])


def fmt_date(value: date | str | None) -> str:
    """`30. mars 2020`; an empty string for no date."""
    day = as_date(value)
    return nbdate(day) if day else ""


def fmt_datetime(value: datetime | str | None) -> str:
    """`30. mars 2020 kl. 09.00`, in Europe/Oslo."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(OSLO)
    return f"{nbdate(local.date())} {nbtime(local)}"


def iso_local(value: datetime | None) -> str:
    """`2020-03-30 09:00`, in Europe/Oslo: for CSV files."""
    return value.astimezone(OSLO).strftime("%Y-%m-%d %H:%M") if value else ""


def countdown(days: int | None) -> str:
    """Days left to a deadline, as people say it."""
    if days is None:
        return ""
    if days == 0:
        return "i dag"
    if days == 1:
        return "i morgen"
    if days > 1:
        return f"om {days} dager"
    return "i går" if days == -1 else f"for {-days} dager siden"


@dataclass(frozen=True)
class Text:
    """A text to show, and its language when it is not bokmål (status texts we cannot translate)."""

    text: str
    lang: str | None = None


# innspill.status describes meeting and circulation positions and step notes in English
# words; these patterns turn the known ones into bokmål, anything else is shown as is.
_RULES: list[tuple[re.Pattern[str], object]] = [
    (re.compile(r"^not invited yet$"), lambda m: "Ikke invitert ennå"),
    (re.compile(r"^invited$"), lambda m: "Invitert"),
    (
        re.compile(r"^invited \(updated (\d+) time\(s\)\)$"),
        lambda m: f"Invitert (oppdatert {times(int(m[1]))})",
    ),
    (re.compile(r"^attended$"), lambda m: "Deltok"),
    (re.compile(r"^absent$"), lambda m: "Deltok ikke"),
    (re.compile(r"^draft not sent yet$"), lambda m: "Utkastet er ikke sendt ennå"),
    (re.compile(r"^pending$"), lambda m: "Venter på behandling"),
    (
        re.compile(r"^pending, reminded (\d+) time\(s\)$"),
        lambda m: f"Venter på behandling, påminnet {times(int(m[1]))}",
    ),
    (
        re.compile(r"^on the agenda (\S+)$"),
        lambda m: f"På sakskartet for møtet {fmt_date(m[1])}" if as_date(m[1]) else "På sakskartet",
    ),
    (
        re.compile(r"^treated (\S+): (.*)$", re.S),
        lambda m: ("Behandlet " + fmt_date(m[1])).strip() + (f": {m[2]}" if m[2] else ""),
    ),
    (
        re.compile(r"^version (\d+) of (\d\d\.\d\d\.\d{4}) (\d\d\.\d\d): (\d+) of (\d+) answered$"),
        lambda m: f"Versjon {m[1]} av {m[2]} kl. {m[3]}: {m[4]} av {m[5]} har svart",
    ),
    (
        re.compile(r"^version (\d+) of (\d\d\.\d\d\.\d{4}) (\d\d\.\d\d): (.*)$", re.S),
        lambda m: f"Versjon {m[1]} av {m[2]} kl. {m[3]}: {m[4]}",
    ),
    (re.compile(r"^no answers to compile yet$"), lambda m: "Ingen svar å sammenstille ennå"),
    (re.compile(r"^cancelled$"), lambda m: "Avlyst"),
    (re.compile(r"^(\d+) attended$"), lambda m: f"{m[1]} deltok"),
    (
        re.compile(r"^(\d\d\.\d\d)-(\d\d\.\d\d), (.*)$", re.S),
        lambda m: f"kl. {m[1]}–{m[2]}, {m[3]}",
    ),
    (re.compile(r"^draft version (\d+): (.*)$", re.S), lambda m: f"Utkast versjon {m[1]}: {m[2]}"),
]


def translate(text: str) -> Text:
    """A status text from innspill.status in bokmål; unknown texts keep their English."""
    if not text:
        return Text("")
    for pattern, make in _RULES:
        match = pattern.match(text)
        if match:
            return Text(make(match))  # type: ignore[operator]
    return Text(text, lang="en")
