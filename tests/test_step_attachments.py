"""A step's intro and attachments, and one invitation for the steps that open together.

Checked against real components: process files and attachments on disk, the database (SQLite
or PostgreSQL), the tick, the recording SMTP server, inbound import and the answer form.
"""

from __future__ import annotations

import asyncio
import email
import json
import re
from collections.abc import Iterator
from email.policy import default
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.deps import get_now
from innspill.engine import tick
from innspill.errors import DefinitionError
from innspill.inbound.intake import import_mail
from innspill.models import (
    Answer,
    FileContent,
    MessageStatus,
    OutboxMessage,
    StepAttachment,
    TokenPurpose,
)
from innspill.models.db import session_scope
from innspill.outbound.compose import Outgoing
from innspill.outbound.outbox import dispatch
from innspill.outbound.transport import SmtpTransport
from innspill.pdfa.identify import pdfa_problems
from innspill.process.attachments import MAX_ATTACHMENT_BYTES
from innspill.process.definition import load_definition
from innspill.process.loading import load_file
from innspill.tokens import derive
from tests.conftest import SEED, SEED_FILES, SEED_ID, copy_seed_files, oslo
from tests.hostile_corpus import docx, zip_bomb
from tests.pdf_text import pdf_text

PDF_BYTES = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
OUTGOING = Outgoing(
    reply_to="byvekst-innspill@vegvesen.example",
    secret="test-secret-key-for-attachments",
    public_url="https://innspill.example",
)
DAY_ONE = oslo(2020, 3, 30, 9, 15)
#: A participant who writes bokmål, and Bergen, who writes nynorsk.
TRONDHEIM, TRONDHEIM_ADDRESS = "trondheim-sekretariat", "sekretariat@trondheim.byvekst.example"
BERGEN, BERGEN_ADDRESS = "bergen-sekretariat", "sekretariat@bergen.byvekst.example"
ATTACHMENTS = (
    'attachments = [{ file = "oppdrag.md", title = { nb = "Forslag til oppdrag", '
    'nn = "Forslag til oppdrag" } }]'
)


def seed_copy(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    """The seed, edited, written to tmp_path with its attachments beside it."""
    text = SEED.read_text("utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "prosess.toml"
    path.write_text(text, encoding="utf-8")
    copy_seed_files(tmp_path)
    return path


SECOND_STEP = (
    'id = "innspill-retningslinjer"\nkind = "request"\n',
    'id = "innspill-retningslinjer"\nkind = "request"\n'
    'attachments = ["Høringsbrev.pdf", "oppdrag.md"]\n',
)


# --- validate -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("mangler.pdf", None, "no such file beside the process file"),
        ("program.exe", b"MZ", "files of type .exe cannot be attached"),
        ("omdøpt.pdf", b"just text", "the content is not a .pdf file"),
        ("stor.pdf", b"%PDF-" + b"0" * MAX_ATTACHMENT_BYTES, "attachments may be at most"),
        ("/etc/passwd.txt", None, "give the bare name of a file beside the process file"),
    ],
)
def test_validate_names_the_file_the_step_and_the_field(
    tmp_path: Path, cli, name: str, content: bytes | None, expected: str
) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    path = seed_copy(
        tmp_path,
        (ATTACHMENTS, f'attachments = ["oppdrag.md", "{name}"]'),
    )
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    (problem,) = caught.value.problems
    assert problem.file == str(path)
    assert problem.field == "steps[0].attachments[1]"
    assert "step 'innspill-oppdrag'" in problem.message and expected in problem.message
    result = cli("validate", str(path))
    assert result.exit_code != 0
    assert f"{path}: steps[0].attachments[1]: '{name}' (step 'innspill-oppdrag')" in result.output


#: Names that could reach a file outside the process file's folder, or look like another name.
NOT_BARE = [
    "../hemmelig.txt",
    "../../../../../../etc/hostname.txt",
    "vedlegg/oppdrag.md",
    "./oppdrag.md",
    "oppdrag.md/",
    "/etc/hemmelig.txt",
    "~/hemmelig.txt",
    "~hemmelig.txt",
    ".hemmelig.txt",
    "..",
    " oppdrag.md",
    "oppdrag.md ",
    "C:hemmelig.txt",
    "H\u00f8ringsbrev.md".replace("\u00f8", "o\u0308"),  # NFD: not the name it shows
    "opp\u202edm.txt",  # a right-to-left override hides the real extension
    "oppdrag\x00.md",
    "oppdrag\\..\\hemmelig.md",
]


