"""The words of the administrators' actions: refusals, warnings and treatment states.

The domain functions speak English (for the CLI, `innspill.errors.InnspillError`); the pages
say the same thing in bokmål and what to correct. Each English refusal the actions can meet is
matched here; one not matched is shown as it is, after a bokmål sentence, never as a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from innspill.dashboard.labels import SKIP_REASONS as SKIP_REASONS
from innspill.dashboard.labels import fmt_date, fmt_weekday
from innspill.i18n import N_, Labels, _
from innspill.process.deadline_rule import in_effect
from innspill.process.definition import ProcessDefinition
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


#: (pattern of the English message, its wording from the match's groups)
REFUSALS: list[tuple[str, Callable[[re.Match[str]], str]]] = [
    (
        r"the new deadline (\S+) is not after the step opens \((\S+)\)",
        lambda m: _(
            "Den nye fristen (%(new)s) må være etter at steget åpnet (%(opens)s). "
            "Velg en senere dato.",
            new=_d(m[1]),
            opens=_d(m[2]),
        ),
    ),
    (
        r"the new deadline (\S+) is after the process ends \((\S+)\).*",
        lambda m: _(
            "Den nye fristen (%(new)s) er etter at prosessen slutter (%(ends)s). "
            "Velg en tidligere dato, eller få sluttdatoen i prosessfilen endret først.",
            new=_d(m[1]),
            ends=_d(m[2]),
        ),
    ),
    (
        r"an extension must be later than the current deadline (\S+) of '([^']+)'.*",
        lambda m: _(
            "En utsatt frist må være senere enn deltakerens frist nå (%(deadline)s). "
            "Velg en senere dato, eller endre fristen for alle deltakerne i steget "
            "(på prosessens side: «Gjelder: Alle deltakere i steget»).",
            deadline=_d(m[1]),
        ),
    ),
    (
        r"'([^']+)' (?:is not a participant of|is not asked for input in|is not among the "
        r"bodies of|was not invited to) step '([^']+)'",
        lambda m: _(
            "«%(who)s» er ikke med i steget «%(step)s». Velg en annen deltaker.",
            who=m[1],
            step=m[2],
        ),
    ),
    (
        r"'([^']+)' was not invited to '([^']+)'",
        lambda m: _(
            "«%(who)s» er ikke invitert til «%(step)s». Velg en annen deltaker.",
            who=m[1],
            step=m[2],
        ),
    ),
    (
        r"the answer is empty.*",
        lambda m: _(
            "Svaret er tomt. Skriv teksten under minst ett tema eller under "
            "generelle merknader, eller legg ved brevet som fil."
        ),
    ),
    (
        r"on the agenda: give the meeting date.*",
        lambda m: _("Satt på sakskartet: fyll inn datoen for møtet."),
    ),
    (
        r"treated: give the date .*",
        lambda m: _("Behandlet: fyll inn datoen for behandlingen og vedtaket."),
    ),
    (
        r"the meeting '[^']+' starts (\S+) at (\S+): .*",
        lambda m: _(
            "Møtet begynner %(date)s kl. %(time)s. Oppmøte kan registreres når møtet har begynt.",
            date=_d(m[1]),
            time=m[2],
        ),
    ),
    (
        r"the meeting '[^']+' was cancelled.*",
        lambda m: _("Møtet er avlyst, så det er ikke noe oppmøte å registrere."),
    ),
    (
        r"the draft has not been sent to '[^']+' yet.*",
        lambda m: _(
            "Utkastet er ikke sendt til deltakeren ennå. Behandlingen kan registreres når "
            "utkastet er sendt."
        ),
    ),
    (
        r"the meeting date (\S+) is before the draft was sent to '[^']+' \((\S+)\)",
        lambda m: _(
            "Møtedatoen (%(date)s) er før utkastet ble sendt til deltakeren (%(sent)s). "
            "Rett datoen.",
            date=_d(m[1]),
            sent=_d(m[2]),
        ),
    ),
    (
        r"the decision date (\S+) is after today .*",
        lambda m: _(
            "Datoen for behandlingen (%(date)s) er fram i tid. Registrer vedtaket når det "
            "er fattet.",
            date=_d(m[1]),
        ),
    ),
    (
        r"the decision date (\S+) is before the draft was sent to '[^']+' \((\S+)\)",
        lambda m: _(
            "Datoen for behandlingen (%(date)s) er før utkastet ble sendt til deltakeren "
            "(%(sent)s). Rett datoen.",
            date=_d(m[1]),
            sent=_d(m[2]),
        ),
    ),
    (
        r"the decision date (\S+) is before the meeting it is on the agenda of \((\S+)\).*",
        lambda m: _(
            "Datoen for behandlingen (%(date)s) er før møtet saken står på sakskartet til "
            "(%(meeting)s). Rett datoen, eller sett saken på sakskartet med den nye møtedatoen "
            "først.",
            date=_d(m[1]),
            meeting=_d(m[2]),
        ),
    ),
    (
        r"received (\S+), before step '[^']+' opened \((\S+)\).*",
        lambda m: _(
            "Datoen svaret kom (%(date)s) er før steget åpnet (%(opens)s).",
            date=_d(m[1]),
            opens=_d(m[2]),
        ),
    ),
    (
        r"(?:process '[^']+' has no step|no step) '([^']+)'.*",
        lambda m: _("Prosessen har ikke steget «%(step)s». Last inn siden på nytt.", step=m[1]),
    ),
    (
        r"step '([^']+)' is a \w+ step.*",
        lambda m: _("Steget «%(step)s» tar ikke imot dette. Last inn siden på nytt.", step=m[1]),
    ),
]


def refusal(message: str) -> str:
    """A domain function's refusal in the request's language."""
    for pattern, words in REFUSALS:
        match = re.fullmatch(pattern, message, flags=re.DOTALL)
        if match:
            return words(match)
    return _("Det ble ikke lagret: %(why)s", why=message)


def not_a_working_day(day: date, definition: ProcessDefinition) -> str:
    """A note when a new deadline is not a working day (from `why_not_working_day`): which day
    it runs to (innspill.process.deadlines), or that the process keeps it; else ""."""
    if why_not_working_day(day) is None:
        return ""
    name = holiday_name(day)
    if name:
        what = _("en helligdag (%(name)s)", name=name)
    else:
        what = _("en lørdag") if day.weekday() == 5 else _("en søndag")
    effective = in_effect(definition, day)
    if effective == day:
        return _(
            "Merk: %(date)s er %(what)s, ikke en arbeidsdag. Prosessen holder fristen "
            "slik den er satt; innspill neste arbeidsdag er for sent.",
            date=fmt_date(day),
            what=what,
        )
    return _(
        "Merk: %(date)s er %(what)s, ikke en arbeidsdag. Fristen forlenges derfor til "
        "%(day)s, og meldingene til deltakerne sier det.",
        date=fmt_date(day),
        what=what,
        day=fmt_weekday(effective),
    )


def parse_day(text: str, label: str) -> date:
    """A date from a date field; ValueError with what to correct."""
    text = text.strip()
    if not text:
        raise ValueError(_("Fyll inn %(what)s.", what=label))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            _("%(what)s er ikke en dato. Skriv den som 2020-05-08.", what=label.capitalize())
        ) from None
