"""The bokmål words of the administrators' actions: refusals, warnings and treatment states.

The domain functions speak English (for the CLI, `innspill.errors.InnspillError`); the pages
say the same thing in bokmål and what to correct. Each English refusal the actions can meet is
matched here; one not matched is shown as it is, after a bokmål sentence, never as a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from innspill.dashboard.labels import SKIP_REASONS as SKIP_REASONS
from innspill.dashboard.labels import fmt_date
from innspill.i18n import N_, Labels
from innspill.process.deadlines import in_effect
from innspill.process.definition import ProcessDefinition
from innspill.process.nbformat import nbweekday as fmt_weekday
from innspill.process.workdays import holiday_name, why_not_working_day

TREATMENT_STATES = Labels(
    {
        "pending": N_("Venter på behandling"),
        "on_agenda": N_("Satt på sakskartet"),
        "treated": N_("Behandlet"),
    }
)


def _d(text: str) -> str:
    """An ISO date in an English message, as the pages write dates."""
    try:
        return fmt_date(date.fromisoformat(text))
    except ValueError:
        return text


#: (pattern of the English message, its bokmål wording from the match's groups)
REFUSALS: list[tuple[str, Callable[[re.Match[str]], str]]] = [
    (
        r"the new deadline (\S+) is not after the step opens \((\S+)\)",
        lambda m: (
            f"Den nye fristen ({_d(m[1])}) må være etter at steget åpnet "
            f"({_d(m[2])}). Velg en senere dato."
        ),
    ),
    (
        r"the new deadline (\S+) is after the process ends \((\S+)\).*",
        lambda m: (
            f"Den nye fristen ({_d(m[1])}) er etter at prosessen slutter ({_d(m[2])}). "
            "Velg en tidligere dato, eller få sluttdatoen i prosessfilen endret først."
        ),
    ),
    (
        r"an extension must be later than the current deadline (\S+) of '([^']+)'.*",
        lambda m: (
            f"En utsatt frist må være senere enn deltakerens frist nå ({_d(m[1])}). "
            "Velg en senere dato, eller endre fristen for alle deltakerne i steget "
            "(på prosessens side: «Gjelder: Alle deltakere i steget»)."
        ),
    ),
    (
        r"'([^']+)' (?:is not a participant of|is not asked for input in|is not among the "
        r"bodies of|was not invited to) step '([^']+)'",
        lambda m: f"«{m[1]}» er ikke med i steget «{m[2]}». Velg en annen deltaker.",
    ),
    (
        r"'([^']+)' was not invited to '([^']+)'",
        lambda m: f"«{m[1]}» er ikke invitert til «{m[2]}». Velg en annen deltaker.",
    ),
    (
        r"the answer is empty.*",
        lambda m: (
            "Svaret er tomt. Skriv teksten under minst ett tema eller under "
            "generelle merknader, eller legg ved brevet som fil."
        ),
    ),
    (
        r"on the agenda: give the meeting date.*",
        lambda m: "Satt på sakskartet: fyll inn datoen for møtet.",
    ),
    (
        r"treated: give the date .*",
        lambda m: "Behandlet: fyll inn datoen for behandlingen og vedtaket.",
    ),
    (
        r"the meeting '[^']+' starts (\S+) at (\S+): .*",
        lambda m: (
            f"Møtet begynner {_d(m[1])} kl. {m[2]}. Oppmøte kan registreres når møtet har begynt."
        ),
    ),
    (
        r"the meeting '[^']+' was cancelled.*",
        lambda m: "Møtet er avlyst, så det er ikke noe oppmøte å registrere.",
    ),
    (
        r"the draft has not been sent to '[^']+' yet.*",
        lambda m: (
            "Utkastet er ikke sendt til deltakeren ennå. Behandlingen kan registreres når "
            "utkastet er sendt."
        ),
    ),
    (
        r"the meeting date (\S+) is before the draft was sent to '[^']+' \((\S+)\)",
        lambda m: (
            f"Møtedatoen ({_d(m[1])}) er før utkastet ble sendt til deltakeren ({_d(m[2])}). "
            "Rett datoen."
        ),
    ),
    (
        r"the decision date (\S+) is after today .*",
        lambda m: (
            f"Datoen for behandlingen ({_d(m[1])}) er fram i tid. Registrer vedtaket når det "
            "er fattet."
        ),
    ),
    (
        r"the decision date (\S+) is before the draft was sent to '[^']+' \((\S+)\)",
        lambda m: (
            f"Datoen for behandlingen ({_d(m[1])}) er før utkastet ble sendt til deltakeren "
            f"({_d(m[2])}). Rett datoen."
        ),
    ),
    (
        r"the decision date (\S+) is before the meeting it is on the agenda of \((\S+)\).*",
        lambda m: (
            f"Datoen for behandlingen ({_d(m[1])}) er før møtet saken står på sakskartet til "
            f"({_d(m[2])}). Rett datoen, eller sett saken på sakskartet med den nye møtedatoen "
            "først."
        ),
    ),
    (
        r"received (\S+), before step '[^']+' opened \((\S+)\).*",
        lambda m: f"Datoen svaret kom ({_d(m[1])}) er før steget åpnet ({_d(m[2])}).",
    ),
    (
        r"(?:process '[^']+' has no step|no step) '([^']+)'.*",
        lambda m: f"Prosessen har ikke steget «{m[1]}». Last inn siden på nytt.",
    ),
    (
        r"step '([^']+)' is a \w+ step.*",
        lambda m: f"Steget «{m[1]}» tar ikke imot dette. Last inn siden på nytt.",
    ),
]


def refusal(message: str) -> str:
    """The bokmål wording of a domain function's refusal."""
    for pattern, words in REFUSALS:
        match = re.fullmatch(pattern, message, flags=re.DOTALL)
        if match:
            return words(match)
    return f"Det ble ikke lagret: {message}"


def not_a_working_day(day: date, definition: ProcessDefinition) -> str:
    """A note when a new deadline is not a working day (from `why_not_working_day`): which day
    it runs to (innspill.process.deadlines), or that the process keeps it; else ""."""
    if why_not_working_day(day) is None:
        return ""
    name = holiday_name(day)
    what = (
        f"en helligdag ({name})" if name else ("en lørdag" if day.weekday() == 5 else "en søndag")
    )
    effective = in_effect(definition, day)
    if effective == day:
        return (
            f"Merk: {fmt_date(day)} er {what}, ikke en arbeidsdag. Prosessen holder fristen "
            "slik den er satt; innspill neste arbeidsdag er for sent."
        )
    return (
        f"Merk: {fmt_date(day)} er {what}, ikke en arbeidsdag. Fristen forlenges derfor til "
        f"{fmt_weekday(effective)}, og meldingene til deltakerne sier det."
    )


def parse_day(text: str, label: str) -> date:
    """A date from a date field; ValueError with what to correct, in bokmål."""
    text = text.strip()
    if not text:
        raise ValueError(f"Fyll inn {label}.")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{label.capitalize()} er ikke en dato. Skriv den som 2020-05-08."
        ) from None