@pytest.mark.parametrize("name", NOT_BARE)
def test_a_name_that_is_not_bare_is_refused_alike_whether_the_file_exists(
    tmp_path: Path, name: str
) -> None:
    messages = []
    for exists in (False, True):
        root = tmp_path / str(exists)
        folder = root / "runde" / "prosess"
        folder.mkdir(parents=True)
        # The file the name would reach, wherever that is (never outside tmp_path).
        if exists and "\x00" not in name:
            target = (folder / name.lstrip("/~").removeprefix("C:")).resolve()
            if root in target.parents and not target.is_dir():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("hemmelig", "utf-8")
        toml = f"attachments = [{json.dumps(name)}]"  # a TOML basic string, escapes and all
        path = seed_copy(folder, (ATTACHMENTS, toml))
        with pytest.raises(DefinitionError) as caught:
            load_definition(path)
        (problem,) = caught.value.problems
        assert problem.field == "steps[0].attachments[0]"
        messages.append(problem.message)
    assert messages[0] == messages[1]
    assert "give the bare name of a file beside the process file" in messages[0]


def test_a_link_out_of_the_folder_is_refused_whether_its_target_exists(tmp_path: Path) -> None:
    outside = tmp_path / "utenfor"
    outside.mkdir()
    (outside / "hemmelig.md").write_text("hemmelig", "utf-8")
    folder = tmp_path / "prosess"
    folder.mkdir()
    (folder / "finnes.md").symlink_to(outside / "hemmelig.md")
    (folder / "mangler.md").symlink_to(outside / "mangler.md")
    (folder / "lokal.md").symlink_to(folder / "oppdrag.md")  # inside the folder: taken
    path = seed_copy(
        folder,
        (
            ATTACHMENTS,
            'attachments = ["finnes.md", "mangler.md", "lokal.md"]',
        ),
    )
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    first, second = caught.value.problems
    assert (first.field, second.field) == ("steps[0].attachments[0]", "steps[0].attachments[1]")
    assert first.message.replace("finnes", "mangler") == second.message
    assert "a link to a file elsewhere is not taken" in first.message


@pytest.mark.parametrize("odt", [False, True])
def test_a_zip_bomb_is_refused_as_a_draft_is(tmp_path: Path, cli, odt: bool) -> None:
    name = "bombe.odt" if odt else "bombe.docx"
    (tmp_path / name).write_bytes(zip_bomb(total_mb=300, odt=odt))
    (tmp_path / "ekte.docx").write_bytes(docx())
    path = seed_copy(tmp_path, (ATTACHMENTS, f'attachments = ["ekte.docx", "{name}"]'))
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    (problem,) = caught.value.problems  # the real DOCX is taken
    assert problem.field == "steps[0].attachments[1]"
    assert "unpacks to 300 MB (at most 100 MB): refused as unsafe" in problem.message
    result = cli("validate", str(path))
    assert result.exit_code == 1 and "refused as unsafe" in result.output
    assert "Traceback" not in result.output


def test_a_zip_that_is_no_document_is_refused_by_content(tmp_path: Path) -> None:
    (tmp_path / "arkiv.docx").write_bytes(docx().replace(b"word/document.xml", b"word/other.xml"))
    path = seed_copy(tmp_path, (ATTACHMENTS, 'attachments = ["arkiv.docx"]'))
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    assert "the content is not a .docx file" in caught.value.problems[0].message


def test_the_seed_validates_with_its_attachment(cli) -> None:
    result = cli("validate", str(SEED))
    assert result.exit_code == 0, result.output


# --- load -----------------------------------------------------------------------------------


def _contents(session: Session) -> list[tuple[str, int]]:
    return [
        (r.sha256, r.size)
        for r in session.exec(select(FileContent).order_by(col(FileContent.created_at))).all()
    ]


