"""Administrators' actions on steps in the dashboard (dashboard/actions/steps.py): extend a
deadline, register an answer that came by letter, record treatment and attendance. Each goes
through the same domain function as its CLI command, is logged with the signed-in user, shows
in the status model, and is refused to viewers, to forms without the CSRF token, and (in
bokmål, with what was typed kept) for bad input."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import date
from html import unescape
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.documents.store import register_draft
from innspill.engine import tick
from innspill.models import (
    Answer,
    AnswerAttachment,
    Attendance,
    DeadlineChange,
    Event,
    Treatment,
    TreatmentState,
)
from innspill.models.db import make_engine, session_scope
from innspill.outbound.outbox import dispatch
from innspill.outbound.transport import CaptureTransport
from innspill.process.loading import get_definition
from innspill.status import process_status
from tests.conftest import SEED_ID, TEST_DATABASE, load_seed, new_database, oslo
from tests.test_dashboard import csrf_of, sign_in

ADMIN, ADMIN_PASSWORD = "kari", "et langt og godt passord"
VIEWER, VIEWER_PASSWORD = "leser", "et passord bare for lesing"
NOW = oslo(2020, 4, 20, 10)  # a Monday: the first deadline (27 April) is a week away
PROCESS = f"/processes/{SEED_ID}"
BERGEN = "bergen-sekretariat"
TROMSO = "tromso-sekretariat"
BODY = "grenland-styringsgruppe"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    tmp = tmp_path_factory.mktemp("dashboard-actions")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    load_seed(engine)
    draft = tmp / "utkast.pdf"
    draft.write_bytes(PDF)
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        register_draft(session, definition, "oversendelse", draft, now=oslo(2020, 4, 17, 12))
        create_user(session, ADMIN, ADMIN_PASSWORD, now=NOW)  # the first user: administrator
        create_user(session, VIEWER, VIEWER_PASSWORD, now=NOW)  # later ones: viewers
    # the morning's tick: the invitations and the draft go out (a draft circulated early, so
    # that its treatment can be recorded in April)
    tick(engine, now=oslo(2020, 4, 20, 9))
    asyncio.run(dispatch(engine, CaptureTransport(tmp / "mail"), now=oslo(2020, 4, 20, 9)))
    engine.dispose()
    application = create_app(
        Settings(data_dir=tmp / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    )
    application.dependency_overrides[get_now] = lambda: NOW
    yield application
    application.state.engine.dispose()
    drop()


@pytest.fixture(scope="module")
def admin(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        sign_in(client, ADMIN, ADMIN_PASSWORD)
        yield client


@pytest.fixture(scope="module")
def viewer(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        sign_in(client, VIEWER, VIEWER_PASSWORD)
        yield client


@pytest.fixture
def db(app: FastAPI) -> Iterator[Session]:
    with Session(app.state.engine) as session:
        yield session


def token(client: TestClient, url: str = PROCESS) -> str:
    return csrf_of(client.get(url).text)


def text_of(html: str) -> str:
    """The page's text, tags dropped and spaces collapsed (for asserting what a person reads)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def post(client: TestClient, url: str, data: dict[str, str], **kw: object):  # type: ignore[no-untyped-def]
    return client.post(url, data=data, follow_redirects=False, **kw)  # type: ignore[arg-type]


def last_event(db: Session, kind: str) -> Event:
    event = db.exec(select(Event).where(Event.kind == kind).order_by(col(Event.id).desc())).first()
    assert event is not None, kind
    return event


def status_of(db: Session):  # type: ignore[no-untyped-def]
    db.expire_all()  # what the app committed since this session last read
    return process_status(db, get_definition(db, SEED_ID), now=NOW)


# --- extend a deadline ------------------------------------------------------------------------


