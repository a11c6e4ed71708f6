"""Checks any browser test can run on a page: axe-core's WCAG 2.1 A and AA rules and no
horizontal overflow at a desktop and a phone width (`assert_accessible`), and a crawl that
follows every same-origin link from a start page and checks each page it reaches (`crawl`).

axe is injected as an inline script: the page's context needs `bypass_csp=True` (the app's
policy rightly forbids inline scripts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: A desktop screen and a phone (CSS pixels): no page may scroll sideways at either.
WIDTHS = (1280, 375)
HEIGHT = 900
#: Links the crawl does not follow: signing out, and files rather than pages.
SKIP_PATHS = ("/logout",)
SKIP_SUFFIXES = (".csv", ".pdf", ".docx", ".odt", ".txt", ".md", ".ics", ".eml", ".zip")


def violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.1 A and AA violations on the page, one readable line per element."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
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


def overflow(page: Any) -> str | None:
    """Why the page scrolls sideways at its current width (the widest elements), or None."""
    return page.evaluate(  # type: ignore[no-any-return]
        """() => {
            const doc = document.documentElement;
            if (doc.scrollWidth <= window.innerWidth) return null;
            const wide = [...document.querySelectorAll("body *")]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
                .filter(e => !e.closest(".table-scroll") || e.matches(".table-scroll"))
                .slice(0, 5)
                .map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : "")
                          + " right=" + Math.round(e.getBoundingClientRect().right));
            return `scrollWidth ${doc.scrollWidth} > innerWidth ${window.innerWidth}: `
                   + wide.join(", ");
        }"""
    )


def problems(page: Any, widths: tuple[int, ...] = WIDTHS, *, axe_each: bool = False) -> list[str]:
    """What is wrong with the page as loaded: overflow at each width, axe violations at the
    first (the DOM is the same at both and the styles differ only in layout; `axe_each` runs
    axe at every width). The viewport is left at the last width."""
    found: list[str] = []
    for n, width in enumerate(widths):
        page.set_viewport_size({"width": width, "height": HEIGHT})
        wide = overflow(page)
        if wide:
            found.append(f"at {width} px the page scrolls sideways: {wide}")
        if n == 0 or axe_each:
            found += [f"at {width} px: {line}" for line in violations(page)]
    return found


def assert_accessible(page: Any, widths: tuple[int, ...] = WIDTHS) -> None:
    """The page as loaded has no axe WCAG 2.1 A/AA violation (at either width) and no
    horizontal overflow at a desktop and a phone width (the viewport is set back afterwards)."""
    original = page.viewport_size
    try:
        found = problems(page, widths, axe_each=True)
    finally:
        if original:
            page.set_viewport_size(original)
    assert not found, f"{page.url}:\n" + "\n".join(f"  - {line}" for line in found)


def same_origin_links(page: Any, origin: str) -> list[str]:
    """The page's links to pages of this site (no fragment), in document order."""
    hrefs: list[str] = page.eval_on_selector_all(
        "a[href]", "links => links.filter(a => !a.hasAttribute('download')).map(a => a.href)"
    )
    out = []
    for href in hrefs:
        url = urldefrag(urljoin(page.url, href)).url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != origin:
            continue
        if parts.path in SKIP_PATHS or parts.path.lower().endswith(SKIP_SUFFIXES):
            continue
        out.append(url)
    return list(dict.fromkeys(out))


@dataclass
class Crawl:
    """What a crawl saw: each page's status and what was wrong with it."""

    visited: dict[str, int] = field(default_factory=dict)  # url -> HTTP status
    seconds: dict[str, float] = field(default_factory=dict)  # url -> time to load and check
    problems: dict[str, list[str]] = field(default_factory=dict)

    def report(self) -> str:
        return "\n".join(
            f"{url}:\n" + "\n".join(f"  - {line}" for line in lines)
            for url, lines in self.problems.items()
        )


def crawl(
    page: Any,
    starts: list[str],
    *,
    limit: int = 60,
    per_path: int = 3,
    per_parent: int | None = None,
    widths: tuple[int, ...] = WIDTHS,
) -> Crawl:
    """Visit the start pages and every same-origin page reachable from them by links (GET),
    breadth first, up to `limit` pages, checking each with `problems`.

    `per_path` bounds the pages with one path (a long message log's filters and pages add
    nothing new after a few); `per_parent`, if given, the pages under one parent path (one
    participant page of many stands for the rest when the crawl is repeated as another user).
    """
    result = Crawl()
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(starts[0]))
    queue = list(starts)
    counted: dict[str, int] = {}

    def full(key: str, bound: int | None) -> bool:
        return bound is not None and counted.get(key, 0) >= bound

    while queue and len(result.visited) < limit:
        url = queue.pop(0)
        path = urlsplit(url).path
        parent = "parent:" + path.rstrip("/").rsplit("/", 1)[0]
        if url in result.visited or full(path, per_path) or full(parent, per_parent):
            continue
        began = time.monotonic()
        response = page.goto(url)
        status = response.status if response else 0
        result.visited[url] = status
        for key in (path, parent):
            counted[key] = counted.get(key, 0) + 1
        if status >= 500:
            result.problems[url] = [f"HTTP {status}"]
            continue
        found = problems(page, widths)
        result.seconds[url] = time.monotonic() - began
        if found:
            result.problems[url] = found
        queue += [u for u in same_origin_links(page, origin) if u not in result.visited]
    return result