def _links(session: Session) -> list[tuple[str, int, str, str]]:
    return [
        (r.step_key, r.position, r.filename, r.sha256)
        for r in session.exec(
            select(StepAttachment).order_by(
                col(StepAttachment.step_key), col(StepAttachment.position)
            )
        ).all()
    ]


def test_load_stores_each_content_once_and_a_changed_file_as_new_content(
    tmp_path: Path, engine
) -> None:
    import hashlib

    (tmp_path / "Høringsbrev.pdf").write_bytes(PDF_BYTES)
    path = seed_copy(tmp_path, SECOND_STEP)
    assignment = tmp_path / "oppdrag.md"
    pdf = hashlib.sha256(PDF_BYTES).hexdigest()
    with session_scope(engine) as session:
        assert load_file(session, path, now=oslo(2020, 3, 27, 8)).outcome == "created"
    with session_scope(engine) as session:
        # The assignment (sent as the PDF made from its Markdown) is attached to both steps:
        # one content row, three links.
        contents = {r.sha256: r for r in session.exec(select(FileContent)).all()}
        assert len(contents) == 2 and pdf in contents
        (first,) = set(contents) - {pdf}
        assert contents[first].content_type == "application/pdf"
        assert pdfa_problems(contents[first].data) == []
        assert "Formålet med retningslinjene" in pdf_text(contents[first].data)
        assert _links(session) == [
            ("innspill-oppdrag", 0, "oppdrag.pdf", first),
            ("innspill-retningslinjer", 0, "Høringsbrev.pdf", pdf),
            ("innspill-retningslinjer", 1, "oppdrag.pdf", first),
        ]
    with session_scope(engine) as session:  # the same files again: the same PDF, no change
        assert load_file(session, path, now=oslo(2020, 3, 27, 9)).outcome == "unchanged"
    assignment.write_bytes(assignment.read_bytes() + b"\nEndret 27. mars.\n")
    with session_scope(engine) as session:
        report = load_file(session, path, now=oslo(2020, 3, 27, 10))
    assert report.outcome == "updated"
    assert report.changes == [
        "attachment oppdrag.pdf of innspill-oppdrag: new content",
        "attachment oppdrag.pdf of innspill-retningslinjer: new content",
    ]
    with session_scope(engine) as session:
        shas = {sha for sha, _ in _contents(session)}
        assert len(shas) == 3 and {first, pdf} < shas  # the old one is kept
        (second,) = shas - {first, pdf}
        assert [link[3] for link in _links(session)] == [second, pdf, second]
        assert "Endret 27. mars." in pdf_text(session.get(FileContent, second).data)


# --- the combined invitation ----------------------------------------------------------------


@pytest.fixture
def day_one(tmp_path: Path, engine, smtp) -> Iterator[tuple[Settings, Path]]:
    """The seed (with a non-ASCII PDF on its second step) loaded, day one ticked and sent."""
    (tmp_path / "Høringsbrev.pdf").write_bytes(PDF_BYTES)
    path = seed_copy(tmp_path, SECOND_STEP)
    with session_scope(engine) as session:
        load_file(session, path, now=oslo(2020, 3, 27, 8))
    settings = Settings(
        data_dir=tmp_path / "data",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_timeout=5,
        _env_file=None,  # type: ignore[call-arg]
    )
    tick(engine, now=DAY_ONE, outgoing=OUTGOING)
    asyncio.run(dispatch(engine, SmtpTransport(settings), now=DAY_ONE))
    yield settings, tmp_path