def test_extend_the_deadline_for_everyone_warns_about_a_holiday(admin: TestClient, db: Session):
    url = f"{PROCESS}/steps/innspill-retningslinjer/deadline"
    data = {
        "csrf_token": token(admin),
        "deadline": "2020-05-21",  # Kristi himmelfartsdag: allowed, with a warning
        "participant": "",
        "reason": "Flere ba om mer tid.",
        "back": "process",
    }
    response = post(admin, url, data)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == PROCESS
    shown = text_of(admin.get(response.headers["location"]).text)
    assert (
        "Ny frist for «Innspill til retningslinjer for sekretariatene» for alle deltakerne: "
        "21. mai 2020." in shown
    )
    warning = (
        "Merk: 21. mai 2020 er en helligdag (Kristi himmelfartsdag), ikke en arbeidsdag. "
        "Fristen forlenges derfor til fredag 22. mai 2020, og meldingene til deltakerne sier det."
    )
    assert warning in shown
    # what the ticks will send: the news to everyone invited, at the next tick
    assert "Dette sendes som følge av det, hvis ingen gjør noe mer:" in shown
    first = "20. april 2020 kl. 10.00: Endret frist til Sekretariatet for byvekstavtalen i Oslo"
    assert first in shown
    # the notice is shown once
    assert "Ny frist for" not in text_of(admin.get(PROCESS).text)
    change = db.exec(select(DeadlineChange).order_by(col(DeadlineChange.id).desc())).first()
    assert change is not None
    assert (change.participant_key, change.deadline, change.changed_by) == (
        None,
        date(2020, 5, 21),
        ADMIN,
    )
    event = last_event(db, "deadline_changed")
    assert event.actor == ADMIN and "Flere ba om mer tid." in event.detail
    step = status_of(db).step("innspill-retningslinjer")
    assert step is not None and (step.deadline, step.written_deadline) == (
        "2020-05-22",
        "2020-05-21",
    )


def test_extend_one_participants_deadline_from_their_page(admin: TestClient, db: Session):
    page = f"{PROCESS}/participants/{TROMSO}"
    html = admin.get(page).text
    assert f'action="{PROCESS}/steps/innspill-oppdrag/deadline"' in html
    data = {
        "csrf_token": csrf_of(html),
        "deadline": "2020-05-04",
        "participant": TROMSO,
        "reason": "Sykdom i sekretariatet.",
        "back": "participant",
    }
    response = post(admin, f"{PROCESS}/steps/innspill-oppdrag/deadline", data)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{page}"
    shown = text_of(admin.get(page).text)
    assert (
        "Ny frist for «Innspill til oppdraget» for Sekretariatet for byvekstavtalen i Tromsø: "
        "4. mai 2020." in shown
    )
    assert "Merk:" not in shown  # 4 May is a working day
    assert last_event(db, "deadline_changed").actor == ADMIN
    step = status_of(db).step("innspill-oppdrag")
    assert step is not None and step.extended == 1
    own = next(p for p in step.participants if p.participant == TROMSO)
    assert own.deadline == "2020-05-04" and own.extended


def test_a_refused_deadline_says_why_in_bokmal_and_keeps_the_reason(admin: TestClient):
    url = f"{PROCESS}/steps/innspill-oppdrag/deadline"
    cases = [
        ("2020-03-01", "", "Den nye fristen (1. mars 2020) må være etter at steget åpnet"),
        ("2020-08-01", "", "er etter at prosessen slutter (30. juni 2020)"),
        ("1. mai", "", "Den nye fristen er ikke en dato. Skriv den som 2020-05-08."),
        ("2020-04-24", BERGEN, "En utsatt frist må være senere enn deltakerens frist nå"),
    ]
    for deadline, participant, message in cases:
        reason = f"Grunn <for> {deadline}"
        data = {"csrf_token": token(admin), "deadline": deadline, "participant": participant}
        data |= {"reason": reason, "back": "process"}
        response = post(admin, url, data)
        assert response.status_code == 400, deadline
        assert message in text_of(response.text), (deadline, text_of(response.text)[:600])
        assert "Traceback" not in response.text
        assert f">Grunn &lt;for&gt; {deadline}</textarea>" in response.text  # kept, escaped
        assert '<details class="act" id="frist-innspill-oppdrag" open>' in response.text
    data = {"csrf_token": token(admin), "deadline": "2020-05-04", "reason": " ", "back": "process"}
    response = post(admin, url, data)
    assert response.status_code == 400
    assert "Skriv en begrunnelse" in text_of(response.text)


