"""Loading a process file in the browser (upload, check, load), and the two read pages of a
process: what goes out next and the event log. Real app, real database, real engine ticks."""

from __future__ import annotations

import base64
import json
import re
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from html import unescape as html_unescape
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.engine import tick
from innspill.models import DeadlineChange, Event
from innspill.models.db import session_scope
from innspill.planning.forecast import forecast
from innspill.planning.state import load_state
from innspill.process.loading import get_definition
from innspill.status import process_status
from tests.conftest import SEED, SEED_ATTACHMENTS, SEED_FILES, SEED_ID, load_seed, oslo
from tests.test_step_attachments import ATTACHMENTS

NOW = oslo(2020, 4, 14, 10)
ADMIN, VIEWER = "saksbehandler", "leser"
PASSWORD = "riktig hest batteri stift"
SEED_TEXT = SEED.read_text(encoding="utf-8")
NEW_DEADLINE = "deadline = 2020-05-04"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


@pytest.fixture
def tmp_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary files of the app go here, so the test can see that none is left behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def app(database_url: str, engine: Engine, tmp_path: Path, tmp_dirs: Path) -> FastAPI:
    """The seed loaded and its invitations queued (30 March), an administrator and a viewer."""
    load_seed(engine)
    tick(engine, now=oslo(2020, 3, 30, 9))
    with session_scope(engine) as session:
        create_user(session, ADMIN, PASSWORD, now=NOW)  # the first user: an administrator
        create_user(session, VIEWER, PASSWORD, now=NOW)  # later ones: viewers
    application = create_app(
        Settings(data_dir=tmp_path / "data", database_url=database_url, _env_file=None)  # type: ignore[call-arg]
    )
    application.dependency_overrides[get_now] = lambda: NOW
    return application


def signed_in(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app)
    token = csrf_of(client.get("/login").text)
    data = {"username": username, "password": PASSWORD, "next": "/", "csrf_token": token}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    return client


@pytest.fixture
def admin(app: FastAPI) -> Iterator[TestClient]:
    with signed_in(app, ADMIN) as client:
        yield client


@pytest.fixture
def viewer(app: FastAPI) -> Iterator[TestClient]:
    with signed_in(app, VIEWER) as client:
        yield client


def upload(
    client: TestClient,
    text: str = SEED_TEXT,
    *,
    name: str = "prosess.toml",
    token: str | None = None,
    extra: list[tuple[str, bytes]] | None = None,
) -> httpx.Response:
    """Upload a process file; by default with the seed's attachments beside it."""
    if extra is None:
        extra = [(n, (SEED_FILES / n).read_bytes()) for n in SEED_ATTACHMENTS]
    files = [("process_file", (name, text.encode(), "application/toml"))]
    files += [("attachments", (n, d, "application/octet-stream")) for n, d in extra]
    if token is None:
        token = csrf_of(client.get("/load").text)
    return client.post("/load", data={"csrf_token": token}, files=files)


def apply(client: TestClient, preview: httpx.Response, **override: str) -> httpx.Response:
    data = {
        "csrf_token": csrf_of(preview.text),
        "upload": hidden(preview.text, "upload"),
        "signature": hidden(preview.text, "signature"),
    } | override
    return client.post("/load/apply", data=data, follow_redirects=False)


def events(engine: Engine, kind: str) -> list[Event]:
    with session_scope(engine) as session:
        return list(
            session.exec(select(Event).where(Event.kind == kind).order_by(col(Event.id))).all()
        )


# --- loading a file -----------------------------------------------------------------------


