"""The archival renderers: each letter, answer, compilation and file comes out as a PDF/A-2b
that identifies itself (XMP pdfaid part 2, conformance B), has an output intent and embeds
every font (read back with pikepdf), and holds the text a reader expects (read with pypdf).
DOCX and ODT go through the real LibreOffice, plain PDF through the real Ghostscript."""

from __future__ import annotations

import http.server
import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage

import pikepdf
import pytest

from innspill.archival.office import Tools, office_to_pdfa, pdf_to_pdfa
from innspill.archival.pages import (
    AnswerFacts,
    Case,
    letter_pdf,
    mail_answer_pdf,
    text_answer_pdf,
)
from innspill.errors import ConversionFailed
from innspill.pdfa.identify import claimed, pdfa_problems
from innspill.pdfa.markdown import Letterhead, document_pdf
from innspill.pdfa.render import Meta, html_to_pdfa
from tests.archival_files import docx_file, odt_file, plain_pdf
from tests.pdf_text import pdf_text

CASE = Case("Statens vegvesen", "Vegdirektoratet", "20/64758", "Innspill til retningslinjer")
SENT = datetime(2020, 3, 30, 7, 15, tzinfo=UTC)  # 09.15 in Oslo


def identified_pdfa_2b(data: bytes) -> None:
    """Read back: the identification, the output intent, every font embedded."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        meta = pdf.open_metadata()
        assert meta["{http://www.aiim.org/pdfa/ns/id/}part"] == "2"
        assert meta["{http://www.aiim.org/pdfa/ns/id/}conformance"] == "B"
        (intent,) = pdf.Root.OutputIntents
        assert intent.S == "/GTS_PDFA1" and "/DestOutputProfile" in intent
        fonts = 0
        for page in pdf.pages:
            for font in page.Resources.Font.values():
                fonts += 1
                inner = font.DescendantFonts[0] if "/DescendantFonts" in font else font
                descriptor = inner.FontDescriptor
                assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor.keys()), font
        assert fonts > 0
    assert pdfa_problems(data) == []
    assert claimed(data) == "PDF/A-2b"


def flat(data: bytes) -> str:
    return " ".join(pdf_text(data).split())


def letter(*, html: str | None = None, text: str | None = "Hei,\n\nVi ber om innspill.") -> bytes:
    msg = EmailMessage()
    msg["From"] = '"Statens vegvesen, Vegdirektoratet" <byvekst-innspill@vegvesen.example>'
    msg["To"] = "Sekretariatet i Bergen <sekretariat@bergen.byvekst.example>"
    msg["Date"] = "Mon, 30 Mar 2020 09:15:00 +0200"
    msg["Subject"] = "Innspill til retningslinjer – frist 27. april 2020"
    msg["Message-ID"] = "<innspill.abc123@vegvesen.example>"
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    msg.add_attachment(b"%PDF-1.4 x", maintype="application", subtype="pdf", filename="oppdrag.pdf")
    return msg.as_bytes()


def test_a_letter_as_sent_is_a_pdfa_letter_page() -> None:
    data = letter_pdf(letter(), CASE)
    identified_pdfa_2b(data)
    text = flat(data)
    for expected in (
        "Statens vegvesen",
        "UTGÅENDE BREV (E-POST)",
        "Sak 20/64758 Innspill til retningslinjer",
        "Fra Statens vegvesen, Vegdirektoratet <byvekst-innspill@vegvesen.example>",
        "Til Sekretariatet i Bergen <sekretariat@bergen.byvekst.example>",
        "Sendt 30. mars 2020 kl. 09.15",
        "Message-ID <innspill.abc123@vegvesen.example>",
        "Vedlegg oppdrag.pdf (application/pdf, 10 byte)",
        "Innspill til retningslinjer – frist 27. april 2020",
        "Vi ber om innspill.",
    ):
        assert expected in text, expected
    assert letter_pdf(letter(), CASE) == data  # the same letter, the same bytes


@pytest.fixture
def web() -> Iterator[list[str]]:
    """A local web server that records every request made to it."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    asked.append(f"http://127.0.0.1:{server.server_address[1]}")
    yield asked
    server.shutdown()


def test_an_html_only_mail_is_made_safe_and_fetches_nothing(web: list[str]) -> None:
    base = web.pop(0)
    html = (
        f'<html><head><link rel="stylesheet" href="{base}/style.css">'
        f"<style>p {{ background: url({base}/bg.png) }}</style></head><body>"
        f'<p>Innspill fra <b>Bergen</b>.</p><img src="{base}/pixel.gif">'
        "<script>document.write('skjult')</script><form><input value='felt'></form>"
        f'<iframe src="{base}/frame"></iframe></body></html>'
    )
    data = letter_pdf(letter(html=html, text=None), CASE)
    identified_pdfa_2b(data)
    text = flat(data)
    assert "Innspill fra Bergen." in text
    assert "skjult" not in text and "document.write" not in text and "felt" not in text
    assert web == []  # nothing was fetched


