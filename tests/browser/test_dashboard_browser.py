"""The dashboard in a real browser (the system's Chromium through Playwright): a person signs in,
opens the process, follows a participant, downloads the CSV files and signs out; every page is
checked with axe-core against WCAG 2.1 A and AA, and screenshots go to test-output/screenshots/."""

from __future__ import annotations

import csv
import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from innspill.config.settings import Settings
from innspill.demo import run as demo
from innspill.models.db import make_engine, session_scope
from innspill.outbound.transport import CaptureTransport
from tests.conftest import IN_CI, SEED_ID, TEST_DATABASE, new_database, oslo

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("INNSPILL_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-output" / "screenshots"
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
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
USER, PASSWORD = "kari.nordmann", "et langt passord for testen"
# The round played up to 28 May, seen the next morning: the second deadline (1 June) is near,
# the first one is past (with Grenland's extension and Tromsø's overdue reminders).
PLAYED_UNTIL = date(2020, 5, 28)
NOW = oslo(2020, 5, 29, 8)


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


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
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
    engine.dispose()
    app = create_app(
        Settings(
            data_dir=tmp / "data",
            database_url=url,
            prefect_ui_url="http://127.0.0.1:4200",
            _env_file=None,  # type: ignore[call-arg]
        )
    )
    app.dependency_overrides[get_now] = lambda: NOW
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
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


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Any]:
    """Chromium, started after the round is played (Playwright's sync API runs an event loop
    in this thread, and the round uses asyncio.run)."""
    from playwright.sync_api import sync_playwright

    need(CHROMIUM.exists(), f"Chromium is not installed at {CHROMIUM}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # bypass_csp: axe is injected as an inline script, which the app's policy rightly forbids
    context = browser.new_context(
        accept_downloads=True,
        bypass_csp=True,
        locale="nb-NO",
        timezone_id="Europe/Oslo",
        viewport={"width": 1366, "height": 900},
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.1 A and AA violations on the page, one readable line per element."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary}))
            }));
        }""",
        WCAG,
    )
    lines = []
    for v in found:
        for node in v["nodes"]:
            summary = " ".join(str(node["summary"]).split())
            lines.append(f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}: {summary}")
    return lines


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def check(page: Any, name: str, problems: dict[str, list[str]]) -> None:
    shot(page, name)
    found = violations(page)
    if found:
        problems[f"{name} ({page.url})"] = found


def read_download(download: Any) -> list[dict[str, str]]:
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def sign_in(page: Any, base_url: str) -> None:
    page.goto(base_url + "/")
    assert page.url.startswith(base_url + "/login")
    page.get_by_label("Brukernavn").fill(USER)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(base_url + "/")


def test_a_case_officer_follows_the_round(page: Any, base_url: str) -> None:
    problems: dict[str, list[str]] = {}
    page.goto(base_url + "/")
    assert page.url.startswith(base_url + "/login")
    check(page, "01-login", problems)
    page.get_by_label("Brukernavn").fill(USER)
    page.get_by_label("Passord").fill("feil passord")
    page.get_by_role("button", name="Logg inn").click()
    assert page.get_by_role("alert").inner_text() == "Feil brukernavn eller passord."
    check(page, "02-login-failed", problems)

    sign_in(page, base_url)
    assert page.get_by_role("heading", level=1).inner_text() == "Prosesser"
    overview = page.get_by_role("table", name="Alle prosesser (1)")
    row = overview.get_by_role("row").nth(1)
    assert "1. juni 2020" in row.inner_text()
    assert "om 3 dager" in row.inner_text()
    check(page, "03-overview", problems)

    page.get_by_role("link", name="Innspill til retningslinjer for sekretariatene for").click()
    page.wait_for_url(f"{base_url}/processes/{SEED_ID}")
    matrix = page.get_by_role("table", name="Deltakere (19) per steg")
    tromso = matrix.get_by_role("row", name="Sekretariatet for byvekstavtalen i Tromsø")
    assert "Ikke svart, over fristen" in tromso.inner_text()
    assert "Purret 2 ganger" in tromso.inner_text()
    check(page, "04-process", problems)

    with page.expect_download() as download:
        page.get_by_role("link", name="Last ned matrisen (CSV)").click()
    rows = read_download(download.value)
    assert len(rows) == 19
    grenland = next(r for r in rows if r["deltaker"] == "grenland-sekretariat")
    first = next(k for k in grenland if k.endswith("(innspill-oppdrag)"))
    assert "Utsatt frist: 8. mai 2020" in grenland[first]

    matrix.get_by_role("link", name="Sekretariatet for byvekstavtalen i Bergen").click()
    page.wait_for_url(f"{base_url}/processes/{SEED_ID}/participants/bergen-sekretariat")
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Sekretariatet for byvekstavtalen i Bergen"
    )
    sent = page.get_by_role("table", name="Meldinger sendt til Sekretariatet for")
    assert "30. mars 2020 kl. 09.00" in sent.inner_text()
    check(page, "05-participant", problems)

    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Meldinger").click()
    page.wait_for_url(base_url + "/messages")
    page.get_by_label("Type").select_option("overdue")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url("**/messages?*kind=overdue*")
    log = page.get_by_role("table", name="Meldingslogg, side 1 av 1")
    kinds = log.locator("tbody tr td:nth-child(5)").all_inner_texts()
    assert kinds and set(kinds) == {"Purring"}
    check(page, "06-messages", problems)
    with page.expect_download() as download:
        page.get_by_role("link", name="Last ned alle").click()
    assert len(read_download(download.value)) == len(kinds)

    page.get_by_role("button", name="Logg ut").click()
    page.wait_for_url(base_url + "/login")
    page.goto(base_url + "/messages")
    assert page.url.startswith(base_url + "/login")

    assert not problems, "axe-core found WCAG 2.1 A/AA violations:\n" + "\n".join(
        f"  {where}:\n" + "\n".join(f"    - {line}" for line in lines)
        for where, lines in problems.items()
    )


def test_keyboard_users_can_skip_to_the_content_and_see_focus(page: Any, base_url: str) -> None:
    sign_in(page, base_url)
    page.goto(f"{base_url}/processes/{SEED_ID}")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Hopp til hovedinnholdet"
    link = page.get_by_role("link", name="Hopp til hovedinnholdet")
    box = link.bounding_box()
    assert box is not None and box["y"] >= 0, "the skip link is visible when focused"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "innhold"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    style = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth]; })()"
    )
    assert style[0] != "none" and style[1] != "0px", style
    shot(page, "07-focus")
