"""Labels and formats for what the pages show, in the request's language (innspill.i18n); the
code's words stay English. The labels are marked with `N_` and translated when looked up."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time

from innspill.i18n import N_, Labels, current, gettext, ngettext
from innspill.process.nbformat import nbdate, nbtime
from innspill.process.workdays import OSLO
from innspill.status import Phrase

STEP_KINDS = Labels(
    {
        "request": N_("Innspill"),
        "compilation": N_("Sammenstilling"),
        "meeting": N_("Møte"),
        "circulation": N_("Oversendelse til behandling"),
    }
)
STEP_STATES = Labels(
    {
        "not started": N_("Ikke startet"),
        "open": N_("Åpen"),
        "overdue": N_("Over fristen"),
        "done": N_("Ferdig"),
        "closed": N_("Avsluttet"),
    }
)
MESSAGE_KINDS = Labels(
    {
        "invitation": N_("Invitasjon"),
        "reminder": N_("Påminnelse"),
        "overdue": N_("Purring"),
        "deadline_changed": N_("Endret frist"),
        "compilation": N_("Sammenstilling"),
        "meeting_invitation": N_("Møteinnkalling"),
        "meeting_reminder": N_("Påminnelse om møte"),
        "meeting_cancel": N_("Avlysning av møte"),
        "circulation": N_("Oversendelse til behandling"),
        "treatment_reminder": N_("Påminnelse om behandling"),
        "receipt": N_("Kvittering"),
        "compile": N_("Ny versjon av sammenstillingen lages"),
    }
)
EVENT_KINDS = Labels(
    {
        "process_loaded": N_("Prosessen ble lastet inn"),
        "process_updated": N_("Prosessfilen ble endret"),
        "deadline_changed": N_("Fristen ble endret"),
        "message_queued": N_("Melding lagt i utboksen"),
        "message_sent": N_("Melding sendt"),
        "message_deferred": N_("Sending utsatt (prøves igjen)"),
        "message_failed": N_("Sending feilet"),
        "address_failing": N_("Adressen feiler (retur)"),
        "inbound_assigned": N_("Innkommende e-post knyttet til deltaker"),
        "answer_received": N_("Svar mottatt"),
        "treatment_changed": N_("Behandling registrert"),
        "attendance_registered": N_("Oppmøte registrert"),
        "compilation_made": N_("Sammenstilling laget"),
        "draft_registered": N_("Utkast registrert"),
        "calendar_reply": N_("Kalendersvar registrert"),
        "inbound_dismissed": N_("Innkommende e-post lagt til side"),
        "message_resent": N_("Melding sendt på nytt"),
        "reminder_queued": N_("Påminnelse lagt i utboksen manuelt"),
    }
)
#: Why the planner will not send a due message (innspill.planning), in the request's language.
SKIP_REASONS = Labels(
    {
        "already answered": N_("har alt svart"),
        "the participant's address is failing (bounced)": N_(
            "adressen feiler (meldinger kommer i retur)"
        ),
        "the process has ended": N_("prosessen er avsluttet"),
        "the draft is on the body's agenda": N_("utkastet er satt på sakskartet"),
        "already treated": N_("alt behandlet"),
        "a reminder was sent by hand today": N_("en påminnelse ble sendt manuelt i dag"),
        "the step has closed": N_("steget tar ikke lenger imot innspill"),
        "the draft has been circulated": N_("utkastet er sendt til behandling"),
        "the invitation did not reach them (failed; resend it)": N_(
            "invitasjonen kom ikke fram (den feilet; send den på nytt)"
        ),
    }
)

#: The actor of an event the engine recorded on its own.
SYSTEM_ACTOR = N_("systemet")


def event_kind(kind: str) -> str:
    """The label of an event kind; `<message kind>_skipped` says which was not sent."""
    if kind in EVENT_KINDS:
        return EVENT_KINDS[kind]
    if kind.endswith("_skipped"):
        what = kind.removesuffix("_skipped")
        return gettext("Ikke sendt: %(kind)s") % {"kind": MESSAGE_KINDS.get(what, what)}
    return kind


MESSAGE_STATUSES = Labels(
    {
        "pending": N_("Venter"),
        "sending": N_("Sendes"),
        "sent": N_("Sendt"),
        "failed": N_("Feilet"),
        "combined": N_("Sendt sammen med en annen invitasjon"),
    }
)
ROLES = Labels(
    {
        "secretariat": N_("Sekretariat"),
        "steering_group": N_("Styringsgruppe"),
        "drafter": N_("Utreder"),
    }
)
#: A role's participants as a group (the process page's tables by role).
ROLE_GROUPS = Labels(
    {
        "secretariat": N_("Sekretariater"),
        "steering_group": N_("Styringsgrupper"),
        "drafter": N_("Utredere"),
    }
)
CHANNELS = Labels(
    {"email": N_("E-post"), "form": N_("Skjema"), "registered": N_("Registrert manuelt")}
)


def label(table: dict[str, str], key: str) -> str:
    """The label of a code word, or the word itself when none is known."""
    return table.get(key, key) or key


def counted(kind: str) -> str:
    """What a step's count counts: treatments of a draft, or answers."""
    return gettext("har behandlet") if kind == "circulation" else gettext("har svart")


