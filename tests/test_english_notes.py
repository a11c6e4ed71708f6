"""The engine's English notes, as the pages say them in bokmål and nynorsk: the leaks issue 17
found ("8 of 9 answered", "auto-reply (...)", "already treated", "place of halvdagsmote: ...",
"participant added: ...", "treated, meeting ...", "treatment_reminder <...>") and the rest."""

from __future__ import annotations

import pytest

from innspill import i18n
from innspill.dashboard.labels import Text, answered
from innspill.dashboard.pages.english import say

CASES = [
    ("8 of 9 answered", "8 av 9 har svart", "8 av 9 har svara", ""),
    ("already treated", "alt behandlet", "alt behandla", ""),
    (
        "auto-reply (Auto-Submitted: auto-replied)",
        "kjent igjen på",
        "kjend att på",
        "Auto-Submitted: auto-replied",
    ),
    (
        "place of halvdagsmote: Videomøte -> Oslo",
        "sted for halvdagsmote: Videomøte → Oslo",
        "stad for halvdagsmote: Videomøte → Oslo",
        "",
    ),
    (
        "start of halvdagsmote: 09:00:00 -> 10:00:00; end of halvdagsmote: 12:30:00 -> 13:30:00",
        "start for halvdagsmote: 09.00 → 10.00; slutt for halvdagsmote: 12.30 → 13.30",
        "start for halvdagsmote: 09.00 → 10.00; slutt for halvdagsmote: 12.30 → 13.30",
        "",
    ),
    (
        "participant added: tromso-sekretariat",
        "deltaker lagt til: tromso-sekretariat",
        "deltakar lagd til: tromso-sekretariat",
        "",
    ),
    (
        "treated, meeting 2020-06-25, decided 2020-06-25: Ja.",
        "behandlet, møte 25. juni 2020, vedtak 25. juni 2020: Ja.",
        "behandla, møte 25. juni 2020, vedtak 25. juni 2020: Ja.",
        "",
    ),
    (
        "treatment_reminder <innspill.1@vegvesen.example>",
        "Påminnelse om behandling",
        "Påminning om behandling",
        "<innspill.1@vegvesen.example>",
    ),
    ("version 2 by form", "versjon 2, skjema", "versjon 2, skjema", ""),
    (
        "new deadline 2020-05-08: Møtet er flyttet",
        "ny frist 8. mai 2020: Møtet er flyttet",
        "ny frist 8. mai 2020: Møtet er flyttet",
        "",
    ),
    (
        "message 5: replaces version 1; confirmed (auto_reply)",
        "melding nr. 5: erstatter versjon 1; bekreftet (automatisk svar)",
        "melding nr. 5: erstattar versjon 1; stadfesta (automatisk svar)",
        "",
    ),
    (
        "auto-reply (Precedence: bulk) (dismissed by kari)",
        "lagt til side av kari: kjent igjen på",
        "lagd til sides av kari: kjend att på",
        "Precedence: bulk",
    ),
]


@pytest.mark.parametrize(("note", "nb", "nn", "code"), CASES)
def test_a_note_is_said_in_each_language(note: str, nb: str, nn: str, code: str) -> None:
    with i18n.using("nb"):
        said = answered(note) if note.endswith("answered") else say(note)
        assert (said if isinstance(said, str) else said.text) == nb
        if not isinstance(said, str):
            assert (said.lang, said.code) == (None, code)
    with i18n.using("nn"):
        said = answered(note) if note.endswith("answered") else say(note)
        assert (said if isinstance(said, str) else said.text) == nn


def test_a_note_of_an_unknown_form_is_marked_as_english() -> None:
    assert say("something the engine says one day") == Text(
        "something the engine says one day", lang="en"
    )
    assert say("") == Text("")