# --- register an answer -----------------------------------------------------------------------


def test_register_a_letter_with_texts_and_a_file(admin: TestClient, db: Session):
    page = f"{PROCESS}/participants/{BERGEN}"
    html = admin.get(page).text
    shown = text_of(html)
    assert "Funksjon, rolle og ansvar" in shown  # a textarea per theme, with its questions
    assert "Hva har sekretariatet fullmakt til?" in shown
    data = {
        "csrf_token": csrf_of(html),
        "participant": BERGEN,
        "back": "participant",
        "received": "2020-04-17",
        "tema-merknader": "Sekretariatet skal forberede saker.",
        "tema-styringsgruppe": "",
        "generelt": "Takk for muligheten.",
    }
    files = [("filer", ("brev fra Bergen.pdf", PDF, "application/pdf"))]
    response = admin.post(
        f"{PROCESS}/steps/innspill-oppdrag/answer", data=data, files=files, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    shown = text_of(admin.get(response.headers["location"]).text)
    assert (
        "Svaret fra Sekretariatet for byvekstavtalen i Bergen på «Innspill til oppdraget» er "
        "registrert som versjon 1 (mottatt 17. april 2020, 1 vedlegg)." in shown
    )
    # the reminders due to Bergen will not go: said in bokmål, as the planner's reason
    assert "Påminnelse til Sekretariatet for byvekstavtalen i Bergen" in shown
    assert "sendes ikke: har alt svart" in shown and "already" not in shown
    answer = db.exec(select(Answer).where(Answer.participant_key == BERGEN)).one()
    assert (answer.channel, answer.registered_by, answer.version) == ("registered", ADMIN, 1)
    assert answer.received_at == oslo(2020, 4, 17, 12)
    assert '"merknader": "Sekretariatet skal forberede saker."' in answer.text_json
    assert '"": "Takk for muligheten."' in answer.text_json
    assert "styringsgruppe" not in answer.text_json
    attachment = db.exec(select(AnswerAttachment)).one()
    assert (attachment.answer_id, attachment.filename, attachment.data) == (
        answer.id,
        "brev fra Bergen.pdf",
        PDF,
    )
    assert last_event(db, "answer_received").actor == ADMIN
    step = status_of(db).step("innspill-oppdrag")
    assert step is not None
    own = next(p for p in step.participants if p.participant == BERGEN)
    assert own.answered_at and not own.late
    # a second one is the next version
    data |= {"csrf_token": token(admin, page), "received": "2020-04-20", "generelt": ""}
    response = admin.post(
        f"{PROCESS}/steps/innspill-oppdrag/answer", data=data, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert "registrert som versjon 2 (mottatt 20. april 2020)." in text_of(
        admin.get(response.headers["location"]).text
    )
    latest = db.exec(select(Answer).where(Answer.version == 2)).one()
    assert latest.received_at == NOW  # received today: counted from now


def test_a_refused_answer_keeps_the_texts(admin: TestClient, db: Session):
    url = f"{PROCESS}/steps/innspill-oppdrag/answer"
    page = f"{PROCESS}/participants/{TROMSO}"
    base = {"participant": TROMSO, "back": "participant", "tema-merknader": "Vår <tekst>"}
    cases = [
        ({"received": "2020-04-21"}, [], "Datoen svaret kom kan ikke være fram i tid."),
        ({"received": "i går"}, [], "er ikke en dato"),
        (
            {"received": "2020-03-27"},
            [],
            "Datoen svaret kom kan ikke være før steget åpnet (30. mars 2020).",
        ),
        (
            {"received": "2020-04-17"},
            [("filer", ("notat.txt", b"bare tekst", "text/plain"))],
            "«notat.txt» er ikke en PDF-, Word- (.docx) eller OpenDocument-fil (.odt). "
            "Ingenting ble lagret. Velg filene på nytt og send igjen.",
        ),
    ]
    before = len(db.exec(select(Answer)).all())
    for fields, files, message in cases:
        data = base | fields | {"csrf_token": token(admin, page)}
        response = admin.post(url, data=data, files=files or None, follow_redirects=False)
        assert response.status_code == 400, fields
        assert message in text_of(response.text), text_of(response.text)[:500]
        assert ">Vår &lt;tekst&gt;</textarea>" in response.text
    data = {"participant": TROMSO, "back": "participant", "received": "2020-04-17"}
    response = admin.post(url, data=data | {"csrf_token": token(admin, page)})
    assert response.status_code == 400
    assert "Svaret er tomt." in text_of(response.text)
    assert len(db.exec(select(Answer)).all()) == before  # nothing saved, nothing half-saved


# --- treatment and attendance -----------------------------------------------------------------


def test_record_treatment_from_the_participant_page(admin: TestClient, db: Session):
    page = f"{PROCESS}/participants/{BODY}"
    url = f"{PROCESS}/steps/oversendelse/treatment"
    data = {"csrf_token": token(admin, page), "participant": BODY, "back": "participant"}
    response = post(admin, url, data | {"state": "on_agenda", "meeting_date": "2020-06-18"})
    assert response.status_code == 303, response.text
    shown = text_of(admin.get(response.headers["location"]).text)
    expected = (
        "Styringsgruppen for byvekstavtalen i Grenland, «Utkast til retningslinjer for "
        "sekretariatene – til behandling i styringsgruppen»: På sakskartet for møtet 18. juni 2020."
    )
    assert expected in shown
    row = db.exec(select(Treatment).where(Treatment.participant_key == BODY)).one()
    assert (row.state, row.meeting_date, row.updated_by) == (
        TreatmentState.ON_AGENDA,
        date(2020, 6, 18),
        ADMIN,
    )
    assert last_event(db, "treatment_changed").actor == ADMIN
    # treated, without the decision: refused in bokmål, with the date kept
    data["csrf_token"] = token(admin, page)
    response = post(admin, url, data | {"state": "treated", "decided_on": "2020-06-18"})
    assert response.status_code == 400
    assert "Behandlet: fyll inn datoen for behandlingen og vedtaket." in text_of(response.text)
    assert 'name="decided_on" type="date" value="2020-06-18"' in response.text
    decision = "Utkastet ble tatt til orientering."
    # What cannot have happened yet is refused, with the reason in bokmål: a decision dated in
    # the future, one before the draft was sent (20 April), one before the meeting it is on
    # the agenda of (18 June).
    for decided_on, said in [
        (
            "2020-06-19",
            "Datoen for behandlingen (19. juni 2020) er fram i tid. Registrer vedtaket når det "
            "er fattet.",
        ),
        (
            "2020-04-17",
            "Datoen for behandlingen (17. april 2020) er før utkastet ble sendt til deltakeren "
            "(20. april 2020). Rett datoen.",
        ),
        (
            "2020-04-20",
            "Datoen for behandlingen (20. april 2020) er før møtet saken står på sakskartet til "
            "(18. juni 2020).",
        ),
    ]:
        data["csrf_token"] = token(admin, page)
        refused = post(
            admin, url, data | {"state": "treated", "decided_on": decided_on, "decision": decision}
        )
        assert refused.status_code == 400, decided_on
        assert said in text_of(refused.text)
    assert status_of(db).step("oversendelse").bodies[BODY].code == "on_agenda"  # type: ignore[union-attr, attr-defined]
    # The meeting was moved to today, and decided today: the notice ends with one full stop.
    response = post(admin, url, data | {"state": "on_agenda", "meeting_date": "2020-04-20"})
    assert response.status_code == 303
    response = post(
        admin, url, data | {"state": "treated", "decided_on": "2020-04-20", "decision": decision}
    )
    assert response.status_code == 303
    bodies = status_of(db).step("oversendelse").bodies  # type: ignore[union-attr]
    assert bodies[BODY].code == "treated"  # type: ignore[attr-defined]
    shown = text_of(admin.get(page).text)
    assert f"Behandlet 20. april 2020: {decision}" in shown
    title = "Utkast til retningslinjer for sekretariatene – til behandling i styringsgruppen"
    assert f"«{title}»: Behandlet 20. april 2020: {decision} " in shown
    assert ".." not in shown


def test_attendance_before_the_meeting_is_refused(admin: TestClient, db: Session) -> None:
    """In April, attendance at the meeting of 9 June cannot be known: refused, in bokmål (the
    form itself, after the meeting: tests/test_impossible_actions.py)."""
    html = admin.get(PROCESS).text
    assert f'action="{PROCESS}/steps/halvdagsmote/attendance"' in html
    url = f"{PROCESS}/steps/halvdagsmote/attendance"
    data = {"csrf_token": csrf_of(html), "participant": BERGEN, "back": "process"}
    refused = post(admin, url, data | {"attended": "yes"})
    assert refused.status_code == 400
    assert (
        "Møtet begynner 9. juni 2020 kl. 09.00. Oppmøte kan registreres når møtet har begynt."
        in text_of(refused.text)
    )
    assert db.exec(select(Attendance)).all() == []


# --- who may ----------------------------------------------------------------------------------

ROUTES = [
    ("innspill-oppdrag/deadline", {"deadline": "2020-05-04", "reason": "x"}),
    ("innspill-oppdrag/answer", {"received": "2020-04-17", "tema-rolle": "x"}),
    ("oversendelse/treatment", {"state": "pending"}),
    ("halvdagsmote/attendance", {"attended": "yes"}),
]


def test_viewers_see_no_forms_and_may_not_post(viewer: TestClient, admin: TestClient, db: Session):
    for url in (PROCESS, f"{PROCESS}/participants/{BERGEN}"):
        assert "Registrer og endre" in admin.get(url).text
        html = viewer.get(url).text
        assert "Registrer og endre" not in html and "/deadline" not in html
    events = len(db.exec(select(Event)).all())
    for path, fields in ROUTES:
        data = fields | {"participant": BERGEN, "csrf_token": token(viewer)}
        response = post(viewer, f"{PROCESS}/steps/{path}", data)
        assert response.status_code == 403, path
        assert "Bare administratorer kan gjøre dette" in response.text
    assert len(db.exec(select(Event)).all()) == events


def test_a_post_without_the_csrf_token_is_refused(admin: TestClient, db: Session):
    events = len(db.exec(select(Event)).all())
    for path, fields in ROUTES:
        for csrf in ({}, {"csrf_token": "forged"}):
            data = fields | {"participant": BERGEN} | csrf
            response = post(admin, f"{PROCESS}/steps/{path}", data)
            assert response.status_code == 403, (path, csrf)
            assert "Skjemaet var utløpt" in response.text
    assert len(db.exec(select(Event)).all()) == events


def test_unknown_process_or_step_is_404(admin: TestClient):
    data = {"csrf_token": token(admin), "deadline": "2020-05-04", "reason": "x"}
    assert post(admin, "/processes/ukjent/steps/x/deadline", data).status_code == 404
    data = {"csrf_token": token(admin), "received": "2020-04-17", "tema-rolle": "x"}
    assert post(admin, f"{PROCESS}/steps/ukjent/answer", data).status_code == 404
    data = {"csrf_token": token(admin), "participant": BERGEN, "attended": "yes"}
    response = post(admin, f"{PROCESS}/steps/ukjent/attendance", data)
    assert response.status_code == 400
    assert "Prosessen har ikke steget «ukjent»." in text_of(response.text)


def test_every_reason_the_planner_gives_for_not_sending_has_a_bokmal_wording() -> None:
    from innspill.dashboard.actions.texts import SKIP_REASONS, refusal
    from innspill.planning.after_deadline import TREATMENT_BLOCKERS

    assert set(TREATMENT_BLOCKERS.values()) <= set(SKIP_REASONS)
    planner = (Path(__file__).resolve().parents[1] / "innspill/planning/planner.py").read_text()
    reasons = re.findall(r'(?:skip: str \| None = |skip = |return )"([^"]+)"', planner)
    assert "already answered" in reasons  # the pattern still finds them
    for reason in reasons:
        assert reason in SKIP_REASONS, reason
    # a refusal not worded yet is still shown, after a bokmål sentence
    assert refusal("something new") == "Det ble ikke lagret: something new"