def test_an_edited_deadline_is_previewed_then_loaded_by_the_signed_in_user(
    admin: TestClient, engine: Engine, tmp_dirs: Path
) -> None:
    edited = SEED_TEXT.replace("deadline = 2020-04-27", NEW_DEADLINE, 1)
    preview = upload(admin, edited)
    assert preview.status_code == 200, preview.text
    html = preview.text
    assert "Filen er gyldig" in html
    assert 'data-outcome="updated"' in html
    assert "frist for innspill-oppdrag: 27. april 2020 → 4. mai 2020" in html
    # What the ticks would send because of it: the nine secretariats are told of the new
    # deadline; the reminders before the old deadline fall away.
    added = html[html.index('id="added"') : html.index('id="removed"')]
    removed = html[html.index('id="removed"') :]
    assert 'data-kind="deadline_changed"' in added and 'data-count="9"' in added
    assert 'data-kind="reminder"' in removed
    assert list(tmp_dirs.iterdir()) == []  # the upload's temporary folder is gone
    with session_scope(engine) as session:  # nothing written by the check
        assert session.exec(select(DeadlineChange)).all() == []

    response = apply(admin, preview)
    assert response.status_code == 303
    assert response.headers["location"] == f"/processes/{SEED_ID}"
    assert list(tmp_dirs.iterdir()) == []
    [event] = events(engine, "process_updated")
    assert event.actor == ADMIN
    assert "deadline of innspill-oppdrag: 2020-04-27 -> 2020-05-04" in event.detail
    with session_scope(engine) as session:
        [change] = session.exec(select(DeadlineChange)).all()
        assert change.changed_by == ADMIN and str(change.deadline) == "2020-05-04"
        status = process_status(session, get_definition(session, SEED_ID), now=NOW)
    step = next(s for s in status.steps if s.step == "innspill-oppdrag")
    assert str(step.deadline) == "2020-05-04"
    page = admin.get(f"/processes/{SEED_ID}").text  # the notice, once, with what goes out
    assert "er oppdatert fra prosess.toml" in page
    assert "Endret frist" in page
    assert "er oppdatert fra" not in admin.get(f"/processes/{SEED_ID}").text
    # The same upload again: nothing to load.
    again = upload(admin, edited)
    assert 'data-outcome="unchanged"' in again.text
    assert 'name="signature"' not in again.text


def test_the_diff_shows_what_changed_and_not_the_rest(admin: TestClient) -> None:
    edited = SEED_TEXT.replace("deadline = 2020-04-27", NEW_DEADLINE, 1).replace(
        'name = "Sekretariatet for byvekstavtalen i Bergen"',
        'name = "Sekretariatet for byvekstavtalen i Bergen og omegn"',
    )
    preview = upload(admin, edited)
    assert preview.status_code == 200, preview.text
    shown = re.search(r'<pre class="source-diff">(.*?)</pre>', preview.text, re.S)
    assert shown
    diff = html_unescape(shown[1]).splitlines()
    assert "--- lastet inn" in diff and "+++ ny fil" in diff
    assert '-      "deadline": "2020-04-27",' in diff and '+      "deadline": "2020-05-04",' in diff
    assert '+      "name": "Sekretariatet for byvekstavtalen i Bergen og omegn",' in diff
    text = "\n".join(diff)
    # Of the 19 participants only Bergen's secretariat, of the steps only the one changed.
    assert '"id": "bergen-sekretariat"' in text and '"id": "oslo-akershus-sekretariat"' not in text
    assert "oversendelse" not in text and "halvdagsmote" not in text


def test_a_new_process_is_loaded_from_an_upload(
    admin: TestClient, engine: Engine, tmp_dirs: Path
) -> None:
    text = SEED_TEXT.replace(f'id = "{SEED_ID}"', 'id = "ny-runde-2020"', 1)
    preview = upload(admin, text, name="ny-runde.toml")
    assert 'data-outcome="created"' in preview.text
    assert 'data-kind="invitation"' in preview.text  # they go out at the next tick
    response = apply(admin, preview)
    assert response.headers["location"] == "/processes/ny-runde-2020"
    [event] = [e for e in events(engine, "process_loaded") if e.process_id == "ny-runde-2020"]
    assert event.actor == ADMIN and event.detail == "from ny-runde.toml"
    assert list(tmp_dirs.iterdir()) == []
    assert admin.get("/processes/ny-runde-2020").status_code == 200


def test_attachments_are_uploaded_beside_the_process_file(
    admin: TestClient, tmp_dirs: Path
) -> None:
    edited = SEED_TEXT.replace("deadline = 2020-04-27", NEW_DEADLINE, 1)
    assignment = (SEED_FILES / "oppdrag.md").read_bytes()
    preview = upload(
        admin, edited, extra=[("oppdrag.md", assignment), ("vedlegg.pdf", b"%PDF-1.4 test")]
    )
    assert preview.status_code == 200
    assert "oppdrag.md, prosess.toml, vedlegg.pdf" in preview.text
    payload = hidden(preview.text, "upload")
    carried = json.loads(base64.urlsafe_b64decode(payload))
    assert base64.b64decode(carried["files"]["vedlegg.pdf"]) == b"%PDF-1.4 test"
    assert list(tmp_dirs.iterdir()) == []


