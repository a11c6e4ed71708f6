"""Bokmål labels and formats for what the pages show; the code's words stay English."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from innspill.process.nbformat import nbdate, nbtime
from innspill.process.workdays import OSLO
from innspill.status import Phrase

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
    "closed": "Avsluttet",
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
    "receipt": "Kvittering",
    "compile": "Ny versjon av sammenstillingen lages",
}
EVENT_KINDS = {
    "process_loaded": "Prosessen ble lastet inn",
    "process_updated": "Prosessfilen ble endret",
    "deadline_changed": "Fristen ble endret",
    "message_queued": "Melding lagt i utboksen",
    "message_sent": "Melding sendt",
    "message_deferred": "Sending utsatt (prøves igjen)",
    "message_failed": "Sending feilet",
    "address_failing": "Adressen feiler (retur)",
    "inbound_assigned": "Innkommende e-post knyttet til deltaker",
    "answer_received": "Svar mottatt",
    "treatment_changed": "Behandling registrert",
    "attendance_registered": "Oppmøte registrert",
    "compilation_made": "Sammenstilling laget",
    "draft_registered": "Utkast registrert",
}
#: The actor of an event the engine recorded on its own.
SYSTEM_ACTOR = "systemet"


def event_kind(kind: str) -> str:
    """The bokmål label of an event kind; `<message kind>_skipped` says which was not sent."""
    if kind in EVENT_KINDS:
        return EVENT_KINDS[kind]
    if kind.endswith("_skipped"):
        what = kind.removesuffix("_skipped")
        return f"Ikke sendt: {MESSAGE_KINDS.get(what, what)}"
    return kind


MESSAGE_STATUSES = {
    "pending": "Venter",
    "sending": "Sendes",
    "sent": "Sendt",
    "failed": "Feilet",
    "combined": "Sendt sammen med en annen invitasjon",
}
ROLES = {
    "secretariat": "Sekretariat",
    "steering_group": "Styringsgruppe",
    "drafter": "Utreder",
}
#: A role's participants as a group (the process page's tables by role).
ROLE_GROUPS = {
    "secretariat": "Sekretariater",
    "steering_group": "Styringsgrupper",
    "drafter": "Utredere",
}
CHANNELS = {"email": "E-post", "form": "Skjema", "registered": "Registrert manuelt"}


def label(table: dict[str, str], key: str) -> str:
    """The bokmål label of a code word, or the word itself when none is known."""
    return table.get(key, key)


def counted(kind: str) -> str:
    """What a step's count counts: treatments of a draft, or answers."""
    return "har behandlet" if kind == "circulation" else "har svart"


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


def _on_agenda(date: date | None) -> str:
    return f"På sakskartet for møtet {fmt_date(date)}" if date else "På sakskartet"


def _treated(date: date | None, decision: str) -> str:
    return ("Behandlet " + fmt_date(date)).strip() + (f": {decision}" if decision else "")


# The bokmål wording of each phrase code of innspill.status (its ENGLISH table).
BOKMAL: dict[str, Callable[..., str]] = {
    "not_invited": lambda: "Ikke invitert ennå",
    "invited": lambda: "Invitert",
    "invited_updated": lambda n: f"Invitert (oppdatert {times(n)})",
    "attended": lambda: "Deltok",
    "absent": lambda: "Deltok ikke",
    "attended_count": lambda n: f"{n} deltok",
    "cancelled": lambda: "Avlyst",
    "reply_accepted": lambda: "Har takket ja i kalenderen",
    "reply_declined": lambda: "Har takket nei i kalenderen",
    "reply_tentative": lambda: "Har svart kanskje i kalenderen",
    "meeting_time": lambda start, end, place: f"kl. {start:%H.%M}–{end:%H.%M}, {place}",
    "compiled": lambda version, made, summary: (
        f"Versjon {version} av {made:%d.%m.%Y} kl. {made:%H.%M}: {_answered(summary)}"
    ),
    "nothing_to_compile": lambda: "Ingen svar å sammenstille ennå",
    "received": lambda n: "Mottatt 1 versjon" if n == 1 else f"Mottatt {n} versjoner",
    "not_received": lambda: "Ikke mottatt ennå",
    "draft_version": lambda version, filename: f"Utkast versjon {version}: {filename}",
    "draft_not_sent": lambda: "Utkastet er ikke sendt ennå",
    "draft_failed": lambda: "Utkastet kom ikke fram (meldingen feilet)",
    "pending": lambda: "Venter på behandling",
    "pending_reminded": lambda n: f"Venter på behandling, påminnet {times(n)}",
    "on_agenda": _on_agenda,
    "treated": _treated,
}


def _answered(summary: str) -> str:
    # A compilation's own note: "6 of 9 answered" (innspill.documents.store).
    match = re.fullmatch(r"(\d+) of (\d+) answered", summary)
    return f"{match[1]} av {match[2]} har svart" if match else summary


def translate(text: str) -> Text:
    """A status text from innspill.status in bokmål; a text without a code keeps its English."""
    if not text:
        return Text("")
    if isinstance(text, Phrase) and text.code in BOKMAL:
        return Text(BOKMAL[text.code](**text.values))
    return Text(text, lang="en")


def file_size(size: int) -> str:
    """`12 kB`, `3,4 MB`: a file's size as people read it."""
    if size < 1000:
        return f"{size} byte"
    if size < 1_000_000:
        return f"{size / 1000:.0f} kB"
    return f"{size / 1_000_000:.1f} MB".replace(".", ",")
