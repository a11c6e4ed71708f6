"""The answer form's wording in each language the e-mail templates are written in.

The form speaks to a body, as the letters do: "dere" (nynorsk "de", "dykk", "dykkar"), never
"du". A participant sees the form in their own language; an unknown language falls back to
bokmål. Values in braces are filled in with str.format.
"""

from __future__ import annotations

from typing import Final

DEFAULT: Final = "nb"

NB: Final = {
    # page frame (answer_base.html)
    "skip": "Hopp til hovedinnholdet",
    "brand": "skjema for innspill",
    "footer": "innspill – innspillsrunder og høringer",
    # the form (answer_form.html)
    "error_prefix": "Feil: ",
    "our_reference": "Vår referanse",
    "not_saved": "Innspillet ble ikke lagret",
    "saved": "Innspillet er mottatt.",
    "saved_receipt": "Dere får en kvittering på e-post.",
    "from": "Innspill fra",
    "deadline": "Frist",
    "deadline_moved": (
        "Fristen var satt til {written}, men det er {day_off}, og da forlenges fristen til "
        "neste arbeidsdag."
    ),
    "status": "Status",
    "sent": "Sendt {when}",
    "version": "(versjon {version})",
    "not_sent": "Ikke sendt ennå",
    "late": "Fristen er ute, men dere kan fortsatt sende innspill.",
    "late_detail": (
        "Innspill som kommer nå, blir tatt med og merket som mottatt etter fristen. "
        "Skjemaet er åpent til og med {closes}."
    ),
    "closed": "Skjemaet er stengt.",
    "closed_detail": (
        "Fristen var {deadline}, og innspill etter fristen ble tatt imot til og med {closes}. "
        "Innspillet kan ikke sendes eller endres lenger."
    ),
    "closed_contact": "Ta kontakt med saksbehandler {officer} i {organisation}",
    "closed_contact_end": "hvis dere har spørsmål eller vil gi innspill likevel.",
    "your_answer": "Innspillet deres",
    "no_answer": "Vi har ikke mottatt innspill fra dere.",
    "attachments": "Vedlegg",
    "our_files": "Dokumenter fra oss",
    "our_files_hint": "Sendt med invitasjonen. Last ned:",
    "intro": "Skriv innspillet under temaene det gjelder; dere trenger ikke svare på alle.",
    "intro_change": (
        "Dere kan komme tilbake til denne siden og endre innspillet til og med {deadline}; "
        "det siste dere sender, er det som gjelder."
    ),
    "per_theme": "Innspill per tema",
    "questions": "Spørsmål til hjelp: ",
    "attachments_optional": "Vedlegg (valgfritt)",
    "sent_before": (
        "Sendt fra før (følger med når dere lagrer, om dere ikke krysser av for å fjerne dem):"
    ),
    "remove": "Fjern",
    "add_files": "Legg ved filer",
    "files_hint": (
        "PDF, Word (.docx) eller OpenDocument (.odt), høyst {max_mb} MB per fil og {max_files} "
        "filer i alt. Dere kan velge flere filer samtidig."
    ),
    "save": "Lagre endringer",
    "send": "Send innspill",
    "contact": "Spørsmål om innspillsrunden? Kontakt saksbehandler {officer},",
    # the error page (answer_error.html)
    "error_contact": (
        "Har dere spørsmål, kan dere kontakte saksbehandler {officer} i {organisation}:"
    ),
    "error_reply": "Har dere spørsmål, kan dere svare på e-posten dere fikk lenken i.",
    # messages from answer_form.py
    "closed_notice": "Skjemaet er stengt: innspillet ble ikke lagret.",
    "empty": "Skriv innspillet i minst ett av feltene.",
    "too_long": "Teksten under «{title}» er for lang (høyst {limit} tegn).",
    "too_many_files": (
        "Dere kan sende høyst {max_files} filer i alt (dere valgte {chosen}, og {kept} er "
        "sendt fra før)."
    ),
    "wrong_type": "«{name}» er ikke en PDF-, Word- (.docx) eller OpenDocument-fil (.odt).",
    "unsafe_archive": (
        "«{name}» pakker seg ut til altfor mye data (over 100 MB, eller over 100 ganger sin egen "
        "størrelse) og kan ikke tas imot."
    ),
    "too_big": "«{name}» er større enn {max_mb} MB.",
    "choose_again": "Ingenting ble lagret. Velg filene på nytt og send igjen.",
    "save_failed": "Innspillet kunne ikke lagres. Prøv igjen.",
    "invalid": "Lenken er ugyldig",
    "invalid_detail": (
        "Vi fant ikke skjemaet denne lenken skal åpne. Sjekk at dere har brukt hele lenken fra "
        "e-posten (den kan ha blitt delt over to linjer)."
    ),
    "expired": "Lenken er utløpt",
    "expired_detail": "Innspillsrunden er avsluttet, og skjemaet kan ikke åpnes lenger.",
    "foreign": "Ikke tillatt",
    "foreign_detail": "Skjemaet ble sendt fra en annen nettside.",
    "stale": "Skjemaet var utløpt",
    "stale_detail": (
        "Skjemaet kom ikke fra denne siden eller var for gammelt. Åpne lenken fra e-posten på "
        "nytt og send innspillet igjen."
    ),
    "too_large": "Innspillet er for stort",
    "too_large_detail": (
        "Et innspill kan ha høyst {max_files} filer på inntil {max_mb} MB hver. "
        "Ingenting ble lagret."
    ),
    "unreadable": "Skjemaet kunne ikke leses",
    "unreadable_detail": (
        "Skjemaet hadde for mange felt eller filer, eller en tekst var for lang "
        "(høyst {limit} tegn per tema). Ingenting ble lagret."
    ),
}