def test_an_attachment_outside_the_upload_is_refused_alike_whether_it_exists(
    admin: TestClient, engine: Engine, tmp_path: Path, tmp_dirs: Path
) -> None:
    secret = tmp_path / "data" / "hemmelig.md"
    secret.parent.mkdir(exist_ok=True)
    secret.write_text("HEMMELIG-INNHOLD", "utf-8")
    pages = []
    for target in (secret, tmp_path / "data" / "mangler.md"):
        escape = "../" * 12 + str(target).lstrip("/")
        for name in (escape, str(target)):
            text = SEED_TEXT.replace(ATTACHMENTS, f'attachments = ["{name}"]')
            response = upload(admin, text)
            assert response.status_code == 400
            assert "steps[0].attachments[0]" in response.text
            assert "HEMMELIG-INNHOLD" not in response.text
            pages.append(response.text.replace(name, "NAME"))
    assert len(set(pages)) == 1  # the same page whether or not the file exists
    assert "give the bare name of a file beside the process file" in pages[0]
    assert events(engine, "process_updated") == []
    assert list(tmp_dirs.iterdir()) == []


def test_a_file_uploaded_under_a_decomposed_name_is_found_by_its_composed_name(
    admin: TestClient,
) -> None:
    composed = "Høringsnotat å lese.md"
    decomposed = "Høringsnotat a\u030a lese.md"
    text = SEED_TEXT.replace(ATTACHMENTS, f'attachments = ["{composed}"]')
    preview = upload(admin, text, extra=[(decomposed, b"# Notat\n")])
    assert preview.status_code == 200, preview.text
    carried = json.loads(base64.urlsafe_b64decode(hidden(preview.text, "upload")))
    assert composed in carried["files"]


def test_an_invalid_file_names_the_field_and_loads_nothing(
    admin: TestClient, engine: Engine, tmp_dirs: Path
) -> None:
    broken = SEED_TEXT.replace("deadline = 2020-04-27", "deadline = 2020-02-01", 1)
    response = upload(admin, broken)
    assert response.status_code == 400
    assert "har 1 feil" in response.text and "Ingenting er lastet inn" in response.text
    assert "steps[0].deadline" in response.text
    assert tempfile.gettempdir() not in response.text
    assert list(tmp_dirs.iterdir()) == []
    not_toml = upload(admin, name="prosess.txt")
    assert not_toml.status_code == 400 and "slutter på .toml" in not_toml.text
    syntax = upload(admin, "[process\n")
    assert syntax.status_code == 400 and "Ingenting er lastet inn" in syntax.text
    assert events(engine, "process_updated") == []


def test_a_change_that_rewrites_history_is_refused(admin: TestClient, engine: Engine) -> None:
    # The invitations went out with this reference: it cannot change now.
    edited = re.sub(r'reference = "[^"]+"', 'reference = "99/99999"', SEED_TEXT, count=1)
    response = upload(admin, edited)
    assert response.status_code == 400
    assert "kan ikke lastes inn" in response.text
    assert "reference changed" in response.text
    assert 'name="signature"' not in response.text
    assert events(engine, "process_updated") == []


def test_the_load_takes_exactly_the_checked_upload(
    admin: TestClient, app: FastAPI, engine: Engine
) -> None:
    edited = SEED_TEXT.replace("deadline = 2020-04-27", NEW_DEADLINE, 1)
    preview = upload(admin, edited)
    payload = hidden(preview.text, "upload")
    content = json.loads(base64.urlsafe_b64decode(payload))
    other = SEED_TEXT.replace("deadline = 2020-04-27", "deadline = 2020-05-11", 1)
    content["files"]["prosess.toml"] = base64.b64encode(other.encode()).decode()
    forged = base64.urlsafe_b64encode(json.dumps(content).encode()).decode()
    response = apply(admin, preview, upload=forged)
    assert response.status_code == 400 and "kunne ikke bekreftes" in response.text
    assert apply(admin, preview, signature="0" * 64).status_code == 400
    # Another administrator cannot load what this one checked.
    with session_scope(engine) as session:
        create_user(session, "annen", PASSWORD, now=NOW, role="admin")  # type: ignore[arg-type]
    with signed_in(app, "annen") as other_admin:
        token = csrf_of(other_admin.get("/load").text)
        signature = hidden(preview.text, "signature")
        data = {"csrf_token": token, "upload": payload, "signature": signature}
        assert other_admin.post("/load/apply", data=data).status_code == 400
    assert events(engine, "process_updated") == []
    assert apply(admin, preview).status_code == 303  # the real one still loads


