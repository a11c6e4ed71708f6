"""The dashboard served once for all the browser tests (tests/browser): the 2020 round played
until 28 May and seen the next morning, signed-in users of both roles, and answer-form tokens.

Registered in tests/browser/conftest.py, so every browser test module shares one server (and
one Chromium): CI is near its time limit, and playing the round is the expensive part.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from innspill.config.settings import Settings
from innspill.demo import run as demo
from innspill.models import Role, TokenPurpose
from innspill.models.db import make_engine, session_scope
from innspill.outbound.transport import CaptureTransport
from tests.browser.a11y import AXE
from tests.conftest import IN_CI, SEED_ID, TEST_DATABASE, new_database, oslo

CHROMIUM = Path(os.environ.get("INNSPILL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USER, PASSWORD = "kari.nordmann", "et langt passord for testen"
VIEWER, VIEWER_PASSWORD = "lise.leser", "et langt passord for leseren"
# The round played up to 28 May, seen the next morning: the second deadline (1 June) is near,
# the first one is past (with Grenland's extension and Tromsø's overdue reminders).
PLAYED_UNTIL = date(2020, 5, 28)
NOW = oslo(2020, 5, 29, 8)
#: Answer-form tokens issued for the crawl: (step, participant) -> what the form shows then.
FORMS = {
    ("innspill-retningslinjer", "nord-jaeren-sekretariat"): "empty",  # answers on 29 May
    ("innspill-retningslinjer", "oslo-akershus-sekretariat"): "answered",
    ("innspill-oppdrag", "tromso-sekretariat"): "past the deadline",
}


def need(ok: bool, message: str) -> None:
    """Fail in CI, skip elsewhere, when something the browser tests need is missing."""
    if ok:
        return
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Served:
    url: str
    forms: dict[tuple[str, str], str]  # (step, participant) -> the form's /svar/ path


@pytest.fixture(scope="package")
def played_round(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The dashboard served by uvicorn on loopback, over the 2020 round played until May."""
    need(
        CHROMIUM.exists(),
        f"Chromium is not installed at {CHROMIUM}: apt-get install chromium chromium-driver",
    )
    need(AXE.exists(), f"axe-core is missing ({AXE}): npm ci --prefix tests/browser")
    import uvicorn

    from innspill.dashboard.app import create_app
    from innspill.dashboard.auth import create_user
    from innspill.dashboard.deps import get_now
    from innspill.dashboard.serving.server import config as server_config
    from innspill.process.loading import get_definition
    from innspill.tokens import issue

    tmp = tmp_path_factory.mktemp("browser")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    transport = CaptureTransport(tmp / "mail")
    demo.setup(engine)
    for day in demo.days():
        if day > PLAYED_UNTIL:
            break
        demo.run_day(engine, transport, day)
    with session_scope(engine) as session:
        create_user(session, USER, PASSWORD, now=datetime.now(UTC))
        create_user(session, VIEWER, VIEWER_PASSWORD, now=datetime.now(UTC), role=Role.VIEWER)
    engine.dispose()
    app = create_app(
        Settings(
            data_dir=tmp / "data",
            database_url=url,
            prefect_ui_url="http://127.0.0.1:4200",
            secret_key=demo.DEMO_SECRET,  # the key the round's links were made with
            _env_file=None,  # type: ignore[call-arg]
        )
    )
    app.dependency_overrides[get_now] = lambda: NOW
    forms = {}
    with session_scope(app.state.engine) as session:
        definition = get_definition(session, SEED_ID)
        for step, who in FORMS:
            token = issue(
                session,
                definition,
                step_id=step,
                participant_id=who,
                purpose=TokenPurpose.FORM,
                secret=app.state.settings.resolved_secret_key(),
                now=NOW,
            )
            forms[(step, who)] = f"/svar/{token}"
    port = free_port()
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield Served(f"http://127.0.0.1:{port}", forms)
    server.should_exit = True
    thread.join(10)
    drop()


@pytest.fixture(scope="package")
def chromium(played_round: Served) -> Iterator[Any]:
    """Chromium for tests/browser, started after the round is played (Playwright's sync API runs
    an event loop in this thread, and the round uses asyncio.run). Package scope: it stops
    after the last browser test, so the loop does not outlive them and break asyncio.run in
    the tests that follow."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(browser: Any, *, width: int = 1366) -> Any:
    """A tab in a fresh context (its own cookies): CSP bypassed for axe, Norwegian, Oslo."""
    context = browser.new_context(
        accept_downloads=True,
        bypass_csp=True,
        locale="nb-NO",
        timezone_id="Europe/Oslo",
        viewport={"width": width, "height": 900},
    )
    context.set_default_timeout(15_000)
    return context.new_page()


def sign_in(page: Any, base_url: str, username: str = USER, password: str = PASSWORD) -> None:
    page.goto(base_url + "/login")
    page.get_by_label("Brukernavn").fill(username)
    page.get_by_label("Passord").fill(password)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(base_url + "/")


def run_async(coroutine: Any) -> Any:
    """Run a coroutine to its end from a fixture: in a thread of its own, since Playwright's
    sync API may already run an event loop in this one (asyncio.run would refuse)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
