"""Replies as mail programs write them: greetings, sign-offs, signature blocks, device lines,
quoted headers and forwarded letters are left out of the answer, and what remains is split
theme by theme, with text that names no theme kept as general remarks."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

import pytest

from innspill.inbound.intake import GENERAL, split_by_themes
from innspill.inbound.parse import InboundKind, parse_mail
from innspill.inbound.text import reply_text
from innspill.process.definition import Theme

TOKEN = "abcdefghijklmnopqrstuvwxyz234567"
THEMES = [
    Theme(id="rolle", title="Sekretariatets rolle"),
    Theme(id="organisering", title="Organisering"),
]
ANSWER = "Vi støtter forslaget.\nSekretariatet bør ligge hos fylket."


def mail(text: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Kari Nordmann <kari@bergen.byvekst.example>"
    msg["To"] = f"byvekst-innspill+{TOKEN}@vegvesen.example"
    msg["Subject"] = f"SV: Invitasjon til innspill [ref:{TOKEN}]"
    msg["Message-ID"] = "<reply.1@bergen.byvekst.example>"
    msg.set_content(text)
    return msg.as_bytes(policy=SMTP)


def own(text: str) -> str:
    parsed = parse_mail(mail(text))
    assert parsed.kind is InboundKind.ANSWER
    return parsed.text


SIGNATURE = "Kari Nordmann\nRådgiver, Bergen kommune\nTlf. 55 56 00 00\nkari@bergen.example\n"


@pytest.mark.parametrize(
    "greeting", ["Hei,", "Hei", "Hei alle,", "God dag.", "Hallo!", "Hei Kari,", "Kjære alle,"]
)
@pytest.mark.parametrize(
    "sign_off",
    [
        "Med vennlig hilsen",
        "Mvh",
        "Mvh Kari",
        "Vennlig hilsen",
        "Beste hilsen",
        "Med venleg helsing",
        "Med venlig hilsen",
        "Med vänliga hälsningar",
        "Hilsen",
    ],
)
def test_greeting_sign_off_and_signature_block_are_left_out(greeting: str, sign_off: str) -> None:
    text = f"{greeting}\n\n{ANSWER}\n\n{sign_off}\n{SIGNATURE}"
    assert own(text) == ANSWER


@pytest.mark.parametrize(
    "tail",
    [
        "Sendt fra min iPhone",
        "Sent from my iPhone",
        "Sendt fra min iPad",
        "Hent Outlook for iOS",
        "-- \nKari Nordmann\nRådgiver\n",
        "--\nKari Nordmann | Bergen kommune | 55 56 00 00\n",
    ],
)
def test_device_lines_and_the_signature_separator_are_left_out(tail: str) -> None:
    assert own(f"{ANSWER}\n\n{tail}\n") == ANSWER


@pytest.mark.parametrize(
    "quoted",
    [
        # Outlook, English and Norwegian, with the rule Outlook draws above it.
        "________________________________\nFrom: Statens vegvesen <post@vegvesen.example>\n"
        "Sent: Monday, March 30, 2020 9:00 AM\nTo: Kari\nSubject: Invitasjon\n\nVi inviterer.",
        "Fra: Statens vegvesen <post@vegvesen.example>\nSendt: mandag 30. mars 2020 09:00\n"
        "Til: Kari\nEmne: Invitasjon\n\nVi inviterer.",
        "*From:* Statens vegvesen\n*Sent:* 30 March 2020\n\nVi inviterer.",
        # Gmail's attributions, English and Norwegian, also when Gmail wraps them.
        "On Mon, 30 Mar 2020 at 09:00, Statens vegvesen <post@vegvesen.example> wrote:\n\n"
        "> Vi inviterer.",
        "Den man. 30. mar. 2020 kl. 09:00 skrev Statens vegvesen <post@vegvesen.example>:\n"
        "> Vi inviterer.",
        "man. 30. mar. 2020 kl. 09:00 skrev Statens vegvesen <\npost@vegvesen.example>:\n"
        "Vi inviterer.",
        "30.03.2020 09:00 skrev Statens vegvesen <post@vegvesen.example>:\nVi inviterer.",
        # Forwarded letters.
        "---------- Forwarded message ---------\nFrom: Statens vegvesen\nDate: Mon\n\nVi ...",
        "---------- Videresendt melding ----------\nFra: Statens vegvesen\n\nVi inviterer.",
        "Begynn videresendt melding:\n\nFra: Statens vegvesen\nDato: 30. mars\n\nVi inviterer.",
        "-----Opprinnelig melding-----\nFra: Statens vegvesen\nSendt: 30. mars\n\nVi inviterer.",
    ],
)
def test_quoted_headers_attributions_and_forwarded_letters_are_left_out(quoted: str) -> None:
    text = f"Hei,\n\n{ANSWER}\n\nMed vennlig hilsen\n{SIGNATURE}\n{quoted}\n"
    assert own(text) == ANSWER
    # Also with no sign-off: the quoted part alone is cut.
    assert own(f"{ANSWER}\n\n{quoted}\n") == ANSWER


def test_the_demos_reply_gives_three_themes_and_no_general_text() -> None:
    """The reply that once made 'Hei, Her er innspillet vårt.' a theme and put the sign-off in
    the last theme's cell."""
    text = (
        "Hei,\n\nHer er innspillet vårt.\n\n"
        "Sekretariatets rolle\nSekretariatet skal støtte styringsgruppen.\n\n"
        "Organisering\nEn felles stilling i fylket.\nMed en stedfortreder.\n\n"
        "Med vennlig hilsen\nSekretariatet for byvekstavtalen i Bergen\n\n"
        "01.06.2020 skrev Statens vegvesen <byvekst-innspill@vegvesen.example>:\n"
        "> Hei\n> Vi viser til ...\n"
    )
    texts = split_by_themes(own(text), THEMES)
    assert texts == {
        "rolle": "Sekretariatet skal støtte styringsgruppen.",
        "organisering": "En felles stilling i fylket.\nMed en stedfortreder.",
    }


