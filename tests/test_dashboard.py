"""The dashboard's pages over HTTP, against a database filled by playing the whole 2020 round
through the engine; pages are read with html.parser (tables, headings, links), never by markup."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlmodel import Session, col

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.demo import run as demo
from innspill.models import Answer, OutboxMessage, Participant, Treatment
from innspill.models.db import make_engine, session_scope
from innspill.outbound.transport import CaptureTransport
from innspill.process.loading import get_definition
from innspill.status import process_status
from tests.conftest import SEED_ID, TEST_DATABASE, new_database, oslo

PROCESS = f"/processes/{SEED_ID}"
AFTER = oslo(2020, 6, 30, 12)  # the round is over
USER, PASSWORD = "saksbehandler", "riktig hest batteri stift"


# --- reading pages --------------------------------------------------------------------------


@dataclass
class Cell:
    text: str
    header: bool
    links: list[tuple[str, str]] = field(default_factory=list)
    id: str | None = None


@dataclass
class Table:
    caption: str = ""
    head: list[list[Cell]] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [c.text for c in self.head[-1]] if self.head else []

    def row(self, first: str) -> list[Cell]:
        """The body row whose first cell's text starts with `first`."""
        found = [r for r in self.rows if r and r[0].text.startswith(first)]
        assert len(found) == 1, f"{len(found)} rows start with {first!r} in {self.caption!r}"
        return found[0]

    def column(self, name: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.startswith(name))


def _clean(parts: list[str]) -> str:
    return " ".join("".join(parts).split())


class Page(HTMLParser):
    """What a person (or a screen reader) gets from a page: title, headings, links, tables,
    form fields, alerts, ids, and which script elements there are."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.title = ""
        self.headings: list[tuple[int, str]] = []
        self.links: list[tuple[str, str]] = []
        self.tables: list[Table] = []
        self.fields: list[dict[str, str | None]] = []
        self.labels: dict[str, str] = {}
        self.alerts: list[str] = []
        self.texts: dict[str, list[str]] = {"p": [], "dt": [], "dd": []}
        self.ids: set[str] = set()
        self.scripts = 0
        self.landmarks: list[str] = []
        self._open: list[tuple[str, dict[str, str | None], list[str]]] = []
        self._table: Table | None = None
        self._row: list[Cell] | None = None
        self._in_head = False
        self._cell_links: list[tuple[str, str]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "html":
            self.lang = a.get("lang")
        if tag in ("header", "nav", "main", "footer"):
            self.landmarks.append(tag)
        if tag == "script":
            self.scripts += 1
        if tag in ("input", "select", "textarea"):
            self.fields.append(a | {"tag": tag})
        if tag == "table":
            self._table = Table()
        elif tag == "thead":
            self._in_head = True
        elif tag == "tbody":
            self._in_head = False
        elif tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell_links = []
        if tag in ("title", "h1", "h2", "h3", "a", "caption", "td", "th", "label", *self.texts) or (
            a.get("role") == "alert"
        ):
            self._open.append((tag, a, []))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag or (tag == "div" and self._open[index][0] == "div"):
                name, attrs, parts = self._open.pop(index)
                self._closed(name, attrs, _clean(parts))
                break
        if tag == "div":
            return
        if tag == "tr" and self._table is not None and self._row is not None:
            (self._table.head if self._in_head else self._table.rows).append(self._row)
            self._row = None
        elif tag == "table" and self._table is not None:
            self.tables.append(self._table)
            self._table = None

    def _closed(self, tag: str, attrs: dict[str, str | None], text: str) -> None:
        if tag == "title":
            self.title = text
        elif tag in ("h1", "h2", "h3"):
            self.headings.append((int(tag[1]), text))
        elif tag == "a":
            link = (str(attrs.get("href")), text)
            self.links.append(link)
            self._cell_links.append(link)
        elif tag == "caption" and self._table is not None:
            self._table.caption = text
        elif tag in ("td", "th") and self._row is not None:
            self._row.append(Cell(text, tag == "th", list(self._cell_links), attrs.get("id")))
        elif tag == "label":
            self.labels[str(attrs.get("for"))] = text
        elif tag in self.texts:
            self.texts[tag].append(text)
        elif attrs.get("role") == "alert":
            self.alerts.append(text)

    def handle_data(self, data: str) -> None:
        for _, _, parts in self._open:
            parts.append(data)

    def table(self, caption_start: str) -> Table:
        found = [t for t in self.tables if t.caption.startswith(caption_start)]
        assert len(found) == 1, f"tables: {[t.caption for t in self.tables]}"
        return found[0]

    def h1(self) -> str:
        return next(text for level, text in self.headings if level == 1)


def csrf_of(html: str) -> str:
    return str(next(f["value"] for f in Page(html).fields if f.get("name") == "csrf_token"))


def sign_in(client: TestClient, username: str = USER, password: str = PASSWORD) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def parse_csv(body: bytes) -> list[dict[str, str]]:
    text = body.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


# --- the filled database and the app --------------------------------------------------------


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The whole 2020 round played once for this module, on the suite's backend."""
    tmp = tmp_path_factory.mktemp("dashboard")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    demo.run(engine, CaptureTransport(tmp / "mail"))
    with session_scope(engine) as session:
        create_user(session, USER, PASSWORD, now=datetime.now(UTC))
    engine.dispose()
    yield url, tmp
    drop()