def test_one_invitation_per_participant_carries_both_steps_and_every_file(
    day_one, engine, smtp
) -> None:
    _settings, folder = day_one
    assert len(smtp.received) == 9
    assert len({r.rcpt_tos[0] for r in smtp.received}) == 9
    received = smtp.handler.to(TRONDHEIM_ADDRESS)[0]
    message = received.message
    files = list(message.iter_attachments())
    assert [(p.get_filename(), p.get_content_type()) for p in files] == [
        ("oppdrag.pdf", "application/pdf"),
        ("Høringsbrev.pdf", "application/pdf"),
        ("oppdrag.pdf", "application/pdf"),
    ]
    # The assignment arrives as a PDF/A made from oppdrag.md: letterhead, reference, text.
    assignment = files[0].get_payload(decode=True)
    assert pdfa_problems(assignment) == []
    text_of_pdf = " ".join(pdf_text(assignment).split())
    assert "Statens vegvesen" in text_of_pdf and "Vår referanse 20/64758" in text_of_pdf
    assert "Dato 30. mars 2020" in text_of_pdf and "Saksbehandler Kari Nordmann" in text_of_pdf
    assert "Formålet med retningslinjene" in text_of_pdf and "**" not in text_of_pdf
    assert files[2].get_payload(decode=True) == assignment
    assert files[1].get_payload(decode=True) == PDF_BYTES
    assert (folder / "oppdrag.md").read_bytes().startswith(b"# Oppdrag")
    # The non-ASCII name as RFC 2231 in the raw header.
    assert b"attachment; filename*=utf-8''H%C3%B8ringsbrev.pdf\r\n" in received.data
    text = " ".join(message.get_body(preferencelist=("plain",)).get_content().split())
    html = message.get_body(preferencelist=("html",)).get_content()
    for title in ("Innspill til oppdraget", "Innspill til retningslinjer for sekretariatene"):
        assert title in text and title in html
    assert "tas opp som sak i styringsgruppen" in text  # the first step's intro
    # Each part says what it asks, its deadline, its files (by their titles) and its form.
    assert "Temaer i del 1 -------------- 1. Merknader til forslaget til oppdrag" in text
    assert "Temaer i del 2 -------------- 1. Funksjon, rolle og ansvar" in text
    assert "Frist for del 1 er mandag 27. april 2020." in text
    assert "Frist for del 2 er tirsdag 2. juni 2020. Fristen var satt til 1. juni 2020," in text
    assert "Vedlegg: Forslag til oppdrag (oppdrag.pdf)" in text
    assert "Vedlegg: Høringsbrev.pdf, oppdrag.pdf" in text
    for step in ("innspill-oppdrag", "innspill-retningslinjer"):
        assert f"https://innspill.example/svar/{_token(step, TRONDHEIM)}" in text
    # One reply address for both parts: the reply says which part it answers.
    assert "skriv «Del 1» eller «Del 2» på første linje" in text
    assert str(message["Reply-To"]) == (
        f"byvekst-innspill+{_token('innspill-oppdrag', TRONDHEIM, TokenPurpose.PARTS)}"
        "@vegvesen.example"
    )
    assert "Vi viser til saken" not in text  # the first letter opens with the matter itself
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.participant_key == TRONDHEIM)
            .order_by(col(OutboxMessage.id))
        ).all()
    assert [(r.step_key, r.kind, r.status) for r in rows] == [
        ("innspill-oppdrag", "invitation", MessageStatus.SENT),
        ("innspill-retningslinjer", "invitation", MessageStatus.COMBINED),
    ]
    assert rows[1].carried_by == rows[0].key and rows[1].raw == b""


def test_a_second_tick_sends_nothing_and_reminders_stay_per_step(day_one, engine, smtp) -> None:
    settings, _ = day_one
    tick(engine, now=oslo(2020, 3, 30, 13), outgoing=OUTGOING)
    asyncio.run(dispatch(engine, SmtpTransport(settings), now=oslo(2020, 3, 30, 13)))
    assert len(smtp.received) == 9
    # 5 working days before 27 April: a reminder of the first step only.
    now = oslo(2020, 4, 20, 9, 5)
    report = tick(engine, now=now, outgoing=OUTGOING)
    assert {(a.step_id, a.kind.value) for a in report.queued} == {("innspill-oppdrag", "reminder")}
    asyncio.run(dispatch(engine, SmtpTransport(settings), now=now))
    reminder = smtp.handler.to(TRONDHEIM_ADDRESS)[-1]
    text = reminder.text().replace("\r\n", "\n")
    assert "invitasjonen til «Innspill til oppdraget»" in " ".join(text.split())
    # The files on a line of their own, by their titles: no file name mid-sentence.
    assert "\nVedlegg til invitasjonen: Forslag til oppdrag (oppdrag.pdf)\n" in text
    assert "var vedlagt invitasjonen" not in text
    assert "om fem arbeidsdager" in " ".join(text.split())
    # A reminder is about one step: its own reply address.
    assert str(reminder.message["Reply-To"]) == (
        f"byvekst-innspill+{_token('innspill-oppdrag', TRONDHEIM, TokenPurpose.REPLY)}"
        "@vegvesen.example"
    )


