"""Actions refuse what cannot have happened yet, with the reason: in English on the command line,
in bokmål on the dashboard. Attendance before the meeting has started (or at a cancelled one);
a treatment of a draft the body has not been sent, decided in the future, before the draft was
sent or before the meeting it was on the agenda of; an answer received before its step opened."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.engine import tick
from innspill.errors import InnspillError
from innspill.inbound.intake import assign, import_mail
from innspill.models import Answer, Attendance, InboundStatus, Treatment
from innspill.models.db import make_engine, session_scope
from innspill.outbound.outbox import dispatch
from innspill.outbound.transport import CaptureTransport
from tests.conftest import (
    SEED,
    SEED_ID,
    TEST_DATABASE,
    Run,
    copy_seed_files,
    failed,
    load_seed,
    new_database,
    ok,
    oslo,
)
from tests.test_after_deadline import draft_bytes
from tests.test_dashboard import csrf_of, sign_in
from tests.test_dashboard_actions import post, text_of

MEETING, CIRCULATION = "halvdagsmote", "oversendelse"
BODY = "bergen-styringsgruppe"


def test_attendance_waits_for_the_meeting_to_start(cli: Run, engine: Engine, tmp_path: Path):
    load_seed(engine)
    ok(cli("tick", "--at", "2020-05-25T09:00"))  # the invitations
    said = failed(
        cli("attendance", SEED_ID, MEETING, "bergen-sekretariat", "--at", "2020-05-26T10:00")
    )
    assert (
        "the meeting 'halvdagsmote' starts 2020-06-09 at 09.00: attendance can be registered once "
        "it has started" in " ".join(said.split())
    )
    assert "starts 2020-06-09 at 09.00" in failed(
        cli(
            "attendance",
            SEED_ID,
            MEETING,
            "bergen-sekretariat",
            "--absent",
            "--at",
            "2020-06-09T08:59",
        )
    )
    with Session(engine) as session:
        assert session.exec(select(Attendance)).all() == []
    ok(cli("attendance", SEED_ID, MEETING, "bergen-sekretariat", "--at", "2020-06-09T09:00"))

    # A cancelled meeting had no attendance at all.
    source = SEED.read_text(encoding="utf-8").replace(
        'attach_compilation = "sammenstilling"\n',
        'attach_compilation = "sammenstilling"\ncancelled = true\n',
    )
    path = tmp_path / "avlyst.toml"
    path.write_text(source, encoding="utf-8")
    copy_seed_files(tmp_path)
    ok(cli("load", str(path), "--at", "2020-06-01T10:00"))
    said = failed(
        cli("attendance", SEED_ID, MEETING, "tromso-sekretariat", "--at", "2020-06-09T13:00")
    )
    assert "the meeting 'halvdagsmote' was cancelled: there is no attendance" in said


def test_treatment_waits_for_the_draft_and_a_decision_for_its_day(
    cli: Run, engine: Engine, tmp_path: Path
) -> None:
    load_seed(engine)

    def treatment(*args: str) -> str:
        result = cli("treatment", SEED_ID, CIRCULATION, BODY, *args)
        return " ".join(result.output.split()) if result.exit_code else ""

    not_sent = "the draft has not been sent to 'bergen-styringsgruppe' yet"
    agenda = ("--state", "on_agenda", "--meeting-date", "2020-06-17")
    assert not_sent in treatment(*agenda, "--at", "2020-06-08T10:00")
    draft = tmp_path / "utkast.docx"
    draft.write_bytes(draft_bytes())
    ok(cli("draft", "add", SEED_ID, str(draft), "--at", "2020-06-10T10:00"))
    assert not_sent in treatment(*agenda, "--at", "2020-06-10T10:05")  # registered, not sent
    ok(cli("tick", "--at", "2020-06-10T11:00"))  # the circulation goes out
    assert treatment(*agenda, "--at", "2020-06-11T10:00") == ""  # recorded
    decided = ("--state", "treated", "--decision", "Tatt til orientering.")
    assert "the decision date 2020-06-18 is after today (2020-06-11)" in treatment(
        *decided, "--decided-on", "2020-06-18", "--at", "2020-06-11T12:00"
    )
    assert "the decision date 2020-06-16 is before the meeting it is on the agenda of " in (
        treatment(*decided, "--decided-on", "2020-06-16", "--at", "2020-06-18T12:00")
    )
    assert "the meeting date 2020-06-09 is before the draft was sent" in treatment(
        "--state", "on_agenda", "--meeting-date", "2020-06-09", "--at", "2020-06-18T12:00"
    )
    before = "the decision date 2020-06-09 is before the draft was sent to 'bergen-styringsgruppe'"
    assert f"{before} (2020-06-10)" in treatment(
        *decided, "--decided-on", "2020-06-09", "--at", "2020-06-18T12:00"
    )
    assert treatment(*decided, "--decided-on", "2020-06-17", "--at", "2020-06-18T12:00") == ""
    with Session(engine) as session:
        row = session.exec(select(Treatment)).one()
    assert (str(row.state), str(row.decided_on)) == ("treated", "2020-06-17")
    # Back to pending is always possible (a decision recorded by mistake).
    assert treatment("--state", "pending", "--at", "2020-06-18T12:05") == ""


def test_an_answer_cannot_come_before_its_step_opened(cli: Run, engine: Engine) -> None:
    load_seed(engine)
    said = failed(
        cli(
            "answer",
            "add",
            SEED_ID,
            "innspill-oppdrag",
            "bergen-sekretariat",
            "--text",
            "rolle=Tidlig.",
            "--at",
            "2020-03-29T12:00",
        )
    )
    assert "received 2020-03-29, before step 'innspill-oppdrag' opened (2020-03-30)" in said
    # A message held from before the round, assigned to the step by hand: refused, kept held.
    mail = EmailMessage()
    mail["From"] = "sekretariat@bergen.byvekst.example"
    mail["To"] = "byvekst-innspill@vegvesen.example"
    mail["Subject"] = "Spørsmål om sekretariatene"
    mail["Message-ID"] = "<early@bergen.byvekst.example>"
    mail.set_content("Vi har noen tanker om rollen til sekretariatene.")
    at = oslo(2020, 3, 27, 14)
    with session_scope(engine) as session:
        held = import_mail(session, mail.as_bytes(), source="t", uid="1", received_at=at, now=at)
        assert held.message.status == InboundStatus.HELD
        number = held.message.id
    assert number is not None
    with session_scope(engine) as session, pytest.raises(InnspillError) as caught:
        assign(
            session,
            number,
            process_id=SEED_ID,
            step_id="innspill-oppdrag",
            participant_id="bergen-sekretariat",
            by="kari",
            now=oslo(2020, 4, 2, 10),
        )
    assert "received before the step opened (2020-03-30)" in str(caught.value)
    with Session(engine) as session:
        assert session.exec(select(Answer)).all() == []


# --- the dashboard, after the meeting ------------------------------------------------------

AFTER = oslo(2020, 6, 9, 14)  # the meeting (09.00-12.30) is over; no draft has gone out yet
ADMIN, PASSWORD = "kari", "et langt og godt passord"
PROCESS = f"/processes/{SEED_ID}"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    tmp = tmp_path_factory.mktemp("after-meeting")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    load_seed(engine)
    with session_scope(engine) as session:
        create_user(session, ADMIN, PASSWORD, now=AFTER)
    for now in (oslo(2020, 3, 30, 9), oslo(2020, 5, 25, 9)):  # invitations, meeting invitations
        tick(engine, now=now)
        asyncio.run(dispatch(engine, CaptureTransport(tmp / "mail"), now=now))
    engine.dispose()
    application = create_app(
        Settings(data_dir=tmp / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    )
    application.dependency_overrides[get_now] = lambda: AFTER
    yield application
    application.state.engine.dispose()
    drop()


@pytest.fixture(scope="module")
def admin(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        sign_in(client, ADMIN, PASSWORD)
        yield client


def test_attendance_after_the_meeting_is_recorded_and_treatment_waits_for_the_draft(
    app: FastAPI, admin: TestClient
) -> None:
    url = f"{PROCESS}/steps/{MEETING}/attendance"
    data = {"csrf_token": csrf_of(admin.get(PROCESS).text), "back": "process"}
    response = post(admin, url, data | {"participant": "bergen-sekretariat", "attended": "no"})
    assert response.status_code == 303, response.text
    assert (
        "Sekretariatet for byvekstavtalen i Bergen, «Halvdagsmøte om innspillene»: Deltok ikke."
        in text_of(admin.get(PROCESS).text)
    )
    refused = post(admin, url, data | {"participant": BODY, "attended": "yes"})
    assert refused.status_code == 400
    assert "er ikke invitert til «halvdagsmote»" in text_of(refused.text)
    with Session(app.state.engine) as session:
        (row,) = session.exec(select(Attendance)).all()
    assert (row.participant_key, row.attended, row.registered_by) == (
        "bergen-sekretariat",
        False,
        ADMIN,
    )

    # No draft has gone to the steering groups: their treatment cannot be recorded.
    url = f"{PROCESS}/steps/{CIRCULATION}/treatment"
    data = {"csrf_token": csrf_of(admin.get(PROCESS).text), "participant": BODY}
    refused = post(admin, url, data | {"state": "on_agenda", "meeting_date": "2020-06-17"})
    assert refused.status_code == 400
    assert (
        "Utkastet er ikke sendt til deltakeren ennå. Behandlingen kan registreres når utkastet "
        "er sendt." in text_of(refused.text)
    )
    with Session(app.state.engine) as session:
        assert session.exec(select(Treatment)).all() == []