@pytest.fixture(scope="module")
def app(filled: tuple[str, Path]) -> FastAPI:
    url, tmp = filled
    settings = Settings(
        data_dir=tmp / "data",
        database_url=url,
        prefect_ui_url="http://127.0.0.1:4200/",
        _env_file=None,  # type: ignore[call-arg]
    )
    application = create_app(settings)
    application.dependency_overrides[get_now] = lambda: AFTER
    return application


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        sign_in(c)
        yield c


@pytest.fixture
def at(app: FastAPI) -> Iterator[object]:
    """Set the dashboard's clock for one test: `at(instant)`."""

    def set_clock(instant: datetime) -> None:
        app.dependency_overrides[get_now] = lambda: instant

    yield set_clock
    app.dependency_overrides[get_now] = lambda: AFTER


@pytest.fixture
def db(app: FastAPI) -> Iterator[Session]:
    with Session(app.state.engine) as session:
        yield session


def page(client: TestClient, url: str) -> Page:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    return Page(response.text)


def outbox_count(db: Session, **where: str) -> int:
    query = select(func.count()).select_from(OutboxMessage)
    for name, value in where.items():
        query = query.where(getattr(OutboxMessage, name) == value)
    return int(db.execute(query).scalar_one())


# --- pages ----------------------------------------------------------------------------------


def test_every_page_is_norwegian_with_landmarks(client: TestClient) -> None:
    for url in ("/", PROCESS, f"{PROCESS}/participants/bergen-sekretariat", "/messages"):
        p = page(client, url)
        assert p.lang == "nb"
        assert {"header", "nav", "main"} <= set(p.landmarks)
        assert p.links[0] == ("#innhold", "Hopp til hovedinnholdet")
        assert "innhold" in p.ids
        assert len([h for h in p.headings if h[0] == 1]) == 1
        for table in p.tables:
            assert table.caption, url
            assert all(c.header for c in table.head[-1]), url
        for f in p.fields:
            if f.get("type") != "hidden":
                assert p.labels.get(str(f.get("id"))), (url, f)


def test_overview_after_the_round(client: TestClient, db: Session) -> None:
    p = page(client, "/")
    assert p.h1() == "Prosesser"
    table = p.table("Alle prosesser")
    assert len(table.rows) == 1
    row = table.row("Innspill til retningslinjer for sekretariatene")
    assert (f"{PROCESS}", row[0].links[0][1]) == (row[0].links[0][0], row[0].links[0][1])
    assert row[table.column("Referanse")].text == "20/64758"
    # Every deadline has passed, but the draft is still being treated: that is the step in
    # progress, as on the process page (not "all deadlines passed" with the answers' count).
    current = row[table.column("Nåværende steg")].text
    assert current.startswith("Utkast til retningslinjer for sekretariatene – til behandling")
    assert current.endswith("Oversendelse til behandling · Åpen")
    assert row[table.column("Neste frist")].text == "–"
    treated = db.execute(
        select(func.count()).select_from(Treatment).where(Treatment.state == "treated")
    ).scalar_one()
    assert row[table.column("Svar")].text == f"{treated} av 9 har behandlet"
    # the Prefect link, where it is configured
    assert ("http://127.0.0.1:4200/runs", "Kjøringer i Prefect") in p.links


