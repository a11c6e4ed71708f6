"""A case officer sorts held mail and adds a draft in Chromium: the holding queue, a message
shown safely, a wrong and a right assignment, a dismissal, a refused and an accepted draft
upload, and a sent message. Every page (errors too) passes axe-core WCAG 2.1 A/AA and has no
horizontal overflow at 1280 and 375 px; screenshots go to test-output/screenshots/."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, select

from innspill.config.settings import Settings
from innspill.engine import tick
from innspill.models import Event, InboundMessage, InboundStatus, OutboxMessage, TokenPurpose
from innspill.models.db import make_engine, session_scope
from innspill.process.loading import get_definition
from innspill.tokens import issue
from tests.browser.test_dashboard_browser import (
    AXE,
    CHROMIUM,
    free_port,
    need,
    shot,
    violations,
)
from tests.conftest import SEED_ID, TEST_DATABASE, load_seed, new_database, oslo
from tests.test_dashboard_inbox import BERGEN, STEP, _import, html_mail

pytestmark = pytest.mark.browser

USER, PASSWORD = "kari.nordmann", "et langt passord for testen"
NOW = oslo(2020, 4, 20, 10)
WIDTHS = (1280, 375)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The dashboard over the seed (invited), with two held mails and a tokened empty reply."""
    need(CHROMIUM.exists(), f"Chromium is not installed at {CHROMIUM}")
    need(AXE.exists(), f"axe-core is missing ({AXE}): npm ci --prefix tests/browser")
    import uvicorn

    from innspill.dashboard.app import create_app
    from innspill.dashboard.auth import create_user
    from innspill.dashboard.deps import get_now
    from innspill.dashboard.serving.server import config as server_config

    tmp = tmp_path_factory.mktemp("browser-inbox")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    load_seed(engine)
    tick(engine, now=oslo(2020, 3, 30, 9))
    with session_scope(engine) as session:
        token = issue(
            session,
            get_definition(session, SEED_ID),
            step_id=STEP,
            participant_id="bergen-sekretariat",
            purpose=TokenPurpose.REPLY,
            secret="test",
            now=NOW,
        )
        _import(session, html_mail(), "html")
        empty = (
            f"From: {BERGEN}\r\nTo: innspill+{token}@vegvesen.example\r\n"
            "Subject: SV: innspill\r\nContent-Type: text/plain\r\n\r\n\r\n"
        ).encode()
        _import(session, empty, "empty")
        create_user(session, USER, PASSWORD, now=NOW)
    engine.dispose()
    app = create_app(
        Settings(data_dir=tmp / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    )
    app.dependency_overrides[get_now] = lambda: NOW
    port = free_port()
    srv = uvicorn.Server(server_config(app, host="127.0.0.1", port=port))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    srv.should_exit = True
    thread.join(10)
    drop()


@pytest.fixture(scope="module")
def page(server: tuple[str, Any], chromium: Any) -> Iterator[Any]:
    """A tab of the session's Chromium (tests/browser/served.py: one Playwright per thread)."""
    # bypass_csp: axe is injected as an inline script, which the app's policy forbids
    context = chromium.new_context(
        bypass_csp=True, locale="nb-NO", timezone_id="Europe/Oslo", accept_downloads=True
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def look(page: Any, name: str, problems: dict[str, list[str]]) -> None:
    """axe-core, and horizontal overflow and a screenshot at each width."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        found = violations(page) if width == WIDTHS[0] else []  # the same DOM at both widths
        if overflow > 0:
            wide = page.evaluate(
                """(w) => [...document.querySelectorAll('main *')]
                    .filter(e => e.getBoundingClientRect().right > w + 1)
                    .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)""",
                width,
            )
            found.append(f"horizontal overflow of {overflow} px: {wide}")
        if found:
            problems[f"{name} at {width} px ({page.url})"] = found
        shot(page, f"inbox-{name}-{width}")
    page.set_viewport_size({"width": 1280, "height": 900})


def docx(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", f"<w:document>{text}</w:document>")
    return buffer.getvalue()


def test_a_case_officer_sorts_held_mail_and_adds_a_draft(
    page: Any, server: tuple[str, Any]
) -> None:
    base, app = server
    problems: dict[str, list[str]] = {}
    page.goto(base + "/login")
    page.get_by_label("Brukernavn").fill(USER)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(base + "/")

    nav = page.get_by_role("navigation", name="Hovedmeny")
    nav.get_by_role("link", name="Holdt tilbake").click()
    page.wait_for_url(base + "/inbox")
    queue = page.get_by_role("table", name="2 meldinger holdt tilbake")
    assert "no token in the recipient address or subject" in queue.inner_text()
    look(page, "01-queue", problems)

    queue.get_by_role("link", name="Innspill fra Bergen").click()
    page.wait_for_url("**/inbox/*")
    frame = page.frame_locator("iframe.mail-html")
    assert frame.locator("b").inner_text() == "svaret"  # shown, inert
    assert page.get_by_role("link", name="svar fra Bergen æøå.docx").is_visible()
    look(page, "02-message", problems)

    # a steering group is not asked in this step: the form says so, the choice is kept
    page.get_by_label("Steg").select_option(f"{SEED_ID}/{STEP}")
    page.get_by_label("Deltaker").select_option("bergen-styringsgruppe")
    page.get_by_role("button", name="Gjør til svar").click()
    alert = page.get_by_role("alert")
    assert "er ikke bedt om innspill i steget" in alert.inner_text()
    assert page.get_by_label("Deltaker").input_value() == "bergen-styringsgruppe"
    look(page, "03-assign-refused", problems)

    page.get_by_label("Deltaker").select_option("bergen-sekretariat")
    page.get_by_role("button", name="Gjør til svar").click()
    page.wait_for_url(base + "/inbox")
    notice = page.get_by_role("status")
    assert "er nå svaret fra Sekretariatet for byvekstavtalen i Bergen" in notice.inner_text()
    assert "Kvittering" in notice.inner_text()  # the receipt the next tick sends
    look(page, "04-assigned", problems)

    page.get_by_role("link", name="SV: innspill").click()
    page.get_by_role("button", name="Legg til side").click()
    page.wait_for_url(base + "/inbox")
    assert "er lagt til side" in page.get_by_role("status").inner_text()
    assert "Ingen e-post holdes tilbake." in page.locator("main").inner_text()

    page.goto(f"{base}/processes/{SEED_ID}#dokumenter")
    form = page.get_by_role("form", name="Legg til ny versjon av utkastet")
    form.get_by_label("Hva er endret").fill("Første utkast til høring")
    form.get_by_role("button", name="Registrer utkastet").click()
    assert page.get_by_role("alert").inner_text() == "Velg en fil å laste opp."
    form = page.get_by_role("form", name="Legg til ny versjon av utkastet")
    assert form.get_by_label("Hva er endret").input_value() == "Første utkast til høring"
    look(page, "05-draft-refused", problems)

    form.get_by_label("Fil").set_input_files(
        files=[
            {
                "name": "Utkast.docx",
                "mimeType": "application/octet-stream",
                "buffer": docx("Utkast"),
            }
        ]
    )
    form.get_by_role("button", name="Registrer utkastet").click()
    page.wait_for_url(f"{base}/processes/{SEED_ID}#dokumenter")
    notice = page.get_by_role("status").inner_text()
    assert "Utkast versjon 1 (Utkast.docx) er registrert." in notice
    assert "Oversendelse til behandling til Styringsgruppen" in notice
    look(page, "06-draft-added", problems)

    with Session(app.state.engine) as session:
        actors = session.exec(select(Event.actor).where(Event.kind == "draft_registered")).all()
        assigned = session.exec(
            select(InboundMessage).where(InboundMessage.status == InboundStatus.ASSIGNED)
        ).all()
        invitation = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "invitation")
        ).first()
    assert list(actors) == [USER] and len(assigned) == 1 and invitation is not None

    page.goto(f"{base}/messages/{invitation.id}")
    assert page.get_by_role("heading", level=1).inner_text() == invitation.subject
    look(page, "07-sent-message", problems)
    page.goto(f"{base}/inbox/999999")
    look(page, "08-not-found", problems)

    assert not problems, "Found:\n" + "\n".join(
        f"  {where}:\n" + "\n".join(f"    - {line}" for line in lines)
        for where, lines in problems.items()
    )
