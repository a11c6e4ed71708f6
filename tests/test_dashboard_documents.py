"""Documents and outgoing messages in the dashboard: every compilation, draft and answer file
downloadable with its type, name and nosniff; each sent message shown from its raw MIME; a
draft uploaded by an administrator, logged under their name, and circulated by the next tick."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.documents.files import DOCX
from innspill.documents.store import make_compilation
from innspill.engine import tick
from innspill.inbound.answers import attach_file, register_answer
from innspill.models import AnswerAttachment, Document, Event, OutboxMessage
from innspill.models.db import make_engine, session_scope
from innspill.process.loading import get_definition
from innspill.status import process_status
from tests.conftest import SEED_ID, TEST_DATABASE, load_seed, new_database, oslo
from tests.test_dashboard import Page, csrf_of, sign_in

ADMIN, ADMIN_PASSWORD = "saksbehandler", "et langt passord for admin"
VIEWER, VIEWER_PASSWORD = "leser", "et langt passord for leseren"
NOW = oslo(2020, 6, 4, 10)
CIRCULATION = "oversendelse"
PROCESS = f"/processes/{SEED_ID}"
BERGEN = "bergen-sekretariat"


def word_file(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", f"<w:document>{text}</w:document>")
    return buffer.getvalue()


ANSWER_FILE = word_file("Bergens vedlegg")


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The seed invited; Bergen answered with a file; the answers compiled; two users."""
    tmp = tmp_path_factory.mktemp("dashboard-documents")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    load_seed(engine)
    tick(engine, now=oslo(2020, 3, 30, 9))
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        answer = register_answer(
            session,
            definition,
            step_id="innspill-retningslinjer",
            participant_id=BERGEN,
            texts={"rolle": "Se vedlegget."},
            at=oslo(2020, 5, 20, 12),
        )
        attach_file(session, answer, filename="Bergens innspill æøå.docx", data=ANSWER_FILE)
        make_compilation(session, definition, "sammenstilling", now=oslo(2020, 6, 3, 8))
        create_user(session, ADMIN, ADMIN_PASSWORD, now=NOW)
        create_user(session, VIEWER, VIEWER_PASSWORD, now=NOW)
    engine.dispose()
    yield url, tmp
    drop()