def test_the_day_after_the_process_ends_it_is_avsluttet(client: TestClient, at) -> None:
    """The round ends 30 June: the next morning the draft still being treated is closed, and
    the process is shown as Avsluttet, not Åpen (innspill.status: ended, state "closed")."""
    at(oslo(2020, 7, 1, 8))
    sign_in(client)  # the clock moved past the session's end
    table = page(client, "/").table("Alle prosesser")
    current = table.rows[0][table.column("Nåværende steg")].text
    assert current == "Avsluttet Siste dag var 30. juni 2020"
    timeline = page(client, PROCESS).table("Stegene i prosessen")
    circulation = timeline.row("6. Utkast til retningslinjer")
    assert circulation[timeline.column("Tilstand")].text == "Avsluttet"
    states = {r[timeline.column("Tilstand")].text for r in timeline.rows}
    assert "Åpen" not in states and "Ikke startet" not in states
    at(AFTER)
    sign_in(client)


def test_overview_counts_down_to_the_next_deadline(client: TestClient, at, db: Session) -> None:
    now = oslo(2020, 4, 20, 10)
    at(now)
    row = page(client, "/").table("Alle prosesser").rows[0]
    table = page(client, "/").table("Alle prosesser")
    assert row[table.column("Nåværende steg")].text == "Innspill til oppdraget Innspill · Åpen"
    assert row[table.column("Neste frist")].text == "27. april 2020"
    assert row[table.column("Tid igjen")].text == "om 7 dager"
    answered = db.execute(
        select(func.count(func.distinct(Answer.participant_key))).where(
            Answer.step_key == "innspill-oppdrag", col(Answer.received_at) <= now
        )
    ).scalar_one()
    assert answered == 3
    assert row[table.column("Svar")].text == "3 av 9 har svart"
    at(oslo(2020, 4, 27, 8))
    row = page(client, "/").table("Alle prosesser").rows[0]
    assert row[table.column("Tid igjen")].text == "i dag"
    # The first deadline passed: the next one is written as 1 June, Whit Monday, and runs to
    # Tuesday 2 June.
    at(oslo(2020, 4, 28, 8))
    row = page(client, "/").table("Alle prosesser").rows[0]
    assert row[table.column("Neste frist")].text == "2. juni 2020"
    assert row[table.column("Tid igjen")].text == "om 35 dager"


def test_process_timeline_follows_innspill_status(client: TestClient, db: Session) -> None:
    p = page(client, PROCESS)
    assert p.h1() == "Innspill til retningslinjer for sekretariatene for byvekstavtalene"
    timeline = p.table("Stegene i prosessen")
    definition = get_definition(db, SEED_ID)
    status = process_status(db, definition, now=AFTER)
    states = {"not started": "Ikke startet", "open": "Åpen", "overdue": "Over fristen"}
    states["done"] = "Ferdig"
    assert len(timeline.rows) == len(status.steps) == 6
    for row, step in zip(timeline.rows, status.steps, strict=True):
        assert row[0].text.endswith(step.title)
        assert row[timeline.column("Tilstand")].text == states[step.state]
    first = timeline.rows[0]
    assert first[timeline.column("Dato og frist")].text.startswith("30. mars 2020 – 27. april 2020")
    assert "Utsatt frist for 1 deltaker" in first[timeline.column("Dato og frist")].text
    # Tromsø never answered: the step stays overdue, and the count says who keeps it so
    assert first[timeline.column("Fremdrift")].text == "8 av 9 har svart 1 over fristen"
    meeting = timeline.rows[4]
    assert meeting[timeline.column("Dato og frist")].text == "9. juni 2020 kl. 10.00–13.30"
    assert meeting[timeline.column("Merknad")].text == "7 deltok"
    circulation = timeline.rows[5]
    assert circulation[timeline.column("Fremdrift")].text == "5 av 9 har behandlet"


