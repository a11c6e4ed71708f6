"""Every page a person can reach, checked: signed in as an administrator and as a viewer, the
crawl starts at / and follows every same-origin link (GET; not sign-out, not downloads; a few
pages under one parent path, such as participants or messages, stand for the rest), and the
participants' answer form and its error pages are added by their addresses. Each page must
have no axe-core WCAG 2.1 A/AA violation and must not scroll sideways at 1280 and 375 px.

New pages are found through their links: a page no link reaches is not checked (and no person
finds it either). Pages reached only by a POST call `assert_accessible` in their own tests.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.a11y import assert_accessible, crawl, problems
from tests.browser.served import VIEWER, VIEWER_PASSWORD, Served, new_page, sign_in
from tests.browser.test_dashboard_browser import SCREENSHOTS, shot
from tests.conftest import SEED_ID

pytestmark = pytest.mark.browser

#: Enough for every kind of page of one process (overview, process, participants, messages,
#: users and what other pages link to) without letting a bug make the crawl endless.
LIMIT = 80
#: Pages under one parent path checked per crawl (participants, messages): one template each.
PER_PARENT = 5


def paths(visited: dict[str, int]) -> set[str]:
    return {urlsplit(url).path for url in visited}


def test_every_page_an_administrator_reaches_is_accessible(
    chromium: Any, played_round: Served
) -> None:
    base = played_round.url
    page = new_page(chromium)
    try:
        sign_in(page, base)
        # a few pages stand for many of one kind (participants, messages): CI time is short
        seen = crawl(page, [base + "/"], limit=LIMIT, per_parent=PER_PARENT)
    finally:
        page.context.close()
    assert not seen.problems, "pages with problems:\n" + seen.report()
    reached = paths(seen.visited)
    # the crawl got where a case officer goes: participants, the log, the users
    participants = {p for p in reached if p.startswith(f"/processes/{SEED_ID}/participants/")}
    assert len(participants) == PER_PARENT
    assert {"/", f"/processes/{SEED_ID}", "/messages", "/users"} <= reached
    assert all(status == 200 for status in seen.visited.values()), seen.visited
    assert len(seen.visited) < LIMIT, "the crawl hit its limit: raise it, or find the loop"


def test_every_page_a_viewer_reaches_is_accessible(chromium: Any, played_round: Served) -> None:
    base = played_round.url
    page = new_page(chromium)
    try:
        sign_in(page, base, VIEWER, VIEWER_PASSWORD)
        # two pages of a kind stand for the rest (the administrator's crawl sees more)
        seen = crawl(page, [base + "/"], limit=LIMIT, per_parent=2)
        page.goto(base + "/users")  # not linked for a viewer: the refusal must be readable too
        refused = problems(page)
    finally:
        page.context.close()
    assert not seen.problems, "pages with problems:\n" + seen.report()
    assert "/users" not in paths(seen.visited)
    assert {"/", f"/processes/{SEED_ID}", "/messages"} <= paths(seen.visited)
    assert not refused, refused


def test_the_answer_form_and_its_error_pages_are_accessible(
    chromium: Any, played_round: Served
) -> None:
    """No sign-in: the form as a participant opens it (empty, with an earlier answer, after
    the deadline), a mistyped address, and the form sent back with nothing filled in."""
    base = played_round.url
    page = new_page(chromium)
    try:
        forms = [base + path for path in played_round.forms.values()]
        seen = crawl(page, [*forms, base + "/svar/" + "a" * 32, base + "/finnes-ikke"], limit=20)
        empty = played_round.forms[("innspill-retningslinjer", "nord-jaeren-sekretariat")]
        page.goto(base + empty)
        page.locator("form.answer-form button[type=submit]").first.click()
        page.wait_for_load_state()
        sent_back = page.get_by_role("alert").count() + page.locator(".field-error").count()
        assert sent_back, "an empty answer is refused with a message"
        assert_accessible(page)
    finally:
        page.context.close()
    assert not seen.problems, "pages with problems:\n" + seen.report()
    statuses = sorted(seen.visited.values())
    assert statuses.count(404) == 2 and statuses.count(200) >= 2, seen.visited


def test_the_process_page_shows_progress_at_a_glance(chromium: Any, played_round: Served) -> None:
    """The answers-over-time charts are images with their numbers as their name, the same
    numbers are text on the page, the participants are in one table per role, and the message
    log fits 1280 px; screenshots at a desktop and a phone width go to test-output/screenshots/."""
    base = played_round.url
    page = new_page(chromium, width=1280)
    try:
        sign_in(page, base)
        page.goto(f"{base}/processes/{SEED_ID}")
        first = page.get_by_role("img", name="Svar over tid: Innspill til oppdraget")
        # 29 May: 8 of 9 answered the first step (Buskerudbyen late, Grenland within its
        # extension); Tromsø never did
        title, description = (first.get_attribute("aria-labelledby") or "").split()
        assert page.locator(f"#{title}").text_content() == "Svar over tid: Innspill til oppdraget"
        summary = page.locator("#diagram-innspill-oppdrag .chart-summary").inner_text()
        assert summary == (
            "8 av 9 har svart: 7 innen fristen 27. april 2020 og 1 etter den. "
            "1 har ikke svart: 1 er over fristen."
        )
        assert page.locator(f"#{description}").text_content() == summary
        assert page.locator("#diagram-innspill-oppdrag circle").count() == 8
        assert page.locator("#diagram-innspill-oppdrag circle.chart-dot-late").count() == 1
        assert page.get_by_role("img", name="Svar over tid: Innspill til retningslinjer").count()
        tables = page.locator("table.matrix caption").all_inner_texts()
        assert tables == [
            "Sekretariater (9) per steg",
            "Styringsgrupper (9) per steg",
            "Utredere (1) per steg",
        ]
        # the message log's table fits a desktop screen: no column is cut off
        page.goto(base + "/messages")
        region = page.get_by_role("region", name="Meldingslogg, side 1")
        sizes = region.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert sizes[0] <= sizes[1], f"the log scrolls inside its region at 1280 px: {sizes}"
        shot(page, "progress-messages-1280")
        page.goto(f"{base}/processes/{SEED_ID}")
        for width in (1280, 375):
            page.set_viewport_size({"width": width, "height": 900})
            shot(page, f"progress-process-{width}")
            charts = SCREENSHOTS / f"progress-charts-{width}.png"
            page.locator(".charts").screenshot(path=str(charts))
            if width == 375:
                page.screenshot(path=str(SCREENSHOTS / "progress-process-375-top.png"))
            page.goto(base + "/")
            shot(page, f"progress-overview-{width}")
            page.goto(f"{base}/processes/{SEED_ID}")
    finally:
        page.context.close()
