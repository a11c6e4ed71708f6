"""The receipt renders for every participant and says what was received, theme by theme."""

from __future__ import annotations

from datetime import date, datetime
from html.parser import HTMLParser

import pytest

from innspill.outbound.templates import render
from innspill.process.definition import RequestStep, load_definition
from innspill.process.workdays import OSLO
from tests.conftest import SEED

DEFINITION = load_definition(SEED)
STEP = DEFINITION.step("innspill-retningslinjer")
assert isinstance(STEP, RequestStep)


def context(participant_id: str, **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "process": DEFINITION.process,
        "sender": DEFINITION.sender,
        "participant": DEFINITION.participant(participant_id),
        "step": STEP,
        "themes": DEFINITION.themes_of(STEP),
        "answer_texts": [(t.title, f"Tekst om {t.title.lower()}.") for t in DEFINITION.themes],
        "general_text": "",
        "files": ["innspill.pdf"],
        "version": 1,
        "received_at": datetime(2020, 5, 25, 16, 5, tzinfo=OSLO),
        "deadline": date(2020, 6, 2),  # written as 1 June (Whit Monday): in effect
        "written_deadline": date(2020, 6, 1),
        "closes": date(2020, 6, 3),
        "late": False,
        "channel": "email",
        "letter_date": date(2020, 5, 26),
        "reply_to": "byvekst-innspill@vegvesen.example",
        "answer_url": None,
    }
    values.update(overrides)
    return values


@pytest.mark.parametrize("participant", [p.id for p in DEFINITION.audience(STEP.id)])
def test_receipt_renders_for_every_participant(participant: str) -> None:
    rendered = render("receipt", "nb", context(participant))
    assert "\n" not in rendered.subject and "Kvittering" in rendered.subject
    assert "20/64758" in rendered.subject
    assert "25. mai 2020 kl. 16.05" in rendered.text
    for theme in DEFINITION.themes:
        assert f"Tekst om {theme.title.lower()}." in rendered.text
    assert "innspill.pdf" in rendered.text and "<" not in rendered.text
    HTMLParser().feed(rendered.html)


def test_a_second_version_says_so_and_html_in_the_answer_is_escaped() -> None:
    rendered = render(
        "receipt",
        "nb",
        context(
            "bergen-sekretariat",
            version=2,
            answer_texts=[("Organisering", "<script>alert(1)</script>")],
        ),
    )
    assert "(versjon 2)" in rendered.subject
    assert "Den siste versjonen er den som gjelder" in " ".join(rendered.text.split())
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