def test_matrix_shows_each_participant_in_each_step(client: TestClient, db: Session) -> None:
    p = page(client, PROCESS)
    secretariats = p.table("Sekretariater (9)")
    groups = p.table("Styringsgrupper (9)")
    drafters = p.table("Utredere (1)")
    definition = get_definition(db, SEED_ID)
    # one table per role, with the steps that role is in, and every participant in one
    assert len(secretariats.rows) + len(groups.rows) + len(drafters.rows) == len(
        definition.participants
    )
    assert secretariats.columns == [
        "Deltaker",
        "Innspill til oppdraget Innspill",
        "Innspill til retningslinjer for sekretariatene Innspill",
        "Halvdagsmøte om innspillene Møte",
    ]
    assert len(groups.columns) == 2 and groups.columns[1].startswith("Utkast til retningslinjer")
    assert drafters.columns == [
        "Deltaker",
        "Sammenstilling av innspill til oppdraget Sammenstilling",
        "Sammenstilling av innspill til retningslinjene Sammenstilling",
        "Halvdagsmøte om innspillene Møte",
    ]
    matrix = secretariats
    first = matrix.column("Innspill til oppdraget")
    second = matrix.column("Innspill til retningslinjer for sekretariatene")
    meeting = matrix.column("Halvdagsmøte")
    circulation = groups.column("Utkast til retningslinjer")

    tromso = matrix.row("Sekretariatet for byvekstavtalen i Tromsø")
    overdue = outbox_count(
        db, participant_key="tromso-sekretariat", step_key="innspill-oppdrag", kind="overdue"
    )
    assert overdue == 1  # on 28 April, the day part 1 closed
    assert tromso[first].text.startswith("Ikke svart, over fristen")
    assert "Purret 1 gang" in tromso[first].text
    assert "Påminnet 2 ganger" in tromso[first].text
    assert tromso[meeting].text == "Deltok ikke"

    grenland = matrix.row("Sekretariatet for byvekstavtalen i Grenland")
    assert grenland[first].text.startswith("Svar i tide 7. mai 2020 kl. 10.30")
    assert "Utsatt frist: 8. mai 2020" in grenland[first].text
    assert "Utsatt frist" not in grenland[second].text

    # 1 June was Whit Monday: Kristiansand's answer on 2 June is on time, unreminded;
    # Nedre Glomma's on 3 June is late, after the overdue reminder that morning.
    kristiansand = matrix.row("Sekretariatet for byvekstavtalen i Kristiansand")
    assert kristiansand[second].text.startswith("Svar i tide 2. juni 2020 kl. 14.45")
    assert "Purret" not in kristiansand[second].text
    nedre_glomma = matrix.row("Sekretariatet for byvekstavtalen i Nedre Glomma")
    assert nedre_glomma[second].text.startswith("Svar for sent 3. juni 2020 kl. 10.10")
    assert "Purret 1 gang" in nedre_glomma[second].text

    oslo_group = groups.row("Styringsgruppen for byvekstavtalen i Oslo og Akershus")
    assert oslo_group[circulation].text.startswith("Behandlet 17. juni 2020")
    nord_jaeren = groups.row("Styringsgruppen for byvekstavtalen i Nord-Jæren")
    assert nord_jaeren[circulation].text == "På sakskartet for møtet 27. august 2020"
    drafter = drafters.row("Vegdirektoratet, seksjon for byutvikling")
    # Each part's compilation, a new version for each late answer after it.
    part_1 = drafters.column("Sammenstilling av innspill til oppdraget")
    part_2 = drafters.column("Sammenstilling av innspill til retningslinjene")
    assert drafter[part_1].text == "Mottatt 3 versjoner"
    assert drafter[part_2].text == "Mottatt 2 versjoner"
    assert drafter[drafters.column("Halvdagsmøte")].text == "Invitert (oppdatert 1 gang)"

    # every cell of a step the participant is in links to the participant's details
    href, _ = tromso[first].links[0]
    assert href == f"{PROCESS}/participants/tromso-sekretariat#steg-innspill-oppdrag"
    assert tromso[0].links[0][0] == f"{PROCESS}/participants/tromso-sekretariat"
    details = page(client, href)
    assert "steg-innspill-oppdrag" in details.ids
    assert details.h1() == "Sekretariatet for byvekstavtalen i Tromsø"


