"""A case officer acts in the browser (Chromium through Playwright): extends a deadline for
everyone, registers a letter with a file, is refused an extension that is not later and corrects
it, records a steering group's treatment and a meeting's attendance. Every page visited,
the refusal included, is checked with axe-core (WCAG 2.1 A/AA) and for horizontal overflow at
1280 and 375 px; screenshots go to test-output/screenshots/."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from innspill.config.settings import Settings
from innspill.documents.store import register_draft
from innspill.engine import tick
from innspill.models.db import make_engine, session_scope
from innspill.outbound.outbox import dispatch
from innspill.outbound.transport import CaptureTransport
from innspill.process.loading import get_definition
from tests.browser.served import run_async
from tests.browser.test_dashboard_browser import (  # noqa: F401 - a fixture used by name
    AXE,
    CHROMIUM,
    SCREENSHOTS,
    browser,
    free_port,
    need,
    violations,
)
from tests.conftest import SEED_ID, TEST_DATABASE, load_seed, new_database, oslo

pytestmark = pytest.mark.browser

USER, PASSWORD = "kari.nordmann", "et langt passord for testen"
NOW = oslo(2020, 4, 20, 10)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PROCESS = f"/processes/{SEED_ID}"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard on loopback over the seed, the morning the invitations and an early
    draft went out (20 April 2020)."""
    need(CHROMIUM.exists(), f"Chromium is not installed at {CHROMIUM}")
    need(AXE.exists(), f"axe-core is missing ({AXE}): npm ci --prefix tests/browser")
    import uvicorn

    from innspill.dashboard.app import create_app
    from innspill.dashboard.auth import create_user
    from innspill.dashboard.deps import get_now
    from innspill.dashboard.serving.server import config as server_config

    tmp = tmp_path_factory.mktemp("browser-actions")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    load_seed(engine)
    draft = tmp / "utkast.pdf"
    draft.write_bytes(PDF)
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        register_draft(session, definition, "oversendelse", draft, now=oslo(2020, 4, 17, 12))
        create_user(session, USER, PASSWORD, now=datetime.now(UTC))
    tick(engine, now=oslo(2020, 4, 20, 9))
    run_async(dispatch(engine, CaptureTransport(tmp / "mail"), now=oslo(2020, 4, 20, 9)))
    engine.dispose()
    app = create_app(Settings(data_dir=tmp / "data", database_url=url, _env_file=None))  # type: ignore[call-arg]
    app.dependency_overrides[get_now] = lambda: NOW
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


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811 - the imported fixture, by name
    # bypass_csp: axe is injected as an inline script, which the app's policy rightly forbids
    context = browser.new_context(bypass_csp=True, locale="nb-NO", timezone_id="Europe/Oslo")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def overflow(page: Any) -> list[str]:
    """What the forms of this module, their notice or their error stick out of the window with
    (the pages' own tables are the progress pages' concern: see tests/browser's crawl)."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll(
                    ".act-step, .act-step *, .notice, .notice *, .alert, .alert *")]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
                .slice(0, 5)
                .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
                          + " right=" + Math.round(e.getBoundingClientRect().right))"""
        )
    )


def check(page: Any, name: str, problems: dict[str, list[str]], *, axe: bool = True) -> None:
    """axe at 1280 px (unless the page was checked in the same state before), and nothing of
    the forms wider than the window at 1280 and 375 px; a screenshot of the window at each."""
    where = f"{name} ({page.url})"
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"actions-{name}-{width}.png"))
        for element in overflow(page):
            problems.setdefault(where, []).append(f"at {width} px wider than the window: {element}")
    page.set_viewport_size({"width": 1280, "height": 900})
    if axe and (found := violations(page)):
        problems.setdefault(where, []).extend(found)


def submit(page: Any, section: Any, button: str) -> None:
    """Press the form's button and wait for the page that answers (the same address, often)."""
    with page.expect_navigation():
        section.get_by_role("button", name=button).click()


def notice(page: Any) -> str:
    return str(page.get_by_role("status").inner_text())


