"""The refusals of odd input as a person sees them in Chromium: the 413 of a body over the
limit (the participant's, in their language, and the dashboard's) and the 400 of an id no row
can have. Each is checked with axe-core at a desktop and a phone width, and photographed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.a11y import assert_accessible
from tests.browser.served import Served, new_page, sign_in

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@pytest.fixture
def page(played_round: Served, chromium: Any) -> Iterator[Any]:
    tab = new_page(chromium)
    yield tab
    tab.context.close()


@dataclass
class Answer:
    status: int
    text: str


def refusal(url: str, cookies: dict[str, str] | None = None) -> Answer:
    """The server's answer to a POST that announces 150 MB and sends none of it (a client
    library would refuse to; a browser would stop sending once the answer came)."""
    parts = urlsplit(url)
    head = [
        f"POST {parts.path} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Length: {150 * 1024 * 1024}",
        "Content-Type: multipart/form-data; boundary=x",
    ]
    if cookies:
        head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):  # the server closes: the body was never read
            data += chunk
    header, _, body = data.partition(b"\r\n\r\n")
    assert b"\r\nserver:" not in header.lower()  # uvicorn is run without its Server header
    assert b"\r\nx-frame-options: deny" in header.lower()
    return Answer(int(header.split()[1]), body.decode("utf-8"))


def show(page: Any, base: str, html: str, name: str) -> None:
    """The refusal as the browser would show it (from the site's own address, so its
    stylesheet applies), checked and photographed."""
    page.goto(base + "/healthz")
    page.set_content(html)
    page.wait_for_load_state("load")
    assert_accessible(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"limits-{name}.png"), full_page=True)


def test_a_participant_sees_the_413_of_the_form_in_their_language(
    page: Any, played_round: Served
) -> None:
    path = played_round.forms[("innspill-retningslinjer", "nord-jaeren-sekretariat")]
    response = refusal(played_round.url + path)
    assert response.status == 413
    assert "Innspillet er for stort" in response.text
    show(page, played_round.url, response.text, "answer-form-413")
    assert page.get_by_role("heading", level=1).inner_text() == "Innspillet er for stort"


def test_an_administrator_sees_the_413_and_the_400_of_an_odd_id(
    page: Any, played_round: Served
) -> None:
    sign_in(page, played_round.url)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    response = refusal(played_round.url + "/load", cookies)
    assert response.status == 413
    show(page, played_round.url, response.text, "load-413")
    assert page.get_by_role("heading", level=1).inner_text() == "For mye data"
    answer = page.goto(f"{played_round.url}/documents/{2**63}")
    assert answer is not None and answer.status == 400
    assert page.get_by_role("heading", level=1).inner_text() == "Ugyldig forespørsel"
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / "limits-odd-id-400.png"), full_page=True)