def test_process_page_draws_the_answers_over_time(client: TestClient, db: Session) -> None:
    """One chart per request step: an SVG image (no script, no inline style) named by its
    title and described by the same numbers the page says in text."""
    import re
    import xml.etree.ElementTree as ET

    html = client.get(PROCESS).text
    assert "style=" not in html and "<script" not in html
    svgs = re.findall(r"<svg .*?</svg>", html, flags=re.S)
    assert len(svgs) == 2
    status = process_status(db, get_definition(db, SEED_ID), now=AFTER)
    ns = "{http://www.w3.org/2000/svg}"
    for svg, step_id in zip(svgs, ("innspill-oppdrag", "innspill-retningslinjer"), strict=True):
        tree = ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))
        assert tree.get("role") == "img"
        title, desc = (tree.get("aria-labelledby") or "").split()
        assert tree.find(f"{ns}title").get("id") == title  # type: ignore[union-attr]
        assert tree.find(f"{ns}desc").get("id") == desc  # type: ignore[union-attr]
        description = tree.find(f"{ns}desc").text or ""  # type: ignore[union-attr]
        step = status.step(step_id)
        assert step is not None
        assert description.startswith(f"{step.answered} av {step.expected} har svart")
        late = sum(1 for p in step.participants if p.late)
        assert len(tree.findall(f".//{ns}circle")) == step.answered
        assert len(tree.findall(f".//{ns}circle[@class='chart-dot chart-dot-late']")) == late
        # and the same words are on the page for everyone
        assert f'<p class="chart-summary">{description}</p>' in html.replace("&#39;", "'")
    first = status.step("innspill-oppdrag")
    assert first is not None and first.state == "overdue" and first.overdue == 1


def test_a_bounced_address_is_shown(client: TestClient, db: Session) -> None:
    where = (Participant.process_id == SEED_ID) & (Participant.key == "trondheim-sekretariat")
    db.execute(update(Participant).where(where).values(address_failing=True))
    db.commit()
    try:
        matrix = page(client, PROCESS).table("Sekretariater")
        row = matrix.row("Sekretariatet for byvekstavtalen i Trondheim")
        assert "Adressen feiler" in row[0].text
        assert "Adressen feiler" in row[matrix.column("Innspill til oppdraget")].text
        details = page(client, f"{PROCESS}/participants/trondheim-sekretariat")
        status = details.table("Hvor Sekretariatet")
        assert "Adressen feiler" in status.rows[0][-1].text
    finally:
        db.execute(update(Participant).where(where).values(address_failing=False))
        db.commit()


def test_participant_page_lists_messages_and_answers(client: TestClient, db: Session) -> None:
    p = page(client, f"{PROCESS}/participants/bergen-sekretariat")
    assert p.h1() == "Sekretariatet for byvekstavtalen i Bergen"
    sent = db.execute(
        select(OutboxMessage.subject, OutboxMessage.status, OutboxMessage.kind)
        .where(OutboxMessage.participant_key == "bergen-sekretariat")
        .order_by(OutboxMessage.id)
    ).all()
    messages = p.table("Meldinger sendt til")
    assert len(messages.rows) == len(sent) > 0
    subject, status = messages.column("Emne"), messages.column("Status")
    kinds = {"invitation": "Invitasjon", "reminder": "Påminnelse"}
    for row, (want_subject, want_status, kind) in zip(messages.rows, sent, strict=True):
        assert row[subject].text == want_subject
        assert (
            row[status].text
            == {
                "sent": "Sendt",
                "pending": "Venter",
                "combined": "Sendt sammen med en annen invitasjon",
            }[want_status]
        )
        if kind in kinds:
            assert row[messages.column("Type")].text == kinds[kind]
    # Subjects end with the reply token, [ref:...], after the reference; Bergen's are nynorsk.
    assert any(
        r[subject].text.startswith(
            "Invitasjon til innspel i to delar: Retningslinjer for sekretariata (vår ref. 20/64758)"
            " [ref:"
        )
        for r in messages.rows
    )
    answers = db.execute(
        select(Answer).where(Answer.participant_key == "bergen-sekretariat")
    ).scalars()
    answers = list(answers)
    received = p.table("Svar fra")
    assert len(received.rows) == len(answers) == 2
    shown = {h for _, h in p.headings}
    assert {"Innspill til oppdraget – versjon 1", f"Sendte meldinger ({len(sent)})"} <= shown
    latest = json.loads(answers[-1].text_json)
    n = len(latest)
    themes = dict(zip(p.texts["dt"][-n:], p.texts["dd"][-n:], strict=True))
    definition = get_definition(db, SEED_ID)
    titles = {"": "Generelle merknader", **{t.id: t.title for t in definition.themes}}
    assert themes == {titles[theme]: " ".join(text.split()) for theme, text in latest.items()}


