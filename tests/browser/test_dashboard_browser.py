"""The dashboard in a real browser (the system's Chromium through Playwright): a person signs in,
opens the process, follows a participant, downloads the CSV files and signs out; every page is
checked with axe-core against WCAG 2.1 A and AA, and screenshots go to test-output/screenshots/."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.a11y import AXE, WCAG, violations
from tests.browser.served import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NOW,
    PASSWORD,
    PLAYED_UNTIL,
    USER,
    Served,
    free_port,
    need,
    new_page,
)
from tests.conftest import SEED_ID

__all__ = [
    "AXE",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "NOW",
    "PLAYED_UNTIL",
    "WCAG",
    "free_port",
    "need",
    "violations",
]

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def base_url(played_round: Served) -> str:
    """The dashboard over the 2020 round played until May (served once per session)."""
    return played_round.url


@pytest.fixture(scope="module")
def browser(base_url: str, chromium: Any) -> Any:
    """The session's Chromium (after this module's server has started)."""
    return chromium


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    tab = new_page(browser)
    yield tab
    tab.context.close()


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
    assert "2. juni 2020" in row.inner_text()  # 1 June, Whit Monday, runs to 2 June
    assert "om 4 dager" in row.inner_text()
    check(page, "03-overview", problems)

    page.get_by_role("link", name="Innspill til retningslinjer for sekretariatene for").click()
    page.wait_for_url(f"{base_url}/processes/{SEED_ID}")
    matrix = page.get_by_role("table", name="Sekretariater (9) per steg")
    groups = page.get_by_role("table", name="Styringsgrupper (9) per steg")
    assert groups.get_by_role("columnheader").count() == 2  # the participant and the draft
    tromso = matrix.get_by_role("row", name="Sekretariatet for byvekstavtalen i Tromsø")
    assert "Ikke svart, over fristen" in tromso.inner_text()
    assert "Purret 1 gang" in tromso.inner_text()
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