def test_text_before_the_first_theme_is_general_and_kept() -> None:
    text = (
        "Hei alle,\n\nVi har to merknader, og en generell: tidsplanen er for stram.\n\n"
        "Organisering\nEn felles stilling.\n\nMvh\nPer\n"
    )
    texts = split_by_themes(own(text), THEMES)
    assert texts == {
        GENERAL: "Vi har to merknader, og en generell: tidsplanen er for stram.",
        "organisering": "En felles stilling.",
    }


def test_greeting_on_the_line_of_the_answer_and_a_covering_sentence() -> None:
    assert own(f"Hei, her kommer våre merknader:\n\n{ANSWER}\n") == ANSWER
    assert own(f"Hei, {ANSWER}\n") == ANSWER
    assert own(f"Takk for muligheten til å gi innspill.\n\n{ANSWER}\nMvh Kari") == ANSWER


def test_a_reply_that_is_only_courtesies_keeps_its_words() -> None:
    # Held as empty, the reply would be lost; it may be all they wrote beside a PDF.
    assert (
        own("Hei,\n\nHer er innspillet vårt.\n\nMvh\nKari\n") == "Hei,\n\nHer er innspillet vårt."
    )
    assert own("Hei, her er vårt innspill.") == "Hei, her er vårt innspill."


def test_words_of_the_answer_that_look_like_courtesies_are_kept() -> None:
    # A sentence about greetings, "hilsen" inside a line, and a sign-off followed by more
    # answer than a signature holds.
    answer = (
        "Hilsen fra styringsgruppen ble godt mottatt.\n"
        "Vi sender en hilsen til alle sekretariatene.\n"
        "Møtet den 2. juni skrev vi referat fra."
    )
    assert own(answer) == answer
    sentence = "Takk for invitasjonen til å gi innspill. Vi støtter forslaget."
    assert own(f"Hei,\n\n{sentence}\n\nMvh Kari") == sentence
    long_tail = "\n".join(f"Punkt {n}: mer tekst." for n in range(1, 16))
    text = f"{ANSWER}\n\nMed vennlig hilsen\n{long_tail}"
    assert own(text) == text


def test_html_reply_with_signature_and_gmail_quote() -> None:
    assert (
        reply_text("Vi har ingen merknader.\n\nBeste hilsen\nPer\nSendt fra min iPhone")
        == "Vi har ingen merknader."
    )
