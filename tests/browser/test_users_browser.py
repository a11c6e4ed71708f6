"""User management in a real browser: an administrator adds a viewer, gives them a new password
and removes them; a viewer sees no user pages. Every page is checked with axe-core."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from innspill.config.settings import Settings
from innspill.models.db import make_engine, session_scope
from tests.browser.test_dashboard_browser import (
    AXE,
    CHROMIUM,
    browser,
    check,
    free_port,
    need,
    page,
)
from tests.conftest import TEST_DATABASE, load_seed, new_database

__all__ = ["browser", "page"]  # the fixtures, imported so that they use this module's server

pytestmark = pytest.mark.browser

ADMIN, ADMIN_PASSWORD = "kari.nordmann", "et langt passord for testen"
NEW, NEW_PASSWORD = "ola.leser", "et passord for leseren"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard served by uvicorn on loopback: the seed process and one administrator."""
    need(CHROMIUM.exists(), f"Chromium is not installed at {CHROMIUM}")
    need(AXE.exists(), f"axe-core is missing ({AXE}): npm ci --prefix tests/browser")
    import uvicorn

    from innspill.dashboard.app import create_app
    from innspill.dashboard.auth import create_user
    from innspill.dashboard.serving.server import config as server_config

    tmp: Path = tmp_path_factory.mktemp("browser-users")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    load_seed(engine)
    with session_scope(engine) as session:
        create_user(session, ADMIN, ADMIN_PASSWORD, now=datetime.now(UTC))
    engine.dispose()
    app = create_app(Settings(data_dir=tmp / "data", database_url=url, _env_file=None))  # type: ignore[call-arg]
    port = free_port()
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    drop()


def sign_in(page: Any, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/login")
    page.get_by_label("Brukernavn").fill(username)
    page.get_by_label("Passord").fill(password)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(base_url + "/")


def test_an_administrator_manages_a_viewer(page: Any, base_url: str) -> None:
    problems: dict[str, list[str]] = {}
    sign_in(page, base_url, ADMIN, ADMIN_PASSWORD)
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Brukere").click()
    page.wait_for_url(base_url + "/users")
    assert page.get_by_role("heading", level=1).inner_text() == "Brukere"
    check(page, "users-01-list", problems)

    page.get_by_label("Brukernavn").fill(NEW)
    page.get_by_label("Leser (ser sidene)").check()
    page.get_by_label("Passord (minst 10 tegn)").fill(NEW_PASSWORD)
    page.get_by_label("Gjenta passordet").last.fill(NEW_PASSWORD)
    page.get_by_role("button", name="Legg til").click()
    page.wait_for_url(base_url + "/users")
    assert page.get_by_role("status").inner_text() == f"Brukeren «{NEW}» er lagt til (Leser)."
    table = page.get_by_role("table", name="Alle brukere (2)")
    assert "Leser" in table.get_by_role("row", name=NEW).inner_text()
    check(page, "users-02-added", problems)

    # the viewer signs in elsewhere, reads, and is shown no user pages
    viewer = page.context.browser.new_context(bypass_csp=True, locale="nb-NO")
    other = viewer.new_page()
    sign_in(other, base_url, NEW, NEW_PASSWORD)
    nav = other.get_by_role("navigation", name="Hovedmeny")
    assert nav.get_by_role("link", name="Brukere").count() == 0
    assert other.goto(base_url + "/users").status == 403
    assert other.get_by_role("heading", level=1).inner_text() == "Ikke tillatt"
    check(other, "users-03-viewer-403", problems)

    row = table.get_by_role("row", name=NEW)
    row.get_by_label(f"Nytt passord for {NEW}").fill("et nytt passord for leseren")
    row.get_by_label("Gjenta passordet").fill("et nytt passord for leseren")
    row.get_by_role("button", name="Sett nytt passord").click()
    page.wait_for_url(base_url + "/users")
    assert "1 økt(er) ble avsluttet" in page.get_by_role("status").inner_text()
    other.goto(base_url + "/")
    assert other.url.startswith(base_url + "/login")  # the viewer's session ended

    page.get_by_role("button", name=f"Fjern {NEW}").click()
    page.wait_for_url(base_url + "/users")
    assert page.get_by_role("status").inner_text().startswith(f"Brukeren «{NEW}» er fjernet")
    assert page.get_by_role("table", name="Alle brukere (1)").count() == 1
    check(page, "users-04-removed", problems)
    viewer.close()

    assert not problems, "axe-core found WCAG 2.1 A/AA violations:\n" + "\n".join(
        f"  {where}:\n" + "\n".join(f"    - {line}" for line in lines)
        for where, lines in problems.items()
    )
