"""Compilations list every file of every answer (name, type, size) and the drafters get the
files themselves beside the document; answers from the web form and by hand are cleaned of
greetings and signatures like mailed ones, and what was typed is kept.

The DOCX is read back with python-docx, the drafters' mail from the recording SMTP server."""

from __future__ import annotations

import io
import json
from datetime import datetime

import docx
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from innspill.config.settings import Settings
from innspill.demo.scenario import DEMO_PDF, reply_mail
from innspill.documents.layout import ATTACHMENTS_NOTE, NO_ATTACHMENTS
from innspill.inbound.answers import attach_file, register_answer
from innspill.inbound.intake import import_mail
from innspill.models import Answer, Document
from innspill.models.db import session_scope
from innspill.process.loading import get_definition
from tests.conftest import SEED_ID, Run, load_seed, ok, oslo, tick_and_send
from tests.hostile_corpus import docx as small_docx
from tests.smtp_sink import Received, SmtpSink

STEP = "innspill-retningslinjer"
DRAFTER = "utkast@vegvesen.example"
FORM_TEXTS = {
    "rolle": "Hei!\n\nVi mener sekretariatet skal være partsnøytralt.",
    "organisering": (
        "Sekretariatet bør ligge hos fylkeskommunen.\n\n"
        "Med vennlig hilsen\nKari Nordmann\nRådgiver, sekretariatet i Bergen\n"
        "Tlf. 55 00 00 00 / mobil 900 00 000\nSendt fra min iPhone"
    ),
}
LETTER = (
    "God dag,\n\nStyringsgruppen i Trondheim slutter seg til forslaget.\n\n"
    "Vennlig hilsen\nOla Nordmann\nseksjonsleder\n+47 73 00 00 00"
)
DOCX_BYTES = small_docx()


def body_and_tables(data: bytes) -> tuple[list[str], dict[str, list[list[str]]]]:
    """Paragraphs under each Heading 1, and its tables as rows of cell texts (header too)."""
    document = docx.Document(io.BytesIO(data))
    paragraphs: dict[str, list[str]] = {}
    tables: dict[str, list[list[str]]] = {}
    heading = ""
    for block in document.element.body.iterchildren():
        if block.tag == qn("w:p"):
            paragraph = Paragraph(block, document)
            if paragraph.style is not None and paragraph.style.name == "Heading 1":
                heading = paragraph.text
            elif paragraph.text:
                paragraphs.setdefault(heading, []).append(paragraph.text)
        elif block.tag == qn("w:tbl"):
            table = Table(block, document)
            tables.setdefault(heading, []).extend(
                ["\n".join(p.text for p in cell.paragraphs) for cell in row.cells]
                for row in table.rows
            )
    return list(paragraphs.get("Vedlegg", [])), tables


def compilations(smtp: SmtpSink) -> list[Received]:
    return [r for r in smtp.handler.to(DRAFTER) if r.subject.startswith("Sammenstilling")]


def answer(engine: Engine, who: str, at: datetime, **kwargs: object) -> None:
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        row = register_answer(
            session,
            definition,
            step_id=STEP,
            participant_id=who,
            at=at,
            **kwargs,  # type: ignore[arg-type]
        )
        if who == "bergen-sekretariat":
            attach_file(session, row, filename="Kart over området.docx", data=DOCX_BYTES)