def _reply(original: email.message.EmailMessage, to: str, body: str, sender: str) -> bytes:
    reply = email.message.EmailMessage()
    reply["From"] = f"Sekretariatet <{sender}>"
    reply["To"] = to
    reply["Subject"] = f"SV: {original['Subject']}"
    reply["Message-ID"] = f"<{abs(hash((to, body)))}@byvekst.example>"
    reply["In-Reply-To"] = str(original["Message-ID"])
    reply.set_content(body)
    return reply.as_bytes(policy=default)


#: Replies to the invitation in two parts, and where each goes: a step, or held (None).
PART_REPLIES = [
    # The line the invitation asks for, then the part's own headings.
    ("Del 1\n\nMerknader til forslaget til oppdrag\nIngen merknader.", "innspill-oppdrag"),
    ("del 2:\nVi ber om at retningslinjene omtaler fullmakter.", "innspill-retningslinjer"),
    # No "Del" line: the headings of one part tell it.
    ("Organisering\nSekretariatet bør ligge i fylkeskommunen.", "innspill-retningslinjer"),
    ("Behandling i styringsgruppen\nI møtet 6. mai.", "innspill-oppdrag"),
    # The part's title as a heading.
    ("Innspill til oppdraget\n\nVi slutter oss til forslaget.", "innspill-oppdrag"),
    # Nothing says which part: held, never filed under part 1.
    ("Takk for invitasjonen. Vi kommer tilbake til saken.", None),
    # Both parts in one reply: held.
    ("Del 1\nIngen merknader.\n\nDel 2\nOrganisering\nI fylkeskommunen.", None),
    ("Merknader til forslaget til oppdrag\nIngen.\n\nOrganisering\nSe vedlegg.", None),
]


def test_replies_to_the_invitation_in_two_parts_go_to_the_part_they_answer_or_are_held(
    day_one, engine, smtp
) -> None:
    message = smtp.handler.to(TRONDHEIM_ADDRESS)[0].message
    own = str(message["Reply-To"])
    now = oslo(2020, 4, 2, 10)
    with session_scope(engine) as session:
        results = [
            import_mail(
                session,
                _reply(message, own, body, TRONDHEIM_ADDRESS),
                source="t",
                uid=str(n),
                received_at=now,
                now=now,
            ).message
            for n, (body, _) in enumerate(PART_REPLIES)
        ]
    for row, (body, step) in zip(results, PART_REPLIES, strict=True):
        if step is None:
            assert (row.status, row.step_key) == ("held", None), body
            assert row.participant_key == TRONDHEIM  # whose it is, for the person who assigns
        else:
            assert (row.status, row.step_key) == ("accepted", step), (body, row.reason)
    assert "does not say which part" in (results[5].reason or "")
    assert "part 1, «Innspill til oppdraget» and part 2" in (results[6].reason or "")
    with Session(engine) as session:
        found = session.exec(
            select(Answer.step_key, Answer.version, Answer.text_json)
            .where(Answer.participant_key == TRONDHEIM)
            .order_by(col(Answer.step_key), col(Answer.version))
        ).all()
    by_step: dict[str, list[dict[str, str]]] = {}
    for step_key, _version, text_json in found:
        by_step.setdefault(step_key, []).append(json.loads(text_json))
    assert by_step["innspill-oppdrag"][0] == {"merknader": "Ingen merknader."}
    # The line that only said which part is not part of the answer.
    assert by_step["innspill-retningslinjer"][0] == {
        "": "Vi ber om at retningslinjene omtaler fullmakter."
    }
    assert by_step["innspill-retningslinjer"][1] == {
        "organisering": "Sekretariatet bør ligge i fylkeskommunen."
    }