def test_a_case_officer_acts_on_the_round(page: Any, base_url: str, tmp_path: Path) -> None:
    problems: dict[str, list[str]] = {}
    page.goto(base_url + "/login")
    page.get_by_label("Brukernavn").fill(USER)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_url(base_url + "/")

    # 1. the second deadline moved for everyone, to a holiday: saved, with a warning
    page.goto(base_url + PROCESS)
    section = page.locator(
        "section.act-step", has_text="Innspill til retningslinjer for sekretariatene"
    )
    section.get_by_text("Endre fristen").click()
    check(page, "01-process-form-open", problems)
    section.get_by_label("Gjelder").select_option(label="Alle deltakere i steget")
    section.get_by_label("Ny frist").fill("2020-05-21")
    section.get_by_label("Begrunnelse").fill("Flere sekretariater ba om mer tid.")
    submit(page, section, "Lagre ny frist")
    said = notice(page)
    assert "for alle deltakerne: 21. mai 2020." in said
    assert "er en helligdag (Kristi himmelfartsdag), ikke en arbeidsdag" in said
    assert "Endret frist til Sekretariatet for byvekstavtalen i Bergen" in said
    assert "Fristen forlenges derfor til fredag 22. mai 2020" in said
    timeline = page.get_by_role("table", name="Stegene i prosessen, i rekkefølge")
    assert (
        "22. mai 2020 (endret fra 1. juni 2020; satt til 21. mai 2020, som er Kristi "
        "himmelfartsdag: forlenget)" in " ".join(timeline.inner_text().split())
    )
    check(page, "02-process-deadline-saved", problems, axe=False)  # as 01 + notice (06)

    # 2. a letter from Tromsø, with the letter itself as a PDF
    letter = tmp_path / "brev fra Tromsø.pdf"
    letter.write_bytes(PDF)
    page.goto(f"{base_url}{PROCESS}/participants/tromso-sekretariat")
    section = page.locator("section.act-step", has_text="Innspill til oppdraget")
    section.get_by_text("Registrer et svar som kom utenom systemet").click()
    section.get_by_label("Dato svaret kom").fill("2020-04-17")
    section.get_by_label("Merknader til forslaget til oppdrag").fill("Ingen merknader.")
    section.get_by_label("Behandling i styringsgruppen").fill("I møtet 5. mai.")
    section.get_by_label("Filer (valgfritt)").set_input_files(str(letter))
    check(page, "03-participant-answer-form", problems)
    submit(page, section, "Registrer svaret")
    assert "er registrert som versjon 1 (mottatt 17. april 2020, 1 vedlegg)" in notice(page)
    answers = page.get_by_role("table", name="Svar fra Sekretariatet for byvekstavtalen i Tromsø")
    assert "Registrert manuelt (kari.nordmann)" in answers.inner_text()
    check(page, "04-participant-answer-saved", problems, axe=False)

    # 3. an extension that is not later than the deadline: refused, what was typed kept
    section = page.locator("section.act-step", has_text="Innspill til oppdraget")
    section.get_by_text("Utsett fristen for").click()
    section.get_by_label("Ny frist").fill("2020-04-24")
    section.get_by_label("Begrunnelse").fill("Sykdom i sekretariatet.")
    submit(page, section, "Lagre ny frist")
    alert = page.get_by_role("alert")
    assert "En utsatt frist må være senere enn deltakerens frist nå (27. april 2020)" in (
        alert.inner_text()
    )
    section = page.locator("section.act-step", has_text="Innspill til oppdraget")
    assert section.get_by_label("Begrunnelse").input_value() == "Sykdom i sekretariatet."
    check(page, "05-participant-deadline-refused", problems)
    section.get_by_label("Ny frist").fill("2020-05-04")
    submit(page, section, "Lagre ny frist")
    assert "for Sekretariatet for byvekstavtalen i Tromsø: 4. mai 2020." in notice(page)

    # 4. Grenland's steering group put the draft (sent this morning) on its agenda; a decision
    # dated on that meeting day is refused: it has not happened yet
    page.goto(f"{base_url}{PROCESS}/participants/grenland-styringsgruppe")
    section = page.locator("section.act-step", has_text="Utkast til retningslinjer")
    section.get_by_text("Registrer behandlingen i").click()
    section.get_by_role("radio", name="Satt på sakskartet").check()
    section.get_by_label("Dato for møtet").fill("2020-06-18")
    submit(page, section, "Lagre behandlingen")
    assert "På sakskartet for møtet 18. juni 2020." in notice(page)
    check(page, "06-treatment-saved", problems)
    section = page.locator("section.act-step", has_text="Utkast til retningslinjer")
    section.get_by_text("Registrer behandlingen i").click()
    section.get_by_role("radio", name="Behandlet").check()
    section.get_by_label("Dato for behandlingen").fill("2020-06-18")
    section.get_by_label("Vedtak").fill("Styringsgruppen slutter seg til utkastet.")
    submit(page, section, "Lagre behandlingen")
    assert "Datoen for behandlingen (18. juni 2020) er fram i tid." in (
        page.get_by_role("alert").inner_text()
    )
    check(page, "06b-treatment-refused", problems, axe=False)

    # 5. Bergen's attendance at the meeting of 9 June: refused in April (from the process page)
    page.goto(base_url + PROCESS)
    section = page.locator("section.act-step", has_text="Halvdagsmøte om innspillene")
    section.get_by_text("Registrer oppmøte").click()
    bergen = "Sekretariatet for byvekstavtalen i Bergen"
    section.get_by_label("Deltaker").select_option(label=bergen)
    section.get_by_role("radio", name="Møtte ikke").check()
    submit(page, section, "Lagre oppmøtet")
    assert (
        "Møtet begynner 9. juni 2020 kl. 09.00. Oppmøte kan registreres når møtet har begynt."
        in page.get_by_role("alert").inner_text()
    )
    check(page, "07-attendance-refused", problems, axe=False)

    assert not problems, "WCAG 2.1 A/AA violations or overflow:\n" + "\n".join(
        f"  {where}:\n" + "\n".join(f"    - {line}" for line in lines)
        for where, lines in problems.items()
    )