def test_the_compilation_lists_every_file_and_the_drafters_get_them_beside_it(
    engine: Engine, settings: Settings, smtp: SmtpSink, cli: Run
) -> None:
    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 3, 30, 9, 30))
    mailed = oslo(2020, 5, 14, 14, 20)
    with session_scope(engine) as session:  # Oslo replies to the mail, with a PDF
        raw = reply_mail(
            session,
            get_definition(session, SEED_ID),
            STEP,
            "oslo-akershus-sekretariat",
            mailed,
            texts={"rolle": "Oslo om rollen."},
            pdf=True,
        )
        assert import_mail(session, raw, source="t", uid="1", received_at=mailed, now=mailed)
    # Bergen through the web form (as its handler calls it), with a Word file
    answer(
        engine,
        "bergen-sekretariat",
        oslo(2020, 5, 25, 16, 5),
        texts=FORM_TEXTS,
        channel="form",
        registered_by="nettskjema",
    )
    # Trondheim's letter, registered by hand
    ok(
        cli(
            "answer",
            "add",
            SEED_ID,
            STEP,
            "trondheim-sekretariat",
            "--text",
            f"organisering={LETTER}",
            "--at",
            "2020-05-27T09:30",
        )
    )

    # The form and the letter are kept as given, and count cleaned, like a mailed reply.
    with Session(engine) as session:
        rows = {
            a.participant_key: a
            for a in session.exec(select(Answer).order_by(col(Answer.id))).all()
        }
    bergen = json.loads(rows["bergen-sekretariat"].text_json)
    assert bergen == {
        "rolle": "Vi mener sekretariatet skal være partsnøytralt.",
        "organisering": "Sekretariatet bør ligge hos fylkeskommunen.",
    }
    assert json.loads(rows["bergen-sekretariat"].raw_json) == FORM_TEXTS
    letter = json.loads(rows["trondheim-sekretariat"].text_json)
    assert letter == {"organisering": "Styringsgruppen i Trondheim slutter seg til forslaget."}
    assert "73 00 00 00" in rows["trondheim-sekretariat"].raw_json
    assert rows["oslo-akershus-sekretariat"].raw_json == ""  # the raw mail is kept instead

    # 3 June: the compilation goes to the drafters, with every file beside it.
    tick_and_send(engine, settings, oslo(2020, 6, 3, 9, 5))
    (mail,) = compilations(smtp)
    files = {p.get_filename(): p for p in mail.message.iter_attachments()}
    assert list(files) == [
        "sammenstilling-innspill-retningslinjer-v1.docx",
        "sammenstilling-innspill-retningslinjer-v1.html",
        "Oslo og Akershus - innspill-oslo-og-akershus.pdf",
        "Bergen - Kart over området.docx",
    ]
    assert files["Oslo og Akershus - innspill-oslo-og-akershus.pdf"].get_content() == DEMO_PDF
    assert files["Bergen - Kart over området.docx"].get_content() == DOCX_BYTES
    text = " ".join(mail.text().split())
    assert "Filene deltakerne sendte med innspillene, ligger også ved" in text
    assert "- Bergen - Kart over området.docx" in text

    document = files["sammenstilling-innspill-retningslinjer-v1.docx"].get_content()
    with Session(engine) as session:
        stored = session.exec(select(Document)).one()
        assert stored.content == document
        page = stored.html or ""
    notes, tables = body_and_tables(document)
    assert notes == [ATTACHMENTS_NOTE] and NO_ATTACHMENTS not in page
    assert tables["Vedlegg"] == [
        ["Deltaker", "Fil", "Type", "Størrelse"],
        [
            "Sekretariatet for byvekstavtalen i Oslo og Akershus",
            "innspill-oslo-og-akershus.pdf",
            "PDF",
            f"{len(DEMO_PDF)} byte",
        ],
        [
            "Sekretariatet for byvekstavtalen i Bergen",
            "Kart over området.docx",
            "Word (.docx)",
            f"{len(DOCX_BYTES)} byte",
        ],
    ]
    assert "Kart over området.docx" in page and "Word (.docx)" in page
    cells = [cell for rows_ in tables.values() for row in rows_ for cell in row]
    for unwanted in ("Hei", "hilsen", "900 00 000", "73 00 00 00", "iPhone", "Rådgiver"):
        assert not [c for c in cells if unwanted in c], unwanted
    assert "Vi mener sekretariatet skal være partsnøytralt." in cells
    assert "Styringsgruppen i Trondheim slutter seg til forslaget." in cells


def test_files_beyond_what_a_mail_carries_are_named_not_attached(
    engine: Engine, settings: Settings, smtp: SmtpSink, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from innspill.outbound import step_parts

    monkeypatch.setattr(step_parts, "MAX_FILES_IN_MAIL", len(DOCX_BYTES) - 1)
    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 3, 30, 9, 30))
    answer(engine, "bergen-sekretariat", oslo(2020, 5, 25, 16, 5), texts={"rolle": "Ja."})
    tick_and_send(engine, settings, oslo(2020, 6, 3, 9, 5))
    (mail,) = compilations(smtp)
    names = [p.get_filename() for p in mail.message.iter_attachments()]
    assert "Bergen - Kart over området.docx" not in names
    text = " ".join(mail.text().split())
    assert "for store til å sendes med e-posten" in text
    assert "- Bergen - Kart over området.docx" in text