def times(n: int) -> str:
    return ngettext("%(n)s gang", "%(n)s ganger", n) % {"n": n}


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


#: Weekdays as the pages say them (the months are the same in nb and nn).
WEEKDAYS = {
    "nb": ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
    "nn": ("måndag", "tysdag", "onsdag", "torsdag", "fredag", "laurdag", "sundag"),
}


def fmt_weekday(day: date) -> str:
    """`mandag 1. juni 2020` (nynorsk `måndag 1. juni 2020`), in the request's language."""
    return f"{WEEKDAYS.get(current(), WEEKDAYS['nb'])[day.weekday()]} {nbdate(day)}"


def iso_local(value: datetime | None) -> str:
    """`2020-03-30 09:00`, in Europe/Oslo: for CSV files."""
    return value.astimezone(OSLO).strftime("%Y-%m-%d %H:%M") if value else ""


def countdown(days: int | None) -> str:
    """Days left to a deadline, as people say it."""
    if days is None:
        return ""
    if days == 0:
        return gettext("i dag")
    if days == 1:
        return gettext("i morgen")
    if days > 1:
        return gettext("om %(n)s dager") % {"n": days}
    if days == -1:
        return gettext("i går")
    return gettext("for %(n)s dager siden") % {"n": -days}


@dataclass(frozen=True)
class Text:
    """A text to show, and its language when it is not the page's (notes we cannot translate)."""

    text: str
    lang: str | None = None
    code: str = ""  # data said with it, shown as code (a header, a Message-ID)


def _(message: str, **values: object) -> str:
    """`message` in the request's language, filled in with `values` (`%(name)s`)."""
    return gettext(message) % values if values else gettext(message)


def _on_agenda(date: date | None) -> str:
    if date:
        return _("På sakskartet for møtet %(date)s", date=fmt_date(date))
    return _("På sakskartet")


def _treated(date: date | None, decision: str) -> str:
    said = _("Behandlet %(date)s", date=fmt_date(date)) if date else _("Behandlet")
    return _("%(treated)s: %(decision)s", treated=said, decision=decision) if decision else said


def _clock(value: time | datetime) -> str:
    return f"{value:%H.%M}"


def _short_date(value: datetime) -> str:
    return f"{value:%d.%m.%Y}"


def _received(n: int) -> str:
    return ngettext("Mottatt %(n)s versjon", "Mottatt %(n)s versjoner", n) % {"n": n}


# The wording of each phrase code of innspill.status (its ENGLISH table), in the request's
# language.
WORDING: dict[str, Callable[..., str]] = {
    "not_invited": lambda: _("Ikke invitert ennå"),
    "invited": lambda: _("Invitert"),
    "invited_updated": lambda n: _("Invitert (oppdatert %(times)s)", times=times(n)),
    "attended": lambda: _("Deltok"),
    "absent": lambda: _("Deltok ikke"),
    "attended_count": lambda n: _("%(n)s deltok", n=n),
    "cancelled": lambda: _("Avlyst"),
    "reply_accepted": lambda: _("Har takket ja i kalenderen"),
    "reply_declined": lambda: _("Har takket nei i kalenderen"),
    "reply_tentative": lambda: _("Har svart kanskje i kalenderen"),
    "meeting_time": lambda start, end, place: _(
        "kl. %(start)s–%(end)s, %(place)s", start=_clock(start), end=_clock(end), place=place
    ),
    "compiled": lambda version, made, summary: _(
        "Versjon %(version)s av %(day)s kl. %(time)s: %(summary)s",
        version=version,
        day=_short_date(made),
        time=_clock(made),
        summary=answered(summary),
    ),
    "nothing_to_compile": lambda: _("Ingen svar å sammenstille ennå"),
    "received": _received,
    "not_received": lambda: _("Ikke mottatt ennå"),
    "draft_version": lambda version, filename: _(
        "Utkast versjon %(version)s: %(filename)s", version=version, filename=filename
    ),
    "draft_not_sent": lambda: _("Utkastet er ikke sendt ennå"),
    "draft_failed": lambda: _("Utkastet kom ikke fram (meldingen feilet)"),
    "pending": lambda: _("Venter på behandling"),
    "pending_reminded": lambda n: _("Venter på behandling, påminnet %(times)s", times=times(n)),
    "on_agenda": _on_agenda,
    "treated": _treated,
}
BOKMAL = WORDING  # the name the tests knew it by


def answered(summary: str) -> str:
    """A compilation's own note, "6 of 9 answered" (innspill.documents.store), as the pages
    say it; any other text as it is."""
    match = re.fullmatch(r"(\d+) of (\d+) answered", summary)
    if not match:
        return summary
    return _("%(n)s av %(total)s har svart", n=match[1], total=match[2])


def translate(text: str) -> Text:
    """A status text from innspill.status in the request's language; a text without a code
    keeps its English."""
    if not text:
        return Text("")
    if isinstance(text, Phrase) and text.code in WORDING:
        return Text(WORDING[text.code](**text.values))
    return Text(text, lang="en")


def file_size(size: int) -> str:
    """`12 kB`, `3,4 MB`: a file's size as people read it."""
    if size < 1000:
        return f"{size} byte"
    if size < 1_000_000:
        return f"{size / 1000:.0f} kB"
    return f"{size / 1_000_000:.1f} MB".replace(".", ",")
