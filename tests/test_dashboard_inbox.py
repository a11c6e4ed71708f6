"""The holding queue in the dashboard: held mail listed with why, shown safely (headers and
text as text, HTML inert in a sandbox, files as octet-stream), hostile mail rendered fast, and
assigned or dismissed by an administrator with the event log saying who."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.engine import tick
from innspill.inbound.intake import import_mail
from innspill.models import Event, InboundMessage, InboundStatus, TokenPurpose
from innspill.models.db import make_engine, session_scope
from innspill.process.loading import get_definition
from innspill.status import process_status
from innspill.tokens import issue
from tests.conftest import SEED_ID, TEST_DATABASE, load_seed, new_database, oslo
from tests.hostile_corpus import docx, hostile
from tests.test_dashboard import Page, csrf_of, sign_in

ADMIN, ADMIN_PASSWORD = "saksbehandler", "et langt passord for admin"
VIEWER, VIEWER_PASSWORD = "leser", "et langt passord for leseren"
NOW = oslo(2020, 4, 20, 10)
BERGEN = "sekretariat@bergen.byvekst.example"
STEP = "innspill-oppdrag"
DOCX = docx()  # made once: a ZIP's bytes carry the time it was made

HTML_BODY = (
    "<html><head><style>body{background:url(https://tracker.example/css)}</style>"
    "<script>alert('x')</script></head><body onload=\"alert('y')\">"
    "<p>Hei! Her er <b>svaret</b> vårt.</p>"
    '<img src="https://tracker.example/pixel.gif" onerror="alert(1)">'
    '<a href="javascript:alert(2)">klikk</a> <a href="https://vegvesen.example/info">info</a>'
    '<iframe src="https://evil.example/"></iframe><form action="https://evil.example/">'
    '<input name="p"></form><div style="position:fixed">&lt;script&gt;tekst&lt;/script&gt;</div>'
    "</body></html>"
)


def html_mail(subject: str = "Innspill fra Bergen") -> bytes:
    """A reply with no token (so it is held): text, hostile HTML and a DOCX attached."""
    attachment = base64.encodebytes(DOCX).decode().replace("\n", "\r\n")
    html = base64.encodebytes(HTML_BODY.encode()).decode().replace("\n", "\r\n")
    return (
        f"From: Bergen <{BERGEN}>\r\nTo: innspill@vegvesen.example\r\nSubject: {subject}\r\n"
        "Date: Mon, 20 Apr 2020 09:00:00 +0200\r\nMessage-ID: <bergen-1@bergen.example>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="m"\r\n\r\n'
        '--m\r\nContent-Type: multipart/alternative; boundary="a"\r\n\r\n'
        "--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Hei! Her er svaret vårt.\r\n<script>alert(3)</script>\r\n"
        "--a\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"
        f"\r\n{html}--a--\r\n"
        "--m\r\nContent-Type: application/vnd.openxmlformats-officedocument.wordprocessingml"
        ".document\r\nContent-Disposition: attachment;\r\n"
        " filename*=utf-8''svar%20fra%20Bergen%20%C3%A6%C3%B8%C3%A5.docx\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{attachment}--m--\r\n"
    ).encode()


def _import(session: Session, raw: bytes, uid: str) -> int:
    row = import_mail(session, raw, source="test", uid=uid, received_at=NOW, now=NOW).message
    assert row.id is not None
    return row.id


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict[str, int]]]:
    """The seed loaded and invited; a hostile corpus, an HTML mail and a tokened empty reply
    imported; an administrator and a viewer."""
    tmp = tmp_path_factory.mktemp("dashboard-inbox")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    load_seed(engine)
    tick(engine, now=oslo(2020, 3, 30, 9))
    ids: dict[str, int] = {}
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        token = issue(
            session,
            definition,
            step_id=STEP,
            participant_id="bergen-sekretariat",
            purpose=TokenPurpose.REPLY,
            secret="test",
            now=NOW,
        )
        to = f"innspill+{token}@vegvesen.example"
        for index, case in enumerate(hostile(to, BERGEN)):
            ids[case.name] = _import(session, case.raw, f"h{index}")
        ids["html"] = _import(session, html_mail(), "html")
        ids["html2"] = _import(session, html_mail("Enda en"), "html2")
        empty = (
            f"From: {BERGEN}\r\nTo: {to}\r\nSubject: SV: innspill\r\n"
            "Content-Type: text/plain\r\n\r\n\r\n"
        ).encode()
        ids["empty"] = _import(session, empty, "empty")
        create_user(session, ADMIN, ADMIN_PASSWORD, now=NOW)
        create_user(session, VIEWER, VIEWER_PASSWORD, now=NOW)
    engine.dispose()
    yield url, tmp, ids
    drop()


@pytest.fixture(scope="module")
def app(held: tuple[str, Path, dict[str, int]]) -> FastAPI:
    url, tmp, _ = held
    application = create_app(
        Settings(data_dir=tmp / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    )
    application.dependency_overrides[get_now] = lambda: NOW
    return application


@pytest.fixture(scope="module")
def ids(held: tuple[str, Path, dict[str, int]]) -> dict[str, int]:
    return held[2]


@pytest.fixture(scope="module")
def admin(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        sign_in(c, ADMIN, ADMIN_PASSWORD)
        yield c


@pytest.fixture(scope="module")
def viewer(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        sign_in(c, VIEWER, VIEWER_PASSWORD)
        yield c


def row(app: FastAPI, message_id: int) -> InboundMessage:
    with Session(app.state.engine) as session:
        found = session.get(InboundMessage, message_id)
        assert found is not None
        return found


def events(app: FastAPI, kind: str) -> list[Event]:
    with Session(app.state.engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind)).all())


def test_the_queue_lists_every_held_message_with_why(admin: TestClient, app, ids) -> None:  # type: ignore[no-untyped-def]
    response = admin.get("/inbox")
    assert response.status_code == 200
    p = Page(response.text)
    assert ("/inbox", "Holdt tilbake") in p.links  # in the main navigation
    table = p.tables[0]
    assert [c for c in table.columns] == ["Nr.", "Mottatt", "Avsender", "Emne", "Hvorfor"]
    with Session(app.state.engine) as session:
        held_ids = session.exec(
            select(InboundMessage.id).where(InboundMessage.status == InboundStatus.HELD)
        ).all()
    assert sorted(int(r[0].text) for r in table.rows) == sorted(held_ids)
    html = table.row(str(ids["html"]))
    assert html[2].text == BERGEN
    assert html[3].links == [(f"/inbox/{ids['html']}", "Innspill fra Bergen")]
    assert html[4].text.startswith("Uten nøkkel: no token")
    assert html[1].text == "20. april 2020 kl. 10.00"
    semicolons = table.row(str(ids["200,000 semicolons in Content-Type"]))
    assert "held: header too long: Content-Type has 200,041 bytes" in semicolons[4].text
    # accepted mail is not in the queue, but in the whole list
    accepted = ids["format=flowed; delsp=yes"]
    assert str(accepted) not in [r[0].text for r in table.rows]
    everything = Page(admin.get("/inbox?alle=true").text).tables[0]
    assert everything.row(str(accepted))[4].text == "Gjort til svar"


def test_a_message_is_shown_as_text_and_its_html_inert(admin: TestClient, ids) -> None:  # type: ignore[no-untyped-def]
    response = admin.get(f"/inbox/{ids['html']}")
    assert response.status_code == 200
    page = response.text
    p = Page(page)
    assert p.h1() == f"Melding nr. {ids['html']}: Innspill fra Bergen"
    assert p.scripts == 0
    assert "<script>alert(3)</script>" not in page
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page  # the text part, as text
    assert "From" in p.texts["dt"] and f"Bergen <{BERGEN}>" in p.texts["dd"]
    assert "<bergen-1@bergen.example>" in p.texts["dd"]
    assert f'<iframe class="mail-html" sandbox src="/inbox/{ids["html"]}/html"' in page

    frame = admin.get(f"/inbox/{ids['html']}/html")
    assert frame.status_code == 200
    assert frame.headers["content-security-policy"].startswith("sandbox; default-src 'none'")
    assert frame.headers["x-content-type-options"] == "nosniff"
    body = frame.text
    assert "<p>Hei! Her er <b>svaret</b> vårt.</p>" in body
    for hostile_bit in (
        "<script",
        "onload",
        "onerror",
        "<img",
        "<iframe",
        "<form",
        "<input",
        "style",
        "javascript:",
        "tracker.example",
        "href",
        "src=",
    ):
        assert hostile_bit not in body, hostile_bit
    assert "info [https://vegvesen.example/info]" in body  # a link's address as text
    assert "&lt;script&gt;tekst&lt;/script&gt;" in body

    files = p.table("Filer i meldingen")
    assert files.rows[0][0].text == "svar fra Bergen æøå.docx"
    assert files.rows[0][1].text.startswith("application/vnd.openxmlformats")
    download = admin.get(files.rows[0][0].links[0][0])
    assert download.status_code == 200
    assert download.content == DOCX
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert (
        "filename*=UTF-8''svar%20fra%20Bergen%20%C3%A6%C3%B8%C3%A5.docx"
        in (download.headers["content-disposition"])
    )
    raw = admin.get(f"/inbox/{ids['html']}/melding.eml")
    assert raw.content == html_mail()
    assert raw.headers["content-type"] == "application/octet-stream"
    assert admin.get(f"/inbox/{ids['html']}/files/7").status_code == 404
    assert admin.get("/inbox/999999").status_code == 404


def test_hostile_mail_renders_quickly_and_safely(admin: TestClient, ids) -> None:  # type: ignore[no-untyped-def]
    slowest = 0.0
    for name, message_id in ids.items():
        start = time.perf_counter()
        response = admin.get(f"/inbox/{message_id}")
        took = time.perf_counter() - start
        slowest = max(slowest, took)
        assert response.status_code == 200, name
        # linear in the size (about 0.2 s per MB): quick for all but the 15 MB one
        assert took < (10.0 if name == "a PDF over 10 MB alone" else 2.5), (name, took)
        assert Page(response.text).scripts == 0, name
        assert len(response.content) < 1_500_000, (name, len(response.content))
    print(f"slowest message page: {slowest:.2f} s")
    long_line = admin.get(f"/inbox/{ids['one line of 2 MB']}").text
    assert "Teksten er kortet ned til 100 000 av" in long_line
    deep = Page(admin.get(f"/inbox/{ids['nested 3,000 levels']}").text)
    assert "SV: innspill" in deep.texts["dd"]  # the headers, at least
    semicolons = admin.get(f"/inbox/{ids['200,000 semicolons in Content-Type']}").text
    assert "Meldingen er ikke lest: header too long" in semicolons
    parts = admin.get(f"/inbox/{ids['5,000 MIME parts']}").text
    assert "more than 200 MIME parts" in parts


def test_a_viewer_sees_no_forms_and_may_not_act(viewer: TestClient, app, ids) -> None:  # type: ignore[no-untyped-def]
    page = viewer.get(f"/inbox/{ids['html2']}")
    assert page.status_code == 200
    assert 'action="/inbox/' not in page.text
    token = csrf_of(viewer.get("/").text)
    for action, data in (
        ("assign", {"step": f"{SEED_ID}/{STEP}", "participant": "bergen-sekretariat"}),
        ("dismiss", {}),
    ):
        response = viewer.post(f"/inbox/{ids['html2']}/{action}", data=data | {"csrf_token": token})
        assert response.status_code == 403, action
        assert "Bare administratorer" in response.text
    assert row(app, ids["html2"]).status == InboundStatus.HELD


def test_an_action_needs_the_forms_csrf_token(admin: TestClient, app, ids) -> None:  # type: ignore[no-untyped-def]
    data = {"step": f"{SEED_ID}/{STEP}", "participant": "bergen-sekretariat"}
    for token in (None, "forfalsket"):
        form = data | ({"csrf_token": token} if token else {})
        assert admin.post(f"/inbox/{ids['html2']}/assign", data=form).status_code == 403
        assert admin.post(f"/inbox/{ids['html2']}/dismiss", data=form).status_code == 403
    assert row(app, ids["html2"]).status == InboundStatus.HELD


def test_bad_input_shows_the_form_again_with_what_to_correct(admin: TestClient, app, ids) -> None:  # type: ignore[no-untyped-def]
    url = f"/inbox/{ids['html2']}"
    token = csrf_of(admin.get(url).text)
    # a steering group is not asked for input in a request step for secretariats
    response = admin.post(
        f"{url}/assign",
        data={
            "csrf_token": token,
            "step": f"{SEED_ID}/{STEP}",
            "participant": "bergen-styringsgruppe",
        },
    )
    assert response.status_code == 400
    p = Page(response.text)
    assert p.alerts == [
        f"«bergen-styringsgruppe» er ikke bedt om innspill i steget «{STEP}». "
        "Velg en deltaker som er med i steget."
    ]
    chosen = [f for f in p.fields if f["tag"] == "select"]
    assert len(chosen) == 2
    assert '<option value="bergen-styringsgruppe" selected>' in response.text  # kept
    missing = admin.post(f"{url}/assign", data={"csrf_token": token, "step": ""})
    assert missing.status_code == 400
    assert Page(missing.text).alerts == ["Velg både steg og deltaker."]
    assert row(app, ids["html2"]).status == InboundStatus.HELD


def test_assigning_makes_it_the_answer_and_says_what_comes_next(admin: TestClient, app, ids):  # type: ignore[no-untyped-def]
    url = f"/inbox/{ids['html']}"
    page = admin.get(url)
    # the sender's address is Bergen's: the form suggests Bergen, and the open request steps
    assert '<option value="bergen-sekretariat" selected>' in page.text
    assert f'<option value="{SEED_ID}/{STEP}">' in page.text
    choice = {
        "csrf_token": csrf_of(page.text),
        "step": f"{SEED_ID}/{STEP}",
        "participant": "bergen-sekretariat",
    }
    first = admin.post(f"{url}/assign", data=choice, follow_redirects=False)
    if first.status_code == 200:  # Bergen has answered already: shown what it replaces first
        assert "Se over hva tildelingen gjør" in first.text
        assert row(app, ids["html"]).status == InboundStatus.HELD
    response = admin.post(
        f"{url}/assign",
        data=choice | {"previewed": f"{SEED_ID}/{STEP}|bergen-sekretariat"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/inbox"
    assigned = row(app, ids["html"])
    assert assigned.status == InboundStatus.ASSIGNED and assigned.answer_id is not None
    [event] = [
        e
        for e in events(app, "inbound_assigned")
        if e.detail.split(":")[0] == f"message {ids['html']}"
    ]
    assert (event.actor, event.participant_key, event.step_key) == (
        ADMIN,
        "bergen-sekretariat",
        STEP,
    )
    with Session(app.state.engine) as session:
        status = process_status(session, get_definition(session, SEED_ID), now=NOW)
    bergen = next(
        p for p in status.step(STEP).participants if p.participant == "bergen-sekretariat"
    )  # type: ignore[union-attr]
    assert bergen.answer_versions >= 1
    after = Page(admin.get("/inbox").text)
    notice = " ".join(after.texts["p"])
    assert (
        f"Melding nr. {ids['html']} er nå svaret fra Sekretariatet for byvekstavtalen i Bergen "
        "på «Innspill til oppdraget»." in notice
    )
    assert "Dette sendes som følge av det" in notice
    assert "Dette sendes som følge av det" not in admin.get("/inbox").text  # shown once
    assert str(ids["html"]) not in [r[0].text for r in after.tables[0].rows]
    again = admin.post(
        f"{url}/assign",
        data={
            "csrf_token": csrf_of(page.text),
            "step": f"{SEED_ID}/{STEP}",
            "participant": "bergen-sekretariat",
        },
    )
    assert again.status_code == 400
    assert Page(again.text).alerts == [
        "Meldingen er ikke lenger holdt tilbake (Tildelt av en person)."
    ]


def test_dismissing_keeps_it_and_logs_who(admin: TestClient, app, ids) -> None:  # type: ignore[no-untyped-def]
    message_id = ids["empty"]  # a reply with a token: tied to the process
    assert row(app, message_id).process_id == SEED_ID
    url = f"/inbox/{message_id}"
    token = csrf_of(admin.get(url).text)
    response = admin.post(f"{url}/dismiss", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    dismissed = row(app, message_id)
    assert dismissed.status == InboundStatus.DISMISSED
    assert dismissed.reason.endswith(f"(dismissed by {ADMIN})")
    assert dismissed.raw  # kept
    [event] = [e for e in events(app, "inbound_dismissed") if e.detail == f"message {message_id}"]
    assert (event.actor, event.process_id, event.participant_key) == (
        ADMIN,
        SEED_ID,
        "bergen-sekretariat",
    )
    notice = " ".join(Page(admin.get("/inbox").text).texts["p"])
    assert f"Melding nr. {message_id} er lagt til side" in notice
    # a message tied to no process is dismissed without an event (there is no log to put it in)
    other = ids["a multipart without a boundary"]
    assert row(app, other).process_id is None
    before = len(events(app, "inbound_dismissed"))
    response = admin.post(f"/inbox/{other}/dismiss", data={"csrf_token": token})
    assert response.status_code == 200  # followed to /inbox
    assert row(app, other).status == InboundStatus.DISMISSED
    assert len(events(app, "inbound_dismissed")) == before
    again = admin.post(f"{url}/dismiss", data={"csrf_token": token})
    assert again.status_code == 400
    assert Page(again.text).alerts == ["Meldingen er ikke holdt tilbake (Lagt til side)."]


def test_the_cli_lists_the_same_queue(app, ids) -> None:  # type: ignore[no-untyped-def]
    from innspill.inbound.queue import listing

    with Session(app.state.engine) as session:
        held_rows = listing(session)
        every = listing(session, include_all=True)
        count = len(session.exec(select(InboundMessage.id)).all())
    assert all(r.status == InboundStatus.HELD for r in held_rows)
    assert len(every) == count
    assert [r.id for r in every] == sorted(r.id for r in every)


def test_every_new_page_needs_a_session(app: FastAPI, ids) -> None:  # type: ignore[no-untyped-def]
    from innspill.dashboard.documents import pages as documents
    from innspill.dashboard.pages import inbox as inbox_pages
    from innspill.dashboard.pages import message_view

    values = {"message_id": ids["html2"], "index": 0, "document_id": 1, "file_id": 1}
    urls = [
        route.path.format(**values)
        for router in (inbox_pages.pages, message_view.router, documents.pages)
        for route in router.routes
        if isinstance(route, APIRoute) and "GET" in route.methods
    ]
    assert len(urls) == 11
    with TestClient(app) as anonymous:
        for url in urls:
            response = anonymous.get(url, follow_redirects=False)
            assert response.status_code == 303, url
            assert response.headers["location"].startswith("/login"), url
        for url in (f"/inbox/{ids['html2']}/dismiss", f"/processes/{SEED_ID}/steps/x/drafts"):
            assert anonymous.post(url, follow_redirects=False).status_code == 303, url


@pytest.mark.parametrize(
    "source",
    [
        "<scr<script>ipt>alert(1)</scr</script>ipt>",
        "<svg><script>alert(1)</script><a xlink:href='javascript:alert(1)'>x</a></svg>",
        "<!--<script>alert(1)</script>--><p>tekst</p>",
        "<![CDATA[<script>alert(1)</script>]]>",
        '<a href="https://ok.example/" onclick="alert(1)">lenke</a>',
        "<p style=\"background:url('https://tracker.example/')\">p</p>",
        '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
        '<base href="https://evil.example/"><link rel=stylesheet href="https://evil.example/">',
        "<table><tr><td>celle</td></tr></table></div></div></p>",
        "<img src=x onerror=alert(1)//",
        "<p>" * 10_000 + "dypt",
    ],
)
def test_inert_html_keeps_text_and_drops_every_active_part(source: str) -> None:
    from html.parser import HTMLParser

    from innspill.dashboard.pages.mail_view import inert_html

    document = inert_html(source)
    tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append((tag, attrs))

    Tags().feed(document)
    assert {tag for tag, _ in tags} <= {
        "html",
        "head",
        "meta",
        "title",
        "body",
        "p",
        "table",
        "tr",
        "td",
    }
    assert [attrs for tag, attrs in tags if tag not in ("html", "meta")] == [
        [] for tag, _ in tags if tag not in ("html", "meta")
    ]
    # what is left of the rest is text: escaped, never markup
    assert "<script" not in document and "<img" not in document and "<a " not in document
