"""The answer form's wording in each language the e-mail templates are written in.

The texts are the bokmål ids of the gettext catalogs (innspill.i18n): `NB` names them, and
the nynorsk of each is in `innspill/locale/nn/LC_MESSAGES/innspill.po`.

The form speaks to a body, as the letters do: "dere" (nynorsk "de", "dykk", "dykkar"), never
"du". A participant sees the form in their own language; an unknown language falls back to
bokmål. Values in braces are filled in with str.format.
"""

from __future__ import annotations

from typing import Final

from innspill import i18n
from innspill.i18n import N_

DEFAULT: Final = "nb"

NB: Final = {
    # page frame (answer_base.html)
    "skip": N_("Hopp til hovedinnholdet"),
    "brand": N_("skjema for innspill"),
    "footer": N_("innspill – innspillsrunder og høringer"),
    # the form (answer_form.html)
    "error_prefix": N_("Feil: "),
    "our_reference": N_("Vår referanse"),
    "not_saved": N_("Innspillet ble ikke lagret"),
    "saved": N_("Innspillet er mottatt."),
    "saved_receipt": N_("Dere får en kvittering på e-post."),
    "from": N_("Innspill fra"),
    "deadline": N_("Frist"),
    "deadline_moved": N_(
        "Fristen var satt til {written}, men det er {day_off}, og da forlenges fristen til "
        "neste arbeidsdag."
    ),
    "status": N_("Status"),
    "sent": N_("Sendt {when}"),
    "version": N_("(versjon {version})"),
    "not_sent": N_("Ikke sendt ennå"),
    "late": N_("Fristen er ute, men dere kan fortsatt sende innspill."),
    "late_detail": N_(
        "Innspill som kommer nå, blir tatt med og merket som mottatt etter fristen. "
        "Skjemaet er åpent til og med {closes}."
    ),
    "closed": N_("Skjemaet er stengt."),
    "closed_detail": N_(
        "Fristen var {deadline}, og innspill etter fristen ble tatt imot til og med {closes}. "
        "Innspillet kan ikke sendes eller endres lenger."
    ),
    "closed_contact": N_("Ta kontakt med saksbehandler {officer} i {organisation}"),
    "closed_contact_end": N_("hvis dere har spørsmål eller vil gi innspill likevel."),
    "your_answer": N_("Innspillet deres"),
    "no_answer": N_("Vi har ikke mottatt innspill fra dere."),
    "attachments": N_("Vedlegg"),
    "our_files": N_("Dokumenter fra oss"),
    "our_files_hint": N_("Sendt med invitasjonen. Last ned:"),
    "intro": N_("Skriv innspillet under temaene det gjelder; dere trenger ikke svare på alle."),
    "intro_change": N_(
        "Dere kan komme tilbake til denne siden og endre innspillet til og med {deadline}; "
        "det siste dere sender, er det som gjelder."
    ),
    "per_theme": N_("Innspill per tema"),
    "questions": N_("Spørsmål til hjelp: "),
    "attachments_optional": N_("Vedlegg (valgfritt)"),
    "sent_before": N_(
        "Sendt fra før (følger med når dere lagrer, om dere ikke krysser av for å fjerne dem):"
    ),
    "remove": N_("Fjern"),
    "add_files": N_("Legg ved filer"),
    "files_hint": N_(
        "PDF, Word (.docx) eller OpenDocument (.odt), høyst {max_mb} MB per fil og {max_files} "
        "filer i alt. Dere kan velge flere filer samtidig."
    ),
    "save": N_("Lagre endringer"),
    "send": N_("Send innspill"),
    "contact": N_("Spørsmål om innspillsrunden? Kontakt saksbehandler {officer},"),
    # the error page (answer_error.html)
    "error_contact": N_(
        "Har dere spørsmål, kan dere kontakte saksbehandler {officer} i {organisation}:"
    ),
    "error_reply": N_("Har dere spørsmål, kan dere svare på e-posten dere fikk lenken i."),
    # messages from answer_form.py
    "closed_notice": N_("Skjemaet er stengt: innspillet ble ikke lagret."),
    "empty": N_("Skriv innspillet i minst ett av feltene."),
    "too_long": N_("Teksten under «{title}» er for lang (høyst {limit} tegn)."),
    "too_many_files": N_(
        "Dere kan sende høyst {max_files} filer i alt (dere valgte {chosen}, og {kept} er "
        "sendt fra før)."
    ),
    "wrong_type": N_("«{name}» er ikke en PDF-, Word- (.docx) eller OpenDocument-fil (.odt)."),
    "unsafe_archive": N_(
        "«{name}» pakker seg ut til altfor mye data (over 100 MB, eller over 100 ganger sin egen "
        "størrelse) og kan ikke tas imot."
    ),
    "too_big": N_("«{name}» er større enn {max_mb} MB."),
    "choose_again": N_("Ingenting ble lagret. Velg filene på nytt og send igjen."),
    "save_failed": N_("Innspillet kunne ikke lagres. Prøv igjen."),
    "invalid": N_("Lenken er ugyldig"),
    "invalid_detail": N_(
        "Vi fant ikke skjemaet denne lenken skal åpne. Sjekk at dere har brukt hele lenken fra "
        "e-posten (den kan ha blitt delt over to linjer)."
    ),
    "expired": N_("Lenken er utløpt"),
    "expired_detail": N_("Innspillsrunden er avsluttet, og skjemaet kan ikke åpnes lenger."),
    "foreign": N_("Ikke tillatt"),
    "foreign_detail": N_("Skjemaet ble sendt fra en annen nettside."),
    "stale": N_("Skjemaet var utløpt"),
    "stale_detail": N_(
        "Skjemaet kom ikke fra denne siden eller var for gammelt. Åpne lenken fra e-posten på "
        "nytt og send innspillet igjen."
    ),
    "too_large": N_("Innspillet er for stort"),
    "too_large_detail": N_(
        "Et innspill kan ha høyst {max_files} filer på inntil {max_mb} MB hver. "
        "Ingenting ble lagret."
    ),
    "unreadable": N_("Skjemaet kunne ikke leses"),
    "unreadable_detail": N_(
        "Skjemaet hadde for mange felt eller filer, eller en tekst var for lang "
        "(høyst {limit} tegn per tema). Ingenting ble lagret."
    ),
}


def _words(language: str) -> dict[str, str]:
    with i18n.using(language):
        return {key: i18n.gettext(text) for key, text in NB.items()}


#: The form's texts by language, from the catalogs (innspill/locale): every key of NB in each.
TEXTS: Final = {language: _words(language) for language in i18n.LANGUAGES}

#: Weekdays for the deadline ("mandag 1. juni 2020"): the months are the same in nb and nn.
WEEKDAYS: Final = {
    "nb": ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
    "nn": ("måndag", "tysdag", "onsdag", "torsdag", "fredag", "laurdag", "sundag"),
}


def language_of(language: str | None) -> str:
    """The language the form is shown in: the participant's if the form has it, else bokmål."""
    return language if language in TEXTS else DEFAULT


def wording(language: str | None) -> dict[str, str]:
    """The form's texts in `language` (bokmål if the form does not have it)."""
    return TEXTS[language_of(language)]