@pytest.fixture(scope="module")
def app(filled: tuple[str, Path]) -> FastAPI:
    url, tmp = filled
    application = create_app(
        Settings(data_dir=tmp / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    )
    application.dependency_overrides[get_now] = lambda: NOW
    return application


@pytest.fixture(scope="module")
def admin(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        sign_in(c, ADMIN, ADMIN_PASSWORD)
        yield c


@pytest.fixture(scope="module")
def viewer(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        sign_in(c, VIEWER, VIEWER_PASSWORD)
        yield c


def assert_download(response, content: bytes, content_type: str, filename_star: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=")
    assert disposition.endswith(f"filename*=UTF-8''{filename_star}")


def test_a_sent_message_is_shown_from_its_raw_mime(admin: TestClient, app: FastAPI) -> None:
    with Session(app.state.engine) as session:
        invitation = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.participant_key == BERGEN, OutboxMessage.kind == "invitation"
            )
        ).first()
    assert invitation is not None
    # linked from the message log and from the participant's page
    log = Page(admin.get(f"/messages?participant={BERGEN}").text)
    assert (f"/messages/{invitation.id}", invitation.subject) in log.links
    person = Page(admin.get(f"{PROCESS}/participants/{BERGEN}").text)
    assert (f"/messages/{invitation.id}", invitation.subject) in person.links

    response = admin.get(f"/messages/{invitation.id}")
    assert response.status_code == 200
    p = Page(response.text)
    sent = message_from_bytes(invitation.raw)
    shown = dict(zip(p.texts["dt"], p.texts["dd"], strict=False))
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        assert shown[name] == str(make_header(decode_header(sent[name]))), name
    assert shown["To"] == f"Sekretariatet for byvekstavtalen i Bergen <{invitation.recipient}>"
    assert shown["Message-ID"] == invitation.message_id
    plain = next(part for part in sent.walk() if part.get_content_type() == "text/plain")
    body = plain.get_payload(decode=True).decode(plain.get_content_charset() or "utf-8")
    first_line = next(line for line in body.splitlines() if line.strip())
    assert first_line.strip() in response.text
    if any(part.get_content_type() == "text/html" for part in sent.walk()):
        frame = admin.get(f"/messages/{invitation.id}/html")
        assert frame.headers["content-security-policy"].startswith("sandbox; default-src 'none'")
        assert "<a" not in frame.text and "<img" not in frame.text
    raw = admin.get(f"/messages/{invitation.id}/melding.eml")
    assert raw.content == invitation.raw
    assert admin.get("/messages/999999").status_code == 404


def test_documents_are_listed_per_step_and_downloadable(admin: TestClient, app: FastAPI) -> None:
    with Session(app.state.engine) as session:
        compilation = session.exec(select(Document).where(Document.kind == "compilation")).one()
    p = Page(admin.get(PROCESS).text)
    table = p.table("Versjoner, nyeste først")  # the compilation step's (no draft yet)
    row = table.rows[0]
    assert row[0].links == [(f"/documents/{compilation.id}", compilation.filename)]
    assert [c.text for c in row[1:]] == [
        "1",
        "3. juni 2020 kl. 08.00",
        "1 av 9 har svart",  # the compilation's own note, "1 of 9 answered", as pages say it
        "innspill",
    ]
    assert compilation.note == "1 of 9 answered"
    assert_download(
        admin.get(f"/documents/{compilation.id}"),
        compilation.content,
        DOCX,
        quote(compilation.filename, safe=""),
    )
    assert admin.get("/documents/999999").status_code == 404


def test_answer_files_are_on_the_participants_page(admin: TestClient, app: FastAPI) -> None:
    with Session(app.state.engine) as session:
        stored = session.exec(select(AnswerAttachment)).one()
    p = Page(admin.get(f"{PROCESS}/participants/{BERGEN}").text)
    table = p.table("Filer som kom med svarene")
    [row] = table.rows
    assert row[0].links == [(f"/answer-files/{stored.id}", "Bergens innspill æøå.docx")]
    # the step by its title (its key on hover: dashfeat)
    step = "Innspill til retningslinjer for sekretariatene"
    assert [c.text for c in row[1:4]] == [step, "1", "20. mai 2020 kl. 12.00"]
    assert_download(
        admin.get(f"/answer-files/{stored.id}"),
        ANSWER_FILE,
        DOCX,
        "Bergens%20innspill%20%C3%A6%C3%B8%C3%A5.docx",
    )


def draft_post(client: TestClient, token: str | None, note: str, data: bytes, name: str):  # type: ignore[no-untyped-def]
    form = {"note": note} | ({"csrf_token": token} if token is not None else {})
    return client.post(
        f"{PROCESS}/steps/{CIRCULATION}/drafts",
        data=form,
        files={"file": (name, data, "application/octet-stream")},
        follow_redirects=False,
    )


def drafts(app: FastAPI) -> list[Document]:
    with Session(app.state.engine) as session:
        return list(
            session.exec(
                select(Document).where(Document.kind == "draft").order_by(col(Document.version))
            ).all()
        )


def test_a_viewer_and_a_forged_form_may_not_add_a_draft(
    admin: TestClient, viewer: TestClient, app: FastAPI
) -> None:
    page = viewer.get(PROCESS)
    assert f"/steps/{CIRCULATION}/drafts" not in page.text  # no form for a viewer
    token = csrf_of(page.text)
    response = draft_post(viewer, token, "", word_file("utkast"), "utkast.docx")
    assert response.status_code == 403
    assert draft_post(admin, None, "", word_file("utkast"), "utkast.docx").status_code == 403
    assert draft_post(admin, "forfalsket", "", word_file("u"), "utkast.docx").status_code == 403
    assert drafts(app) == []


def test_a_draft_is_added_logged_and_circulated_by_the_next_tick(
    admin: TestClient, app: FastAPI
) -> None:
    token = csrf_of(admin.get(PROCESS).text)
    refused = draft_post(admin, token, "mitt notat", b"%!PS-Adobe not a pdf", "utkast.pdf")
    assert refused.status_code == 400
    p = Page(refused.text)
    assert p.alerts == [
        "Filen er verken et Word-dokument (.docx) eller en PDF. Last opp .docx eller PDF."
    ]
    assert "mitt notat</textarea>" in refused.text  # what was typed is kept

    content = word_file("Utkast til retningslinjer")
    response = draft_post(admin, token, "", content, "Utkast retningslinjer.docx")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{PROCESS}#dokumenter"
    [draft] = drafts(app)
    assert (draft.version, draft.filename, draft.created_by) == (
        1,
        "Utkast retningslinjer.docx",
        ADMIN,
    )
    assert draft.content == content
    with Session(app.state.engine) as session:
        event = session.exec(select(Event).where(Event.kind == "draft_registered")).one()
        status = process_status(session, get_definition(session, SEED_ID), now=NOW)
    assert event.actor == ADMIN
    step = status.step(CIRCULATION)
    assert step is not None
    assert step.note == "draft version 1: Utkast retningslinjer.docx"
    assert set(step.bodies.values()) == {"draft not sent yet"}  # until the tick sends it

    page = admin.get(PROCESS)
    notice = " ".join(Page(page.text).texts["p"])
    assert "Utkast versjon 1 (Utkast retningslinjer.docx) er registrert." in notice
    assert "Oversendelse til behandling til Styringsgruppen" in page.text  # what goes out next

    # the second version needs a note; without one the form says so and keeps the file's step
    second = draft_post(admin, token, "", word_file("v2"), "v2.docx")
    assert second.status_code == 400
    assert Page(second.text).alerts == ["Skriv hva som er endret siden forrige versjon (merknad)."]

    # the next tick circulates it, attached: the message page lists it and gives it back
    tick(app.state.engine, now=NOW)
    with Session(app.state.engine) as session:
        circulated = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "circulation")
        ).all()
    assert len(circulated) == 9
    message = Page(admin.get(f"/messages/{circulated[0].id}").text)
    files = message.table("Filer i meldingen")
    names = [r[0].text for r in files.rows]
    assert "Utkast retningslinjer.docx" in names
    link = files.rows[names.index("Utkast retningslinjer.docx")][0].links[0][0]
    got = admin.get(link)
    assert got.content == content
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["x-content-type-options"] == "nosniff"
