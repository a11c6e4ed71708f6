"""Wide tables on a narrow screen (375 px) in Chromium: the table scrolls inside its region, a
shadow shows on the side where more is hidden (and only while there is more), and names in the
message log wrap between words, never inside one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.served import Served, new_page, sign_in
from tests.conftest import SEED_ID

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

#: The region's scroll state and its two edge shadows' opacity, as the browser computes them.
STATE = """(region) => {
  const edge = (which) => Number(getComputedStyle(region, which).opacity);
  return {
    scrollWidth: region.scrollWidth, clientWidth: region.clientWidth,
    scrollLeft: region.scrollLeft, start: edge('::before'), end: edge('::after'),
  };
}"""

#: Words of the cells that are laid out on more than one line: a word broken inside itself
#: (a key in <code>, such as a subject's reply token, may break: it is not a word).
BROKEN_WORDS = """(cells) => {
  const broken = [];
  for (const cell of cells) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest('code')) continue;
      const re = /\\S+/g;
      let m;
      while ((m = re.exec(node.data)) !== null) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


@pytest.fixture
def narrow(chromium: Any, played_round: Served) -> Any:
    page = new_page(chromium, width=375)
    sign_in(page, played_round.url)
    yield page
    page.context.close()


def _settle(page: Any) -> None:
    page.wait_for_timeout(150)  # the scroll timeline updates on the next frame


def test_a_wide_table_at_375_px_scrolls_in_its_region_with_a_shadow_cue(
    narrow: Any, played_round: Served
) -> None:
    narrow.goto(f"{played_round.url}/messages?process={SEED_ID}")
    region = narrow.locator(".table-scroll").first
    _settle(narrow)
    state = region.evaluate(STATE)
    assert state["scrollWidth"] > state["clientWidth"] + 100, state  # it overflows
    assert state["scrollLeft"] == 0
    assert (state["start"], state["end"]) == (0, 1), state  # more to the right: shadow there
    # the page itself does not scroll sideways: only the region does
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 375
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    region.scroll_into_view_if_needed()
    narrow.screenshot(path=str(SCREENSHOTS / "messages-375-region-start.png"))

    region.evaluate("(r) => { r.scrollLeft = r.scrollWidth / 2; }")
    _settle(narrow)
    state = region.evaluate(STATE)
    assert (state["start"], state["end"]) == (1, 1), state  # more on both sides
    narrow.screenshot(path=str(SCREENSHOTS / "messages-375-region-middle.png"))

    region.evaluate("(r) => { r.scrollLeft = r.scrollWidth; }")
    _settle(narrow)
    state = region.evaluate(STATE)
    assert state["scrollLeft"] + state["clientWidth"] >= state["scrollWidth"] - 1
    assert (state["start"], state["end"]) == (1, 0), state  # at the end: shadow on the left
    narrow.screenshot(path=str(SCREENSHOTS / "messages-375-region-end.png"))

    # The keyboard reaches it too: the region takes focus and scrolls with the arrow keys.
    region.evaluate("(r) => { r.scrollLeft = 0; }")
    region.focus()
    narrow.keyboard.press("ArrowRight")
    _settle(narrow)
    assert region.evaluate(STATE)["scrollLeft"] > 0


def test_no_shadow_where_the_table_fits(chromium: Any, played_round: Served) -> None:
    page = new_page(chromium, width=1366)
    try:
        sign_in(page, played_round.url)
        page.goto(f"{played_round.url}/users")
        region = page.locator(".table-scroll").first
        _settle(page)
        state = region.evaluate(STATE)
        assert state["scrollWidth"] <= state["clientWidth"], state
        assert (state["start"], state["end"]) == (0, 0), state
    finally:
        page.context.close()


@pytest.mark.parametrize("width", [375, 1366])
def test_names_in_the_message_log_never_break_inside_a_word(
    chromium: Any, played_round: Served, width: int
) -> None:
    page = new_page(chromium, width=width)
    try:
        sign_in(page, played_round.url)
        page.goto(f"{played_round.url}/messages")
        cells = page.locator("table.log td.name")
        assert cells.count() >= 3 * 10  # process, step and participant of each row
        # by name, with the key on hover
        first = page.locator("table.log td.name a[title]").first
        assert first.get_attribute("title") == SEED_ID
        assert first.inner_text() == "Retningslinjer for sekretariatene"
        assert cells.evaluate_all(BROKEN_WORDS) == []
        subjects = page.locator("table.log tbody th")  # the subject (its token, a key, may break)
        assert subjects.evaluate_all(BROKEN_WORDS) == []
        page.screenshot(path=str(SCREENSHOTS / f"messages-names-{width}.png"), full_page=False)
    finally:
        page.context.close()
