"""The journal in a real browser, as a viewer reads it: the process's journal with its links to
the letter as sent, the answer and the document, and the public journal for a date range as a
page and as CSV. Checked with axe-core; screenshots go to test-output/screenshots/."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.a11y import assert_accessible
from tests.browser.served import VIEWER, VIEWER_PASSWORD, Served, new_page, sign_in
from tests.browser.test_dashboard_browser import shot
from tests.conftest import SEED_ID

pytestmark = pytest.mark.browser


def test_a_viewer_reads_the_journal_and_follows_its_links(
    chromium: Any, played_round: Served
) -> None:
    base = played_round.url
    page = new_page(chromium)
    try:
        sign_in(page, base, VIEWER, VIEWER_PASSWORD)
        page.goto(f"{base}/processes/{SEED_ID}")
        page.get_by_role("link", name="Journal", exact=True).click()
        page.wait_for_url(f"{base}/processes/{SEED_ID}/journal")
        lead = page.locator("p.lead").inner_text()
        assert "Statens vegvesen (org.nr. 971032081)" in lead
        table = page.get_by_role("table", name="Journalposter i saken 20/64758")
        rows = table.locator("tbody tr")
        count = rows.count()
        assert count > 40
        # gapless from the seed's first document number, in journal order
        numbers = [rows.nth(i).locator("td").first.inner_text() for i in range(count)]
        assert numbers == [f"20/64758-{n}" for n in range(6, 6 + count)]
        first = rows.nth(0).inner_text()
        assert "Utgående" in first
        assert "Sekretariatet for byvekstavtalen i Oslo og Akershus" in first
        assert "Ekspedert 30.03.2020 kl. 09.00" in first
        answer = table.locator("tr[data-source=answer]").first
        assert "Inngående" in answer.inner_text() and "Mottatt" in answer.inner_text()
        shot(page, "40-journal")
        assert_accessible(page)

        # the first letter, as it was sent, carries its own number
        rows.nth(0).get_by_role("link", name=re.compile("Brevet slik det ble sendt")).click()
        page.wait_for_url(re.compile(rf"{base}/messages/\d+"))
        assert "Vår referanse: 20/64758-6" in page.locator("body").inner_text()

        # an answer's entry leads to that answer on the participant's page
        page.go_back()
        link = answer.get_by_role("link", name=re.compile("Innspillet, versjon 1"))
        target = link.get_attribute("href")
        assert target is not None and "#svar-innspill-oppdrag-1" in target
        link.click()
        page.wait_for_url(re.compile(r".*/participants/.*#svar-innspill-oppdrag-1"))
    finally:
        page.context.close()


def test_the_public_journal_for_a_range_as_page_and_csv(
    chromium: Any, played_round: Served, tmp_path: Path
) -> None:
    base = played_round.url
    page = new_page(chromium)
    try:
        sign_in(page, base, VIEWER, VIEWER_PASSWORD)
        menu = page.get_by_role("navigation", name="Hovedmeny")
        menu.get_by_role("link", name="Offentlig journal").click()
        page.wait_for_url(base + "/journal")
        # by default the last seven days up to "now" (29 May 2020 in the served round)
        assert page.get_by_label("Fra og med").input_value() == "2020-05-23"
        assert page.get_by_label("Til og med").input_value() == "2020-05-29"
        page.get_by_label("Fra og med").fill("2020-03-30")
        page.get_by_label("Til og med").fill("2020-04-02")
        page.get_by_role("button", name="Vis").click()
        page.wait_for_url(re.compile(r".*/journal\?from=2020-03-30&to=2020-04-02"))
        table = page.get_by_role("table", name=re.compile("Offentlig journal fra 30. mars 2020"))
        lines = table.locator("tbody tr")
        assert lines.count() == 11  # nine invitations, then Oslo's answer and its receipt
        assert "@" not in table.inner_text()  # no addresses in the public journal
        answer = lines.nth(9).inner_text()
        assert "20/64758-15" in answer and "Inngående" in answer
        assert "Innspill til oppdraget – Sekretariatet for byvekstavtalen i Oslo og" in answer
        shot(page, "41-public-journal")
        assert_accessible(page)

        with page.expect_download() as download:
            page.get_by_role("link", name="Last ned som CSV").click()
        raw = Path(download.value.path()).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel in Norway needs
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
        assert rows[0] == [
            "journaldato",
            "dokumentnummer",
            "type",
            "avsender/mottaker",
            "sak",
            "tittel",
        ]
        assert [r[1] for r in rows[1:]] == [f"20/64758-{n}" for n in range(6, 17)]
        assert rows[1][:4] == [
            "2020-03-30",
            "20/64758-6",
            "Utgående",
            "Sekretariatet for byvekstavtalen i Oslo og Akershus",
        ]

        page.goto(base + "/journal?from=30.03.2020")
        assert "ikke en gyldig fra-dato" in page.locator("main").inner_text()
        assert_accessible(page)
    finally:
        page.context.close()