def test_a_reply_about_one_part_that_names_another_is_held(day_one, engine, smtp) -> None:
    """A reply to a mail about part 2 alone (here: its reminder's address) that has the
    headings of part 1 only is not filed under part 2."""
    message = smtp.handler.to(TRONDHEIM_ADDRESS)[0].message
    second = (
        f"byvekst-innspill+{_token('innspill-retningslinjer', TRONDHEIM, TokenPurpose.REPLY)}"
        "@vegvesen.example"
    )
    now = oslo(2020, 4, 2, 10)
    with session_scope(engine) as session:
        wrong = import_mail(
            session,
            _reply(
                message, second, "Merknader til forslaget til oppdrag\nIngen.", TRONDHEIM_ADDRESS
            ),
            source="t",
            uid="w",
            received_at=now,
            now=now,
        ).message
        right = import_mail(
            session,
            _reply(message, second, "Vi har ingen flere innspill.", TRONDHEIM_ADDRESS),
            source="t",
            uid="r",
            received_at=now,
            now=now,
        ).message
    assert (wrong.status, wrong.step_key) == ("held", None)
    assert "sent about part 2" in (wrong.reason or "") and "names part 1" in (wrong.reason or "")
    assert (right.status, right.step_key) == ("accepted", "innspill-retningslinjer")


def test_a_nynorsk_reply_is_placed_by_its_nynorsk_headings(day_one, engine, smtp) -> None:
    """Bergen writes nynorsk: its invitation gives the nynorsk titles, and its reply uses them."""
    message = smtp.handler.to(BERGEN_ADDRESS)[0].message
    text = " ".join(message.get_body(("plain",)).get_content().split())
    assert "Tema i del 2 ------------ 1. Funksjon, rolle og ansvar" in text
    assert "skriv «Del 1» eller «Del 2» på første linja" in text
    now = oslo(2020, 4, 2, 10)
    body = "Behandling i styringsgruppa\nStyringsgruppa tek det opp 23. april."
    with session_scope(engine) as session:
        row = import_mail(
            session,
            _reply(message, str(message["Reply-To"]), body, BERGEN_ADDRESS),
            source="t",
            uid="nn",
            received_at=now,
            now=now,
        ).message
    assert (row.status, row.step_key) == ("accepted", "innspill-oppdrag")
    with Session(engine) as session:
        answer = session.exec(select(Answer).where(Answer.participant_key == BERGEN)).one()
    assert json.loads(answer.text_json) == {
        "styringsgruppe": "Styringsgruppa tek det opp 23. april."
    }


# --- the answer form ------------------------------------------------------------------------


@pytest.fixture
def form(day_one, database_url) -> Iterator[TestClient]:
    _settings, folder = day_one
    app = create_app(
        Settings(
            data_dir=folder / "data",
            database_url=database_url,
            secret_key=OUTGOING.secret,
            _env_file=None,  # type: ignore[call-arg]
        )
    )
    app.dependency_overrides[get_now] = lambda: oslo(2020, 4, 2, 10)
    with TestClient(app) as client:
        yield client


def _token(step: str, who: str = TRONDHEIM, purpose=TokenPurpose.FORM) -> str:
    """The token the tick put in the mail (derived from the same secret)."""
    return derive(OUTGOING.secret or "", purpose, SEED_ID, step, who)


