"""`innspill archive export` and the dashboard's download: the demo round (played once for the
module) as a Noark 5 v5.0 extract, checked by tests/noark_check.py, which is written from the
standard and Arkade's tests and does not import the exporter."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlmodel import Session, col, delete, select, update
from typer.testing import CliRunner, Result

from innspill.cli import app as cli_app
from innspill.config.settings import Settings, get_settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.demo import run as demo
from innspill.errors import ExportRefused
from innspill.models import Answer, ArchivalCopy, JournalEntry, MessageStatus, OutboxMessage
from innspill.models.db import make_engine, session_scope
from innspill.models.user import Role
from innspill.outbound.transport import CaptureTransport
from innspill.process.loading import load_file
from tests.conftest import SEED, SEED_ID, TEST_DATABASE, copy_seed_files, new_database, oslo
from tests.noark_check import ARKIV, Found, check
from tests.test_dashboard import sign_in

ADMIN, VIEWER, PASSWORD = "arkivar", "leser", "riktig hest batteri stift"
DURING = "2020-06-20T12:00"  # the circulation still open, the round not ended
AFTER = oslo(2020, 7, 1, 12)  # the round has ended
#: The official schemas' SHA-256, as Arkivverket publishes them (../shared/noark5/schemas/NOTICE).
OFFICIAL = {
    "arkivstruktur.xsd": "77acc0f549f4f3856f56429cb30e6b626ddb05d8b8a3d6cae00cb5911b60f58c",
    "metadatakatalog.xsd": "c7c0a7e7996f60b4c28eacd0e34e6af0d6ca2cfb76f58080221e163fb972a305",
    "loependeJournal.xsd": "a631f05eac6496394e78597ac7d20d9e1269fcaccb6d1a8f5c50c75e53384f27",
    "offentligJournal.xsd": "e3d9befccf53255be8233d2836ef1de35d9270d95bb3bcbd58ca63544fe170b3",
    "endringslogg.xsd": "07cbc86e8b3c4b42ed831cdd5c09aa402a2c4049bbca2d287e184f3138edf1de",
    "addml.xsd": "ae2c4c9be0c1f4f291be36db3dfc069085f35eb515b072d3b1230ac89647d5dd",
}


@dataclass
class Round:
    url: str
    tmp: Path

    def cli(self, *args: str) -> Result:
        env = {"INNSPILL_DATABASE_URL": self.url, "INNSPILL_DATA_DIR": str(self.tmp / "data")}
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli_app, list(args), env=env)
        finally:
            get_settings.cache_clear()
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Round]:
    """The whole 2020 round played once, with every archival copy made, and two users."""
    tmp = tmp_path_factory.mktemp("noark")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    demo.run(engine, CaptureTransport(tmp / "mail"))
    with session_scope(engine) as session:
        create_user(session, ADMIN, PASSWORD, now=datetime.now(UTC), role=Role.ADMIN)
        create_user(session, VIEWER, PASSWORD, now=datetime.now(UTC), role=Role.VIEWER)
    engine.dispose()
    yield Round(url, tmp)
    drop()


@pytest.fixture(scope="module")
def extract(played: Round) -> tuple[Path, Found, str]:
    folder = played.tmp / "uttrekk"
    result = played.cli("archive", "export", SEED_ID, str(folder))
    assert result.exit_code == 0, result.output
    return folder, check(folder), result.output


def test_the_extract_passes_an_independent_check(extract: tuple[Path, Found, str]) -> None:
    folder, found, output = extract
    assert found.problems == []
    assert "documents copied" in output and "journalposter" in output
    names = {p.name for p in folder.iterdir()}
    assert {"arkivuttrekk.xml", "dokumenter", *OFFICIAL} <= names
    for name, digest in OFFICIAL.items():  # the official schemas, unchanged
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    assert found.counts[("registrering", "arkivstruktur.xml")] == len(found.posts) > 100
    assert found.counts[("mappe", "arkivstruktur.xml")] == 1
    structure = etree.parse(str(folder / "arkivstruktur.xml"))
    texts = {etree.QName(e).localname: e.text for e in structure.iter() if len(e) == 0}
    assert texts["arkivskaperID"] == "971032081" and texts["mappeID"] == "20/64758"
    assert texts["arkivdelstatus"] == "Avsluttet periode" and texts["saksstatus"] == "Avsluttet"
    assert {p.status for p in found.posts} == {"Arkivert"}
    # Treatments and attendance as remarks on the case.
    remarks = [e.text for e in structure.iter(f"{{{ARKIV}}}merknadstekst")]
    assert sum("har behandlet" in r for r in remarks) == 5  # as the demo's Treatment rows
    assert sum("på sakskartet" in r for r in remarks) == 2
    assert sum(" møtte " in r or " møtte ikke " in r for r in remarks) == 9


def test_a_journalpost_for_every_letter_sent_and_every_answer(
    played: Round, extract: tuple[Path, Found, str]
) -> None:
    _, found, _ = extract
    engine = make_engine(played.url)
    with Session(engine) as session:
        entries = {(e.source, e.source_key): e for e in session.exec(select(JournalEntry))}
        sent = session.exec(
            select(OutboxMessage).where(OutboxMessage.status == MessageStatus.SENT.value)
        ).all()
        answers = session.exec(select(Answer)).all()
    engine.dispose()
    posts = {p.number: p for p in found.posts}
    letters = [m for m in sent if m.kind != "compilation"]  # the drafters' copy is internal
    assert len(letters) == 97 and len(answers) == 16
    for message in letters:
        post = posts[entries[("letter", message.key)].document_number]
        assert post.kind == "Utgående dokument" and post.parties[0][0] == "Mottaker"
        assert post.documents[0][0] == "Hoveddokument" and post.documents[0][1]
    for answer in answers:
        key = f"{answer.process_id}/{answer.step_key}/{answer.participant_key}/{answer.version}"
        post = posts[entries[("answer", key)].document_number]
        assert post.kind == "Inngående dokument" and post.parties[0][0] == "Avsender"
    internal = [p for p in found.posts if p.kind == "Organinternt dokument for oppfølging"]
    assert len(internal) == 5  # the compilations, each to the drafters as «Intern mottaker»
    assert all(
        [t for t, _ in p.parties] == ["Intern avsender", "Intern mottaker"] for p in internal
    )
    numbers = sorted(posts)
    assert numbers == list(range(6, 6 + len(numbers)))  # from first_document_number, no gaps
    # The assignment goes with each invitation, the participant's PDF with its answer.
    attached = [
        f for p in found.posts for role, objs in p.documents if role == "Vedlegg" for f in objs
    ]
    assert len(attached) >= 20


def test_every_archival_document_is_an_identified_pdfa(extract: tuple[Path, Found, str]) -> None:
    folder, found, _ = extract
    archival = [path for path, (variant, _) in found.files.items() if variant == "Arkivformat"]
    production = [path for path, (variant, _) in found.files.items() if variant != "Arkivformat"]
    assert len(archival) > 100 and production  # DOCX of the compilations and the draft
    for path in archival:
        with pikepdf.open(folder / path) as pdf:
            meta = pdf.open_metadata()
            part = meta.get("{http://www.aiim.org/pdfa/ns/id/}part")
            conformance = meta.get("{http://www.aiim.org/pdfa/ns/id/}conformance")
        assert (str(part), str(conformance).upper()) in {("1", "B"), ("2", "B"), ("2", "A")}, path


def test_the_deadline_change_is_logged_and_the_case_closed(
    extract: tuple[Path, Found, str],
) -> None:
    folder, found, _ = extract
    moved = [c for c in found.changes if c["referanseMetadata"] == "forfallsdato"]
    assert [(c["tidligereVerdi"], c["nyVerdi"], c["endretAv"]) for c in moved] == [
        ("2020-04-27", "2020-05-08", "demo")
    ]
    structure = etree.parse(str(folder / "arkivstruktur.xml"))
    post = next(
        r
        for r in structure.iter(f"{{{ARKIV}}}registrering")
        if r.findtext(f"{{{ARKIV}}}systemID") == moved[0]["referanseArkivenhet"]
    )
    assert post.findtext(f"{{{ARKIV}}}forfallsdato") == "2020-05-08"
    assert "Grenland" in (post.findtext(f".//{{{ARKIV}}}korrespondansepartNavn") or "")
    assert any(c["referanseMetadata"] == "saksstatus" for c in found.changes)


def _ids(folder: Path) -> list[str]:
    out = []
    for name in ("arkivstruktur.xml", "loependeJournal.xml", "endringslogg.xml"):
        tree = etree.parse(str(folder / name))
        for e in tree.iter():
            if etree.QName(e).localname in ("systemID", "referanseArkivenhet"):
                out.append(e.text)
    return out


def test_a_second_export_gives_the_same_system_ids(
    played: Round, extract: tuple[Path, Found, str]
) -> None:
    folder, _, _ = extract
    again = played.tmp / "igjen"
    assert played.cli("archive", "export", SEED_ID, str(again)).exit_code == 0
    assert _ids(again) == _ids(folder) and len(_ids(folder)) > 300


def test_an_unfinished_round_is_refused_with_the_reason_unless_partial(played: Round) -> None:
    folder = played.tmp / "for-tidlig"
    refused = played.cli("archive", "export", SEED_ID, str(folder), "--at", DURING)
    assert refused.exit_code == 1 and not folder.exists()
    lines = refused.output.splitlines()
    assert "not ready for an archive extract" in lines[0]
    assert any("not through yet" in line and "oversendelse (open)" in line for line in lines)
    partial = played.cli("archive", "export", SEED_ID, str(folder), "--at", DURING, "--partial")
    assert partial.exit_code == 0 and "PARTIAL: " in partial.output
    found = check(folder)
    assert found.problems == []
    assert "Aktiv periode" in (folder / "arkivstruktur.xml").read_text()
    # Not over an existing extract.
    again = played.cli("archive", "export", SEED_ID, str(folder), "--partial")
    assert again.exit_code == 1 and "not an empty folder" in again.output


def _refusal(played: Round, *changes: Any) -> list[str]:
    """The reasons export gives after `changes` (statements), rolled back afterwards."""
    from innspill.noark.writer import ZipSink, export

    engine = make_engine(played.url)
    try:
        with Session(engine) as session:  # never committed
            for statement in changes:
                session.exec(statement)
            with pytest.raises(ExportRefused) as refused:
                export(session, SEED_ID, ZipSink(io.BytesIO(), "x"), now=AFTER)
            session.rollback()
    finally:
        engine.dispose()
    return refused.value.reasons


def test_documents_without_their_archival_copy_are_refused(played: Round) -> None:
    gone = delete(ArchivalCopy).where(col(ArchivalCopy.source_kind) == "answer")
    (reason,) = _refusal(played, gone)  # one line for the one reason
    assert reason.startswith("16 document(s) without an archival copy, not made yet")
    failed = (
        update(ArchivalCopy)
        .where(col(ArchivalCopy.source_kind) == "answer_file")
        .values(status="failed", error="LibreOffice is not installed")
    )
    (reason,) = _refusal(played, failed)
    assert reason.startswith("1 document(s) without an archival copy, the conversion failed")
    assert "--retry-failed" in reason


def test_mail_not_sent_is_refused(played: Round) -> None:
    pending = (
        update(OutboxMessage)
        .where(col(OutboxMessage.kind) == "treatment_reminder")
        .values(status=MessageStatus.PENDING.value)
    )
    reasons = _refusal(played, pending)
    assert reasons[0] == "3 message(s) not sent yet (the sender sends them: innspill send)"


def test_a_letter_refused_for_good_is_exported_partially_as_utgaar(played: Round) -> None:
    from innspill.noark.writer import FolderSink, export

    engine = make_engine(played.url)
    folder = played.tmp / "utgaar"
    with Session(engine) as session:  # never committed
        letter = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "treatment_reminder")
        ).first()
        assert letter is not None
        letter.status, letter.last_error = MessageStatus.FAILED, "550 5.1.1 no such user"
        session.add(letter)
        session.flush()
        report = export(session, SEED_ID, FolderSink(folder), now=AFTER, partial=True)
        number = session.exec(
            select(JournalEntry.document_number).where(JournalEntry.source_key == letter.key)
        ).one()
        session.rollback()
    engine.dispose()
    assert report.partial_reasons == [
        "1 message(s) refused by the mail server and not sent again (innspill status lists "
        "them; correct the address, then innspill resend)"
    ]
    found = check(folder)
    assert found.problems == []
    (post,) = [p for p in found.posts if p.number == number]
    assert post.status == "Utgår" and post.documents == []
    structure = (folder / "arkivstruktur.xml").read_text(encoding="utf-8")
    assert "Ikke ekspedert: 550 5.1.1 no such user" in structure


def test_a_process_without_archive_section_has_nothing_to_export(played: Round) -> None:
    folder = played.tmp / "uten-arkiv"
    folder.mkdir()
    text = SEED.read_text(encoding="utf-8")
    text = text.replace(f'id = "{SEED_ID}"', 'id = "uten-arkiv"')
    start = text.index("[archive]")
    text = text[:start] + text[text.index("[sender]") :]
    (folder / "p.toml").write_text(text, encoding="utf-8")
    copy_seed_files(folder)
    engine = make_engine(played.url)
    with session_scope(engine) as session:
        load_file(session, folder / "p.toml", now=oslo(2020, 3, 30, 8))
    engine.dispose()
    result = played.cli("archive", "export", "uten-arkiv", str(played.tmp / "tom"))
    assert result.exit_code == 1 and not (played.tmp / "tom").exists()
    assert "keeps no journal numbers (no [archive] section): nothing to export" in result.output


def _app(played: Round, now: datetime = AFTER) -> TestClient:
    settings = Settings(
        data_dir=played.tmp / "data",
        database_url=played.url,
        _env_file=None,  # type: ignore[call-arg]
    )
    application = create_app(settings)
    application.dependency_overrides[get_now] = lambda: now
    return TestClient(application)


def test_administrators_download_the_extract_and_viewers_may_not(played: Round) -> None:
    url = f"/processes/{SEED_ID}/archive/export.zip"
    with _app(played) as client:
        sign_in(client, ADMIN, PASSWORD)
        assert url in client.get(f"/processes/{SEED_ID}").text
        response = client.get(url)
        assert response.status_code == 200, response.text[:500]
        assert response.headers["content-type"] == "application/zip"
        assert "attachment" in response.headers["content-disposition"]
        target = played.tmp / "zip"
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            archive.extractall(target)
        found = check(target / f"arkivuttrekk-{SEED_ID}")
        assert found.problems == [] and len(found.posts) > 100
    with _app(played, oslo(2020, 6, 20, 12)) as client:  # the circulation still open
        sign_in(client, ADMIN, PASSWORD)
        refused = client.get(url)
        assert refused.status_code == 409 and "ikke klar for arkivuttrekk" in refused.text
        # in the interface's language, the steps by their titles (the CLI says it in English)
        assert "Steg som ikke er ferdige: Innspill til oppdraget, " in refused.text
        assert "Utkast til retningslinjer for sekretariatene – til behandling" in refused.text
        assert "Runden slutter 30.06.2020." in refused.text
        assert "(open)" not in refused.text and "not through" not in refused.text
        assert client.get(url + "?partial=1").status_code == 200
    with _app(played) as client:
        sign_in(client, VIEWER, PASSWORD)
        assert url not in client.get(f"/processes/{SEED_ID}").text
        assert client.get(url).status_code == 403