def test_viewers_and_forms_without_the_token_change_nothing(
    admin: TestClient, viewer: TestClient, engine: Engine
) -> None:
    assert 'href="/load"' not in viewer.get("/").text
    assert 'href="/load"' in admin.get("/").text
    assert viewer.get("/load").status_code == 403
    token = csrf_of(viewer.get("/").text)
    assert upload(viewer, token=token).status_code == 403
    preview = upload(admin, SEED_TEXT.replace("deadline = 2020-04-27", NEW_DEADLINE, 1))
    data = {
        "csrf_token": token,
        "upload": hidden(preview.text, "upload"),
        "signature": hidden(preview.text, "signature"),
    }
    assert viewer.post("/load/apply", data=data).status_code == 403
    assert upload(admin, token="wrong").status_code == 403
    assert upload(admin, token="").status_code == 403
    assert apply(admin, preview, csrf_token="wrong").status_code == 403
    assert events(engine, "process_updated") == []


# --- what goes out next -------------------------------------------------------------------


def test_the_next_page_shows_the_forecast_grouped_by_day(admin: TestClient, engine: Engine) -> None:
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        planned = forecast(definition, load_state(session, definition), NOW)
    html = admin.get(f"/processes/{SEED_ID}/next").text
    assert f'href="/processes/{SEED_ID}/next"' in admin.get(f"/processes/{SEED_ID}").text
    assert f'href="/processes/{SEED_ID}/next"' in admin.get("/").text
    counts = [int(n) for n in re.findall(r'data-count="(\d+)"', html)]
    assert sum(max(1, n) for n in counts) == len(planned)
    # Reminders (20 and 23 April) and the overdue notice (28 April) to the nine
    # secretariats who have not answered: one group a day, each with its nine recipients.
    days = re.findall(r"<h2 id=\"dag-\d+\">([^<]+)</h2>", html)
    assert days == ["Mandag 20. april 2020", "Torsdag 23. april 2020", "Tirsdag 28. april 2020"]
    assert html.count("<summary>Til 9 deltakere</summary>") == 3
    assert "sekretariat@bergen.byvekst.example" in html
    assert f'href="/processes/{SEED_ID}/participants/bergen-sekretariat"' in html
    assert re.search(r"kl\. 09\.00</span>\s*<strong>Påminnelse</strong>", html)


# --- the event log ------------------------------------------------------------------------


def test_the_event_log_says_who_did_what_newest_first(admin: TestClient, engine: Engine) -> None:
    preview = upload(admin, SEED_TEXT.replace("deadline = 2020-04-27", NEW_DEADLINE, 1))
    apply(admin, preview)
    url = f"/processes/{SEED_ID}/events"
    assert f'href="{url}"' in admin.get(f"/processes/{SEED_ID}").text
    html = admin.get(url).text
    actors = re.findall(r'data-actor="([^"]*)"', html)
    kinds = re.findall(r'data-kind="([^"]*)"', html)
    assert kinds[0] == "process_updated" and actors[0] == ADMIN  # the newest
    assert "Prosessfilen ble endret" in html
    assert "<td>systemet</td>" in html  # the engine's own (queued invitations)
    with session_scope(engine) as session:
        total = len(session.exec(select(Event).where(Event.process_id == SEED_ID)).all())
    assert f"av {total} hendelser" in html
    only = admin.get(url, params={"kind": "message_queued"}).text
    assert set(re.findall(r'data-kind="([^"]*)"', only)) == {"message_queued"}
    one = admin.get(url, params={"participant": "bergen-sekretariat"}).text
    assert "av 2 hendelser" in one  # two invitations queued for Bergen
    page = admin.get(f"/processes/{SEED_ID}/participants/bergen-sekretariat").text
    assert f"{url}?participant=bergen-sekretariat" in page
    assert admin.get(url, params={"kind": "<nope>"}).status_code == 400
    assert admin.get("/processes/ukjent/events").status_code == 404
    assert admin.get(url, params={"page": "0"}).status_code == 400


def test_the_event_log_pages(admin: TestClient, engine: Engine) -> None:
    for day in range(20, 51):  # reminders and overdue notices: over one page of events
        tick(engine, now=oslo(2020, 4, 1, 9) + timedelta(days=day - 1))
    url = f"/processes/{SEED_ID}/events"
    with session_scope(engine) as session:
        total = len(session.exec(select(Event).where(Event.process_id == SEED_ID)).all())
    assert total > 50
    first = admin.get(url).text
    assert f"Viser 1–50 av {total} hendelser" in first
    assert 'rel="next"' in first
    second = admin.get(url, params={"page": 2}).text
    assert f"Viser 51–{min(total, 100)} av {total} hendelser" in second