def test_the_form_lists_the_steps_files_and_serves_them_only_with_the_token(
    form: TestClient, day_one
) -> None:
    _ = day_one
    token = _token("innspill-retningslinjer")
    page = form.get(f"/svar/{token}")
    assert page.status_code == 200
    assert f'href="/svar/{token}/vedlegg/1"' in page.text
    assert f'href="/svar/{token}/vedlegg/2"' in page.text
    assert "Høringsbrev.pdf" in page.text and "Dokumenter fra oss" in page.text
    assert "Formålet med retningslinjene" in page.text  # the step's intro
    # Bergen's form is nynorsk, the process file's texts included; the files by their titles.
    nynorsk = form.get(f"/svar/{_token('innspill-oppdrag', BERGEN)}").text
    assert '<html lang="nn">' in nynorsk and "Dokument frå oss" in nynorsk
    assert "Innspel til oppdraget" in nynorsk and "Merknader til forslaget til oppdrag" in nynorsk
    assert "Når tek styringsgruppa opp oppdraget som sak?" in nynorsk
    assert "Forslag til oppdrag (oppdrag.pdf)" in nynorsk
    assert "Innspill til oppdraget" not in nynorsk and "Funksjon, rolle" not in nynorsk
    pdf = form.get(f"/svar/{token}/vedlegg/1")
    assert pdf.status_code == 200 and pdf.content == PDF_BYTES
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert pdf.headers["content-disposition"] == (
        "attachment; filename=\"H_ringsbrev.pdf\"; filename*=utf-8''H%C3%B8ringsbrev.pdf"
    )
    assert pdf.headers["cache-control"] == "no-store"
    assert "oppdrag.pdf" in page.text and "oppdrag.md" not in page.text
    assignment = form.get(f"/svar/{token}/vedlegg/2")
    assert pdfa_problems(assignment.content) == []
    assert "Formålet med retningslinjene" in pdf_text(assignment.content)
    assert assignment.headers["content-type"] == "application/pdf"
    assert assignment.headers["content-disposition"] == 'attachment; filename="oppdrag.pdf"'
    # Nothing without a valid form token: not a made-up one, not a reply token, not past the end.
    assert form.get(f"/svar/{'a' * 32}/vedlegg/1").status_code == 404
    reply_token = _token("innspill-retningslinjer", purpose=TokenPurpose.REPLY)
    assert form.get(f"/svar/{reply_token}/vedlegg/1").status_code == 404
    assert form.get(f"/svar/{token}/vedlegg/3").status_code == 404
    assert form.get(f"/svar/{token}/vedlegg/0").status_code == 404
    form.app.dependency_overrides[get_now] = lambda: oslo(2020, 7, 1, 9)  # type: ignore[attr-defined]
    assert form.get(f"/svar/{token}/vedlegg/1").status_code == 403


def test_a_step_without_files_lists_none(form: TestClient) -> None:
    # innspill-oppdrag carries only oppdrag.md (as oppdrag.pdf); kristiansand's form lists it.
    token = _token("innspill-oppdrag", "kristiansand-sekretariat")
    page = form.get(f"/svar/{token}")
    assert page.text.count(f"/svar/{token}/vedlegg/") == 1
    with session_scope(form.app.state.engine) as session:  # type: ignore[attr-defined]
        assert session.exec(select(func.count()).select_from(FileContent)).one() == 2
    assert SEED_FILES.is_dir()


# --- exactly once ---------------------------------------------------------------------------


def test_concurrent_ticks_record_each_combined_invitation_once_across_chunks(engine) -> None:
    """More participants than a chunk, two steps opening together, three ticks at once: every
    participant gets one message, and each carried invitation is recorded with its carrier."""
    import threading

    from innspill.engine import CHUNK
    from innspill.process.definition import parse_definition
    from innspill.process.loading import store_definition
    from tests.test_crash import big_process

    participants = CHUNK + 100
    text = big_process(participants) + (
        '\n[[steps]]\nid = "innspill-2"\nkind = "request"\ntitle = "Innspill, del 2"\n'
        "opens = 2020-03-30\ndeadline = 2020-05-27\n"
    )
    definition = parse_definition(text, file="krasjtest.toml")
    with session_scope(engine) as session:
        store_definition(session, definition, source="krasjtest.toml", now=oslo(2020, 3, 30, 8))
    reports = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(tick(engine, now=oslo(2020, 3, 30, 9, 30), outgoing=OUTGOING))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    assert sum(len(r.queued) for r in reports) == 2 * participants
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage)).all()
    sent = {r.key: r for r in rows if r.status == MessageStatus.PENDING}
    carried = [r for r in rows if r.status == MessageStatus.COMBINED]
    assert len(sent) == len(carried) == participants
    assert {r.step_key for r in sent.values()} == {"innspill"}
    for row in carried:
        carrier = sent[row.carried_by or ""]
        assert (row.step_key, carrier.participant_key) == ("innspill-2", row.participant_key)
        body = email.message_from_bytes(carrier.raw, policy=default).get_body(("plain",))
        assert body is not None and "Innspill, del 2" in body.get_content()