def test_messages_page_filters_and_pages(client: TestClient, db: Session) -> None:
    total = outbox_count(db)
    p = page(client, "/messages")
    log = p.table("Meldingslogg, side 1 av")
    assert len(log.rows) == min(50, total)
    assert f"Viser 1–{min(50, total)} av {total} meldinger." in " ".join(p.texts["p"])
    newest = db.execute(select(func.max(OutboxMessage.id))).scalar_one()
    subject = db.execute(select(OutboxMessage.subject).where(OutboxMessage.id == newest)).scalar()
    assert log.rows[0][log.column("Emne")].text == subject
    next_links = [href for href, text in p.links if text == "Neste side"]
    assert next_links
    second = page(client, next_links[0]).table("Meldingslogg, side 2 av")
    assert len(second.rows) == min(50, total - 50)

    overdue = outbox_count(db, kind="overdue")
    filtered = page(client, "/messages?kind=overdue").table("Meldingslogg")
    assert len(filtered.rows) == overdue
    assert {r[filtered.column("Type")].text for r in filtered.rows} == {"Purring"}
    tromso = outbox_count(db, participant_key="tromso-sekretariat", kind="overdue")
    rows = page(
        client, f"/messages?process={SEED_ID}&kind=overdue&participant=tromso-sekretariat"
    ).table("Meldingslogg")
    assert len(rows.rows) == tromso == 2  # 28 April and 3 June, the days the parts closed
    sent = page(client, "/messages?status=failed")
    assert sent.tables == []  # none failed in the round
    assert client.get("/messages?kind=nonsense").status_code == 400
    assert client.get("/messages?page=0").status_code == 400
    # the filter form keeps what was chosen: the participant is a select of names (dashfeat)
    chosen = client.get("/messages?kind=overdue&participant=tromso-sekretariat").text
    field = next(f for f in Page(chosen).fields if f.get("name") == "participant")
    assert field["tag"] == "select"
    assert re.findall(
        r'<option value="tromso-sekretariat"( selected)?>([^<]*)</option>', chosen
    ) == [(" selected", "Sekretariatet for byvekstavtalen i Tromsø")]