NN: Final = {
    "skip": "Hopp til hovudinnhaldet",
    "brand": "skjema for innspel",
    "footer": "innspill – innspelsrundar og høyringar",
    "error_prefix": "Feil: ",
    "our_reference": "Vår referanse",
    "not_saved": "Innspelet vart ikkje lagra",
    "saved": "Innspelet er motteke.",
    "saved_receipt": "De får ei kvittering på e-post.",
    "from": "Innspel frå",
    "deadline": "Frist",
    "deadline_moved": (
        "Fristen var sett til {written}, men det er {day_off}, og då blir fristen forlengd til "
        "neste arbeidsdag."
    ),
    "status": "Status",
    "sent": "Sendt {when}",
    "version": "(versjon {version})",
    "not_sent": "Ikkje sendt enno",
    "late": "Fristen er ute, men de kan framleis sende innspel.",
    "late_detail": (
        "Innspel som kjem no, blir tekne med og merkte som mottekne etter fristen. "
        "Skjemaet er ope til og med {closes}."
    ),
    "closed": "Skjemaet er stengt.",
    "closed_detail": (
        "Fristen var {deadline}, og innspel etter fristen vart tekne imot til og med {closes}. "
        "Innspelet kan ikkje sendast eller endrast lenger."
    ),
    "closed_contact": "Ta kontakt med saksbehandlar {officer} i {organisation}",
    "closed_contact_end": "dersom de har spørsmål eller vil gi innspel likevel.",
    "your_answer": "Innspelet dykkar",
    "no_answer": "Vi har ikkje fått innspel frå dykk.",
    "attachments": "Vedlegg",
    "our_files": "Dokument frå oss",
    "our_files_hint": "Sendt med invitasjonen. Last ned:",
    "intro": "Skriv innspelet under dei tema det gjeld; de treng ikkje svare på alle.",
    "intro_change": (
        "De kan kome tilbake til denne sida og endre innspelet til og med {deadline}; "
        "det siste de sender, er det som gjeld."
    ),
    "per_theme": "Innspel per tema",
    "questions": "Spørsmål til hjelp: ",
    "attachments_optional": "Vedlegg (valfritt)",
    "sent_before": (
        "Sendt frå før (følgjer med når de lagrar, om de ikkje kryssar av for å fjerne dei):"
    ),
    "remove": "Fjern",
    "add_files": "Legg ved filer",
    "files_hint": (
        "PDF, Word (.docx) eller OpenDocument (.odt), høgst {max_mb} MB per fil og {max_files} "
        "filer i alt. De kan velje fleire filer samtidig."
    ),
    "save": "Lagre endringane",
    "send": "Send innspel",
    "contact": "Spørsmål om innspelsrunden? Kontakt saksbehandlar {officer},",
    "error_contact": "Har de spørsmål, kan de kontakte saksbehandlar {officer} i {organisation}:",
    "error_reply": "Har de spørsmål, kan de svare på e-posten de fekk lenkja i.",
    "closed_notice": "Skjemaet er stengt: innspelet vart ikkje lagra.",
    "empty": "Skriv innspelet i minst eitt av felta.",
    "too_long": "Teksten under «{title}» er for lang (høgst {limit} teikn).",
    "too_many_files": (
        "De kan sende høgst {max_files} filer i alt (de valde {chosen}, og {kept} er "
        "sende frå før)."
    ),
    "wrong_type": "«{name}» er ikkje ei PDF-, Word- (.docx) eller OpenDocument-fil (.odt).",
    "unsafe_archive": (
        "«{name}» pakkar seg ut til altfor mykje data (over 100 MB, eller over 100 gonger sin "
        "eigen storleik) og kan ikkje takast imot."
    ),
    "too_big": "«{name}» er større enn {max_mb} MB.",
    "choose_again": "Ingenting vart lagra. Vel filene på nytt og send igjen.",
    "save_failed": "Innspelet kunne ikkje lagrast. Prøv igjen.",
    "invalid": "Lenkja er ugyldig",
    "invalid_detail": (
        "Vi fann ikkje skjemaet denne lenkja skal opne. Sjekk at de har brukt heile lenkja frå "
        "e-posten (ho kan ha blitt delt over to liner)."
    ),
    "expired": "Lenkja har gått ut",
    "expired_detail": "Innspelsrunden er avslutta, og skjemaet kan ikkje opnast lenger.",
    "foreign": "Ikkje tillate",
    "foreign_detail": "Skjemaet vart sendt frå ei anna nettside.",
    "stale": "Skjemaet hadde gått ut",
    "stale_detail": (
        "Skjemaet kom ikkje frå denne sida eller var for gammalt. Opne lenkja frå e-posten på "
        "nytt og send innspelet igjen."
    ),
    "too_large": "Innspelet er for stort",
    "too_large_detail": (
        "Eit innspel kan ha høgst {max_files} filer på inntil {max_mb} MB kvar. "
        "Ingenting vart lagra."
    ),
    "unreadable": "Skjemaet kunne ikkje lesast",
    "unreadable_detail": (
        "Skjemaet hadde for mange felt eller filer, eller ein tekst var for lang "
        "(høgst {limit} teikn per tema). Ingenting vart lagra."
    ),
}

#: The form's texts by language; a language here must have every key of the bokmål texts.
TEXTS: Final = {"nb": NB, "nn": NN}

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