def test_the_intro_is_plain_text_escaped_in_the_html_part() -> None:
    from datetime import date

    from innspill.outbound.compose import outbox_row
    from innspill.planning.actions import Action, ActionKind
    from innspill.process.definition import parse_definition

    old = 'intro = [\n  { nb = "Det er behov'
    assert old in SEED.read_text("utf-8")
    evil = '"Svar <b>før</b> fristen & <script>alert(1)</script>",\n  '
    text = SEED.read_text("utf-8").replace(old, old.replace("{ nb", evil + "{ nb"), 1)
    definition = parse_definition(text)
    action = Action(
        SEED_ID,
        "innspill-oppdrag",
        TRONDHEIM,
        ActionKind.INVITATION,
        "1",
        date(2020, 4, 27),
    )
    raw = outbox_row(definition, action, now=DAY_ONE).raw
    message = email.message_from_bytes(raw, policy=default)
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    plain = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Svar &lt;b&gt;før&lt;/b&gt; fristen &amp; &lt;script&gt;" in html
    assert "<script>" not in html and "<b>" not in html
    assert "Svar <b>før</b> fristen & <script>alert(1)</script>" in plain


def test_two_attachments_with_one_file_name_are_refused_by_the_schema() -> None:
    from innspill.process.definition import parse_definition

    assert ATTACHMENTS in SEED.read_text("utf-8")
    text = SEED.read_text("utf-8").replace(
        ATTACHMENTS,
        'attachments = ["oppdrag.md", "oppdrag.md"]',
    )
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, file="p.toml")
    (problem,) = caught.value.problems
    assert problem.field == "steps[0].attachments"
    assert "the same file name" in problem.message


def test_the_message_view_of_a_carried_invitation_shows_the_message_sent(
    day_one, engine, database_url
) -> None:
    from innspill.dashboard.auth.users import create_user

    _settings, folder = day_one
    with session_scope(engine) as session:
        create_user(session, "saksbehandler", "et langt passord for testen", now=DAY_ONE)
    with Session(engine) as session:
        carried = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.status == MessageStatus.COMBINED,
                OutboxMessage.participant_key == TRONDHEIM,
            )
        ).first()
    assert carried is not None
    app = create_app(
        Settings(data_dir=folder / "data", database_url=database_url, _env_file=None)  # type: ignore[call-arg]
    )
    app.dependency_overrides[get_now] = lambda: oslo(2020, 4, 2, 10)
    with TestClient(app) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        data = {
            "username": "saksbehandler",
            "password": "et langt passord for testen",
            "next": "/",
            "csrf_token": token.group(1),
        }
        assert client.post("/login", data=data, follow_redirects=False).status_code == 303
        shown = client.get(f"/messages/{carried.id}")
        assert shown.status_code == 200
        assert "Invitasjon til innspill i to deler" in shown.text


def test_a_held_reply_to_the_two_parts_is_assigned_by_hand_without_its_part_lines(
    day_one, engine, smtp
) -> None:
    from innspill.inbound.intake import assign

    message = smtp.handler.to(TRONDHEIM_ADDRESS)[0].message
    both = "Del 1\nIngen merknader.\n\nDel 2\nSe vedlagte notat."
    now = oslo(2020, 4, 2, 10)
    with session_scope(engine) as session:
        held = import_mail(
            session,
            _reply(message, str(message["Reply-To"]), both, TRONDHEIM_ADDRESS),
            source="t",
            uid="both",
            received_at=now,
            now=now,
        ).message
        assert (held.status, held.step_key) == ("held", None)
        # The case officer reads it and files it under part 1 (part 2 she asks for again).
        row = assign(
            session,
            held.id or 0,
            process_id=SEED_ID,
            step_id="innspill-oppdrag",
            participant_id=TRONDHEIM,
            by="kari.nordmann",
            now=now,
        )
        assert (row.status, row.step_key) == ("assigned", "innspill-oppdrag")
    with Session(engine) as session:
        answer = session.exec(select(Answer).where(Answer.participant_key == TRONDHEIM)).one()
    assert json.loads(answer.text_json) == {"": "Ingen merknader.\n\nSe vedlagte notat."}