def test_matrix_csv_matches_the_page(client: TestClient, db: Session) -> None:
    response = client.get(f"{PROCESS}/matrix.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = parse_csv(response.content)
    participants = db.execute(
        select(func.count()).select_from(Participant).where(Participant.process_id == SEED_ID)
    ).scalar_one()
    assert len(rows) == participants == 19
    tromso = next(r for r in rows if r["deltaker"] == "tromso-sekretariat")
    first = next(k for k in tromso if k.endswith("(innspill-oppdrag)"))
    assert tromso[first].startswith("Ikke svart, over fristen")
    assert "Purret 1 gang" in tromso[first]
    grenland = next(r for r in rows if r["deltaker"] == "grenland-sekretariat")
    assert "Utsatt frist: 8. mai 2020" in grenland[first]
    steering = next(r for r in rows if r["deltaker"] == "bergen-styringsgruppe")
    assert steering[first] == ""
    assert steering["rolle"] == "Styringsgruppe"


def test_message_log_csv_has_every_outbox_row(client: TestClient, db: Session) -> None:
    rows = parse_csv(client.get("/messages.csv").content)
    ids = set(db.execute(select(OutboxMessage.id)).scalars())
    assert len(rows) == len(ids) == outbox_count(db)
    assert {int(r["id"]) for r in rows} == ids
    sent = {r["status"] for r in rows}
    # The second request step's invitations went out inside the first step's.
    assert sent == {"Sendt", "Sendt sammen med en annen invitasjon"}
    first = min(rows, key=lambda r: int(r["id"]))
    row = db.execute(select(OutboxMessage).where(OutboxMessage.id == int(first["id"]))).scalar_one()
    assert first["emne"] == row.subject
    assert first["mottaker"] == row.recipient
    assert first["sendt"] == "2020-03-30 09:00"  # local time
    filtered = parse_csv(client.get("/messages.csv?kind=reminder").content)
    assert len(filtered) == outbox_count(db, kind="reminder")
    # the page's download link carries the filter
    p = page(client, "/messages?kind=reminder")
    href = next(h for h, text in p.links if text.startswith("Last ned"))
    assert parse_qs(urlsplit(href).query) == {"kind": ["reminder"]}


def test_times_are_shown_in_oslo_time(client: TestClient, db: Session) -> None:
    instant = datetime(2020, 3, 30, 7, 0, tzinfo=UTC)
    sent = db.execute(
        select(OutboxMessage.participant_key, OutboxMessage.subject).where(
            OutboxMessage.sent_at == instant
        )
    ).first()
    assert sent is not None, "the round's invitations went out at 07:00 UTC on 30 March"
    p = page(client, f"{PROCESS}/participants/{sent.participant_key}")
    log = p.table("Meldinger sendt til")
    row = next(r for r in log.rows if r[log.column("Emne")].text == sent.subject)
    assert row[log.column("Tidspunkt")].text == "30. mars 2020 kl. 09.00"


def test_dates_in_winter_and_summer_time() -> None:
    from innspill.dashboard.labels import countdown, fmt_date, fmt_datetime

    assert fmt_datetime(datetime(2020, 1, 15, 8, 5, tzinfo=UTC)) == "15. januar 2020 kl. 09.05"
    assert fmt_datetime(datetime(2020, 3, 30, 7, 0, tzinfo=UTC)) == "30. mars 2020 kl. 09.00"
    assert fmt_datetime(datetime(2020, 10, 25, 23, 30, tzinfo=UTC)) == "26. oktober 2020 kl. 00.30"
    assert fmt_date("2020-06-01") == "1. juni 2020"
    assert [countdown(n) for n in (0, 1, 5, -1, -3)] == [
        "i dag",
        "i morgen",
        "om 5 dager",
        "i går",
        "for 3 dager siden",
    ]


def test_unknown_process_and_participant_are_404(client: TestClient) -> None:
    for url in ("/processes/nope", f"{PROCESS}/participants/nope", "/processes/nope/matrix.csv"):
        response = client.get(url)
        assert response.status_code == 404
    assert Page(client.get("/processes/nope").text).h1() == "Fant ikke siden"


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_every_status_phrase_has_a_bokmal_wording() -> None:
    from datetime import date, datetime, time

    from innspill.dashboard.labels import BOKMAL, translate
    from innspill.status import ENGLISH, Phrase

    assert set(BOKMAL) == set(ENGLISH)
    reminded = Phrase("pending_reminded", n=2)
    assert reminded == "pending, reminded 2 time(s)"  # the CLI and JSON see the English
    assert translate(reminded).text == "Venter på behandling, påminnet 2 ganger"
    treated = Phrase("treated", date=date(2020, 6, 17), decision="Ja.")
    assert translate(treated).text == "Behandlet 17. juni 2020: Ja."
    assert translate(Phrase("treated", date=None, decision="Ja.")).text == "Behandlet: Ja."
    compiled = Phrase(
        "compiled", version=3, made=datetime(2020, 6, 4, 14), summary="8 of 9 answered"
    )
    assert translate(compiled).text == "Versjon 3 av 04.06.2020 kl. 14.00: 8 av 9 har svart"
    meeting = Phrase("meeting_time", start=time(10), end=time(13, 30), place="Videomøte")
    assert translate(meeting).text == "kl. 10.00–13.30, Videomøte"
    assert translate("something new").lang == "en"  # a plain text keeps its language


def test_no_query_per_process_on_the_overview(app: FastAPI) -> None:
    """The overview asks the database a fixed number of times, not once per process."""
    from sqlalchemy import event

    from innspill.dashboard.pages import queries

    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    engine = app.state.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        with Session(engine) as session:
            queries.overview(session, now=AFTER)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # the definitions, then one query per table the status is computed from (innspill.status);
    # calendar replies: one, and one more for the invitations' SEQUENCE when there are any
    assert len(statements) <= 11, statements
    assert not any("WHERE process.id" in s or "process_id = " in s for s in statements)