def test_a_mailed_answer_and_a_form_answer() -> None:
    facts = AnswerFacts(
        participant="Sekretariatet for byvekstavtalen i Bergen",
        address="sekretariat@bergen.byvekst.example",
        received_at=datetime(2020, 4, 8, 11, 40, tzinfo=UTC),
        channel="email",
        registered_by="",
        version=2,
    )
    mailed = mail_answer_pdf(letter(text="Her er innspillet vårt."), CASE, facts)
    identified_pdfa_2b(mailed)
    text = flat(mailed)
    assert "INNGÅENDE INNSPILL" in text and "Mottatt 8. april 2020 kl. 13.40" in text
    assert "Kanal E-post" in text and "Versjon 2" in text and "Her er innspillet vårt." in text
    form = text_answer_pdf(
        CASE,
        AnswerFacts(**{**facts.__dict__, "channel": "registered", "registered_by": "kari"}),
        themes=[
            ("Funksjon, rolle og ansvar", "Første avsnitt.\n\nAndre avsnitt."),
            ("Økonomi", ""),
        ],
        files=[("innspill.docx", "application/msword", 20480)],
    )
    identified_pdfa_2b(form)
    text = flat(form)
    assert "Kanal Registrert manuelt, registrert av kari" in text
    assert "Funksjon, rolle og ansvar Første avsnitt. Andre avsnitt." in text
    assert "Økonomi Ikke besvart." in text
    assert "Vedlegg innspill.docx (application/msword, 20 kB)" in text


def test_a_compilation_from_its_html_and_the_assignment_from_markdown() -> None:
    html = (
        "<!DOCTYPE html><html><head><title>S</title></head><body><h1>Sammenstilling</h1>"
        "<table><tr><th>Deltaker</th><td>Bergen</td></tr></table></body></html>"
    )
    data = html_to_pdfa(html, Meta(title="sammenstilling-v1.docx", author="Statens vegvesen"))
    identified_pdfa_2b(data)
    assert "Sammenstilling Deltaker Bergen" in flat(data)
    assignment = document_pdf(
        "# Oppdrag\n\n## Tema\n\n- **Funksjon:** *hva?*\n- Økonomi\n\n<script>x</script>",
        markdown=True,
        letterhead=Letterhead(
            "Statens vegvesen", "Vegdirektoratet", (("Vår referanse", "20/64758"),)
        ),
        title="Oppdrag",
    )
    identified_pdfa_2b(assignment)
    text = flat(assignment)
    assert "Vår referanse 20/64758 Oppdrag Tema" in text and "Funksjon: hva?" in text
    assert "**" not in text and "<script>x</script>" in text  # raw HTML is shown as text


def test_a_participants_docx_and_odt_are_converted_by_libreoffice() -> None:
    tools = Tools()
    for data, suffix in (
        (docx_file("Innspill fra Bergen", "Sekretariatet bør være partsnøytralt."), ".docx"),
        (odt_file("Innspill fra Tromsø: sekretariatet bør være partsnøytralt."), ".odt"),
    ):
        made = office_to_pdfa(data, suffix=suffix, tools=tools)
        identified_pdfa_2b(made.data)
        assert "partsnøytralt" in flat(made.data)
        assert made.tool is not None and made.tool.startswith("LibreOffice")


def test_a_plain_pdf_goes_through_ghostscript_and_a_pdfa_stays_as_it_is() -> None:
    original = plain_pdf("Innspill fra Grenland æøå.")
    assert claimed(original) is None
    made = pdf_to_pdfa(original, tools=Tools())
    identified_pdfa_2b(made.data)
    assert "Innspill fra Grenland æøå." in flat(made.data)
    assert made.tool is not None and "Ghostscript" in made.tool
    already = letter_pdf(letter(), CASE)
    kept = pdf_to_pdfa(already, tools=Tools())
    assert kept.data == already and kept.tool is None and kept.format_name == "PDF/A-2b"


def test_conversions_that_cannot_be_done_say_why(tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = Tools(soffice=str(tmp_path / "no-soffice"), ghostscript=str(tmp_path / "no-gs"))
    with pytest.raises(ConversionFailed, match=r"LibreOffice \(soffice\) is not installed"):
        office_to_pdfa(docx_file("A", "B"), suffix=".docx", tools=missing)
    with pytest.raises(ConversionFailed, match=r"Ghostscript \(gs\) is not installed"):
        pdf_to_pdfa(plain_pdf("x"), tools=missing)
    with pytest.raises(ConversionFailed, match="LibreOffice could not convert"):
        office_to_pdfa(b"PK\x03\x04 not a zip at all", suffix=".docx", tools=Tools())
    slow = tmp_path / "slow-soffice"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    with pytest.raises(ConversionFailed, match="took more than 1 s and was stopped"):
        office_to_pdfa(
            docx_file("A", "B"), suffix=".docx", tools=Tools(soffice=str(slow), timeout=1)
        )
