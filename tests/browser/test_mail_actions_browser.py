"""A case officer in Chromium sends a failed message again (refused until the cause is fixed)
and reminds one participant now; every page (the error page too) passes axe (WCAG 2.1 A/AA)
and has no horizontal overflow at 1280 and 375 px. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from innspill.config.settings import Settings
from innspill.engine import tick
from innspill.models.db import make_engine, session_scope
from innspill.outbound.outbox import dispatch
from innspill.outbound.transport import CaptureTransport
from innspill.process.loading import load_definition
from tests.browser.served import run_async
from tests.browser.test_dashboard_browser import (
    AXE,
    CHROMIUM,
    browser,
    free_port,
    need,
    page,
    shot,
    violations,
)
from tests.conftest import SEED, SEED_ID, TEST_DATABASE, new_database, oslo
from tests.test_failures import BERGEN, seed_with, store

__all__ = ["browser", "page"]  # the fixtures, imported so that they use this module's server

pytestmark = pytest.mark.browser

ADMIN, PASSWORD = "kari.nordmann", "et langt passord for testen"
NOW = oslo(2020, 3, 30, 9, 5)
LATER = oslo(2020, 4, 14, 10)
PARTICIPANT = f"/processes/{SEED_ID}/participants/"
#: The outermost elements reaching past the viewport's right edge (what makes a page too wide).
WIDE_ELEMENTS = """(w) => {
    const right = (e) => e.getBoundingClientRect().right;
    return [...document.querySelectorAll("body *")]
        .filter((e) => right(e) > w + 1 && !(e.parentElement && right(e.parentElement) > w + 1))
        .slice(0, 5)
        .map((e) => `${e.tagName}.${e.className} ${Math.round(right(e))}`);
}"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The dashboard on loopback: Bergen's name hid a line break, so its invitations failed."""
    need(CHROMIUM.exists(), f"Chromium is not installed at {CHROMIUM}")
    need(AXE.exists(), f"axe-core is missing ({AXE}): npm ci --prefix tests/browser")
    import uvicorn

    from innspill.dashboard.app import create_app
    from innspill.dashboard.auth import create_user
    from innspill.dashboard.deps import get_now
    from innspill.dashboard.serving.server import config as server_config

    tmp: Path = tmp_path_factory.mktemp("browser-mail")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    store(engine, seed_with(name="=?utf-8?q?Bergen=0ABcc:_x@evil.example?="), NOW)
    assert len(tick(engine, now=NOW).failed) == 2
    run_async(dispatch(engine, CaptureTransport(tmp / "mail"), now=NOW))
    with session_scope(engine) as session:
        create_user(session, ADMIN, PASSWORD, now=datetime.now(UTC))
    app = create_app(Settings(data_dir=tmp / "data", database_url=url, _env_file=None))  # type: ignore[call-arg]
    app.dependency_overrides[get_now] = lambda: LATER
    port = free_port()
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", engine
    server.should_exit = True
    thread.join(10)
    engine.dispose()
    drop()


@pytest.fixture(scope="module")
def base_url(served: tuple[str, Any]) -> str:
    return served[0]


def check(page: Any, name: str, problems: dict[str, list[str]]) -> None:
    """axe at 1280 px, and no horizontal overflow at 1280 and 375 px (screenshots of both)."""
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        wide = page.evaluate("document.documentElement.scrollWidth")
        if wide > width:
            culprits = page.evaluate(WIDE_ELEMENTS, width)
            problems.setdefault(f"{name} ({page.url})", []).append(
                f"{wide} px wide at {width}: {culprits}"
            )
        shot(page, f"{name}-{width}")
    found = violations(page)
    if found:
        problems.setdefault(f"{name} ({page.url})", []).extend(found)


def test_a_case_officer_resends_a_failed_message_and_reminds_one_participant(
    page: Any, served: tuple[str, Any]
) -> None:
    base_url, engine = served
    problems: dict[str, list[str]] = {}
    page.goto(base_url + "/login")
    page.get_by_label("Brukernavn").fill(ADMIN)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(base_url + "/")

    page.goto(base_url + f"/processes/{SEED_ID}")
    assert page.get_by_role("heading", name="Meldinger som feilet (2)").count() == 1
    check(page, "mail-00-process", problems)
    page.locator(f'a[title="{BERGEN}"]').first.click()  # shown by name, the key on hover
    failed = page.get_by_role("table", name="som feilet")
    assert failed.get_by_role("row").count() == 3  # the header and two failed invitations
    assert "line break" in failed.inner_text()
    check(page, "mail-01-failed", problems)

    # Still broken: refused with what to correct, and a way back.
    page.get_by_role("button", name="Send på nytt").first.click()
    assert page.get_by_role("heading", level=1).inner_text() == "Meldingen ble ikke sendt på nytt"
    assert "kan fortsatt ikke lages" in page.get_by_role("alert").inner_text()
    check(page, "mail-02-refused", problems)

    store(engine, load_definition(SEED), LATER)  # the process file corrected and loaded
    page.get_by_role("link", name="Tilbake", exact=True).click()
    page.get_by_role("button", name="Send på nytt").first.click()
    page.wait_for_url(base_url + PARTICIPANT + BERGEN + "#feilet")
    notice = page.get_by_role("status").inner_text()
    assert "lagt i utboksen på nytt" in notice and "Invitasjon" in notice
    assert "Sendt på nytt" in page.get_by_role("table", name="som feilet").inner_text()
    check(page, "mail-03-resent", problems)

    page.goto(base_url + PARTICIPANT + "trondheim-sekretariat")
    page.get_by_role("button", name="Send påminnelse om").first.click()
    page.wait_for_url("**#meldinger")
    notice = page.get_by_role("status").inner_text()
    assert "påminnelse" in notice and "utboksen" in notice
    check(page, "mail-04-reminded", problems)

    page.goto(base_url + "/messages?status=failed")
    check(page, "mail-05-messages", problems)
    assert not problems, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in problems.items())
