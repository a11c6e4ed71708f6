"""Every dashboard page in bokmål and in nynorsk, as an administrator and as a viewer, over the
whole 2020 round played through the engine: no English words outside data, and nynorsk where
the two languages differ; the answer form in nynorsk for a participant who writes nynorsk.

The crawl starts at / and follows every same-origin link (GET; not sign-out, not downloads; a
few pages under one parent path stand for the rest). Visible text is read with html.parser,
leaving out what is data by its markup: <code>, <pre>, form values, and the letters and
answers themselves (`.mail-body`, `.answer-text`, `.break` cells: subjects, reasons quoted from
mail servers) are checked only for the words the interface itself adds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import ClassVar
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.demo import run as demo
from innspill.models import (
    Answer,
    DeadlineChange,
    Document,
    InboundMessage,
    JournalEntry,
    OutboxMessage,
    Participant,
    Process,
    Role,
    Step,
    TokenPurpose,
    Treatment,
)
from innspill.models.db import make_engine, session_scope
from innspill.outbound.transport import CaptureTransport
from innspill.process.loading import get_definition
from innspill.tokens import issue
from tests.conftest import SEED_ID, TEST_DATABASE, new_database, oslo

# What the pages say, in which language: the same on every backend, so the PostgreSQL pass
# of scripts/check leaves it out (the pages' queries run on it in the dashboard's tests).
pytestmark = pytest.mark.single_pass

AFTER = oslo(2020, 6, 30, 12)
ADMIN, ADMIN_PASSWORD = "saksbehandler", "riktig hest batteri stift"
VIEWER, VIEWER_PASSWORD = "lise.leser", "et langt passord for leseren"
LIMIT = 90
PER_PARENT = 3

#: English words that have reached the Norwegian interface (issue 17) or could: code words,
#: status phrases and notes of the engine. None of them is a Norwegian word.
ENGLISH = {
    "of", "answered", "treated", "failed", "participant", "added", "place", "already", "auto",
    "reply", "meeting", "reminder", "step", "deadline", "pending", "received", "invited",
    "yet", "the", "message", "removed", "changed", "decided", "attended", "absent", "overdue",
    "invitation", "compilation", "circulation", "receipt", "none", "true", "false", "version",
    "answer", "draft", "treatment", "queued", "skipped", "deferred", "bounce", "held", "with",
    "which", "was", "has", "not", "and", "by", "sending",
}  # fmt: skip
#: Bokmål words whose nynorsk differs: none of them may be on a nynorsk page's interface.
BOKMAL_ONLY = {
    "ikke", "ble", "ennå", "hvis", "hva", "hvem", "hvor", "fremdrift", "meldinger", "deltakere",
    "deltaker", "mottatt", "behandlet", "feilet", "sendes", "hendelser",
    "påminnelse", "sammenstilling", "svart", "brukere", "offentlig", "lastet", "fra", "noe",
    "venter", "dager", "nå", "mandag", "tirsdag", "lørdag", "søndag",
}  # fmt: skip
#: Where the page shows data: left out of the checks (letters, answers, subjects, raw notes).
DATA_CLASSES = {"mail-headers"}
DATA_TAGS = {"code", "pre", "textarea", "script", "style", "option"}
#: The round's ids (step and participant keys): data where a page shows them.
IDS: set[str] = set()
#: Words that are data wherever they stand: the seed's names, places and the product.
DATA_WORDS = {"innspill", "prefect"}


class Visible(HTMLParser):
    """The visible interface text of a page, its links and its language."""

    VOID: ClassVar = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "area", "col"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []  # whether each open element is data
        self.texts: list[str] = []
        self.words: list[str] = []  # after `without(data)`
        self.links: list[tuple[str, bool]] = []  # href, download
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang") or ""
        if tag == "a" and a.get("href"):
            self.links.append((str(a["href"]), "download" in a))
        if tag in self.VOID:
            return
        classes = set((a.get("class") or "").split())
        data = (
            tag in DATA_TAGS
            or bool(classes & DATA_CLASSES)
            or a.get("lang") in {"nb", "nn"} - {self.lang}  # the switch says each in its own
            or (bool(self.stack) and self.stack[-1])
        )
        self.stack.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]):
            self.texts.append(data)

    def without(self, data: list[str]) -> Visible:
        """Its words once every data phrase (longest first) is taken out of its text."""
        text = "\x00".join(self.texts)
        for phrase in data:
            if phrase in text:
                text = text.replace(phrase, " ")
        # ids (process, step and participant keys, file names) are data too
        text = re.sub(r"\b(?:" + "|".join(map(re.escape, IDS)) + r")\b", " ", text) if IDS else text
        text = re.sub(r"[\w.]+(?:[-/][\w.]+)+|\S+@\S+|\S+\.(?:docx|pdf|odt|eml|toml)", " ", text)
        self.words = re.findall(r"[a-zæøåA-ZÆØÅ]+", text)
        return self


def read(html: str, data: list[str] | None = None) -> Visible:
    page = Visible()
    page.feed(html)
    return page.without(data or [])


def data_phrases(engine: Engine) -> list[str]:
    """What the round's data says (names, titles, subjects, answers, decisions, the process
    file's texts), longest first: taken out of a page's text before its words are checked.
    Code words (ids, kinds) are not data: a code word on a page is a leak."""
    found: set[str] = set()

    def add(value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                add(item)
        elif isinstance(value, list):
            for item in value:
                add(item)
        elif (
            isinstance(value, str)
            and len(value) > 2
            and not re.fullmatch(r"[a-z0-9_\-./:@]+", value)
        ):
            found.add(value.strip())

    with Session(engine) as session:
        for process in session.exec(select(Process)):
            add([process.title, process.reference, json.loads(process.definition_json)])
        for person in session.exec(select(Participant)):
            add([person.name, person.email])
        for step in session.exec(select(Step)):
            add(step.title)
            IDS.add(step.key)
        IDS.update(person.key for person in session.exec(select(Participant)))
        add([m.subject for m in session.exec(select(OutboxMessage))])
        add([m.subject for m in session.exec(select(InboundMessage))])
        add([json.loads(a.text_json) for a in session.exec(select(Answer))])
        for entry in session.exec(select(JournalEntry)):
            add([entry.title, entry.public_title, entry.correspondent_name])
            add(entry.correspondent_address)
        for document in session.exec(select(Document)):
            add([document.filename, document.note if document.kind == "draft" else ""])
        add([c.reason for c in session.exec(select(DeadlineChange))])
        add([t.decision for t in session.exec(select(Treatment))])
    return sorted(found, key=len, reverse=True)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    tmp = tmp_path_factory.mktemp("languages")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    demo.run(engine, CaptureTransport(tmp / "mail"))
    with session_scope(engine) as session:
        create_user(session, ADMIN, ADMIN_PASSWORD, now=datetime.now(UTC))
        create_user(session, VIEWER, VIEWER_PASSWORD, now=datetime.now(UTC), role=Role.VIEWER)
    engine.dispose()
    settings = Settings(
        data_dir=tmp / "data",
        database_url=url,
        secret_key=demo.DEMO_SECRET,  # the key the round's form links were made with
        _env_file=None,  # type: ignore[call-arg]
    )
    application = create_app(settings)
    application.dependency_overrides[get_now] = lambda: AFTER
    yield application
    application.state.engine.dispose()
    drop()


def sign_in(client: TestClient, username: str, password: str) -> None:
    login = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert token
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token[1], "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def choose(client: TestClient, language: str) -> None:
    """The header's switch, as a person uses it: a POST with the page's CSRF token."""
    page = client.get("/").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    response = client.post(
        "/language",
        data={"language": language, "return_to": "/messages", "csrf_token": token[1]},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/messages"
    assert client.cookies.get("innspill_lang") == language


def crawl(client: TestClient, data: list[str]) -> dict[str, Visible]:
    """Every page reached from / by same-origin links: its path and its text."""
    seen: dict[str, Visible] = {}
    per_parent: dict[str, int] = {}
    queue = ["/"]
    while queue and len(seen) < LIMIT:
        url = queue.pop(0)
        if url in seen:
            continue
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if not response.headers["content-type"].startswith("text/html"):
            continue
        page = seen[url] = read(response.text, data)
        for href, download in page.links:
            target = urljoin("http://testserver" + url, href)
            parts = urlsplit(target)
            if parts.netloc != "testserver" or download or parts.path == "/logout":
                continue
            if re.search(r"\.(csv|eml|pdf|docx|odt|html|zip)$|/files/|/html$", parts.path):
                continue
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            parent = parts.path.rsplit("/", 1)[0]
            if path in seen or path in queue:
                continue
            if re.search(r"/\d+$|/participants/", parts.path) or parts.query:
                per_parent[parent] = per_parent.get(parent, 0) + 1
                if per_parent[parent] > PER_PARENT:
                    continue
            queue.append(path)
    assert len(seen) < LIMIT, "the crawl hit its limit: raise it, or find the loop"
    return seen


def in_context(page: Visible, words: set[str]) -> list[str]:
    """Each of `words` with the words around it on the page (for the failure message)."""
    lower = [w.lower() for w in page.words]
    return [" ".join(page.words[max(0, i - 4) : i + 5]) for i, w in enumerate(lower) if w in words][
        :5
    ]


def english_on(pages: dict[str, Visible]) -> dict[str, list[str]]:
    found = {}
    for url, page in pages.items():
        words = {w.lower() for w in page.words} - DATA_WORDS
        if english := words & ENGLISH:
            found[url] = in_context(page, english)
    return found


@pytest.fixture(scope="module")
def crawled(app: FastAPI) -> dict[tuple[str, str], dict[str, Visible]]:
    out = {}
    data = data_phrases(app.state.engine)
    for username, password in ((ADMIN, ADMIN_PASSWORD), (VIEWER, VIEWER_PASSWORD)):
        for language in ("nb", "nn"):
            with TestClient(app) as client:
                sign_in(client, username, password)
                choose(client, language)
                out[(username, language)] = crawl(client, data)
    return out


@pytest.mark.parametrize("language", ["nb", "nn"])
@pytest.mark.parametrize("username", [ADMIN, VIEWER])
def test_no_english_on_any_page(crawled, username: str, language: str) -> None:  # type: ignore[no-untyped-def]
    pages = crawled[(username, language)]
    assert {"/", "/messages", f"/processes/{SEED_ID}", f"/processes/{SEED_ID}/events"} <= set(pages)
    assert ("/users" in pages) == (username == ADMIN)
    assert all(page.lang == language for page in pages.values())
    found = english_on(pages)
    assert found == {}, "\n".join(f"{url}: {where}" for url, where in found.items())


def test_nynorsk_pages_say_it_in_nynorsk(crawled) -> None:  # type: ignore[no-untyped-def]
    for username in (ADMIN, VIEWER):
        nb, nn = crawled[(username, "nb")], crawled[(username, "nn")]
        assert set(nb) == set(nn)
        bokmal = {
            url: in_context(page, found)
            for url, page in nn.items()
            if (found := {w.lower() for w in page.words} & BOKMAL_ONLY)
        }
        assert bokmal == {}, "bokmål on nynorsk pages:\n" + "\n".join(
            f"{url}: {where}" for url, where in bokmal.items()
        )
        process = f"/processes/{SEED_ID}"
        nn_words, nb_words = set(nn[process].words), set(nb[process].words)
        assert {"Ikkje", "svara", "Meldingar", "Deltakarar"} <= nn_words
        assert {"Ikke", "svart", "Meldinger", "Deltakere"} <= nb_words


def test_the_language_switch_keeps_to_this_site(app: FastAPI) -> None:
    with TestClient(app) as client:
        sign_in(client, ADMIN, ADMIN_PASSWORD)
        page = client.get("/").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token and 'action="/language"' in page
        away = client.post(
            "/language",
            data={"language": "nn", "return_to": "//example.org/", "csrf_token": token[1]},
            follow_redirects=False,
        )
        assert away.headers["location"] == "/"
        forged = client.post(
            "/language", data={"language": "nb", "return_to": "/", "csrf_token": "x"},
            follow_redirects=False,
        )  # fmt: skip
        assert forged.status_code == 403 and client.cookies.get("innspill_lang") == "nn"
        other = client.post(
            "/language", data={"language": "de", "return_to": "/", "csrf_token": token[1]},
            follow_redirects=False,
        )  # fmt: skip
        assert other.status_code == 400 and client.cookies.get("innspill_lang") == "nn"
        assert 'lang="nn"' in client.get("/").text
        # signed out, the login page follows the cookie too
        client.cookies.delete("innspill_session")
        login = client.get("/login").text
        assert 'lang="nn"' in login and "Brukarnamn" in login


def test_the_answer_form_in_nynorsk_for_a_nynorsk_participant(app: FastAPI) -> None:
    """Bergen writes nynorsk (the seed's process file): its form speaks nynorsk whatever the
    dashboard's language cookie says, and a bokmål participant's form stays bokmål."""
    moment = oslo(2020, 5, 20, 10)  # the second request step is open
    app.dependency_overrides[get_now] = lambda: moment
    try:
        with session_scope(app.state.engine) as session:
            definition = get_definition(session, SEED_ID)
            step = "innspill-retningslinjer"
            forms = {
                who: issue(
                    session,
                    definition,
                    step_id=step,
                    participant_id=who,
                    purpose=TokenPurpose.FORM,
                    secret=app.state.settings.resolved_secret_key(),
                    now=moment,
                )
                for who in ("bergen-sekretariat", "oslo-akershus-sekretariat")
            }
        with TestClient(app) as client:
            client.cookies.set("innspill_lang", "nb")
            nn = client.get(f"/svar/{forms['bergen-sekretariat']}")
            assert nn.status_code == 200, nn.text[:300]
            page = read(nn.text)
            assert page.lang == "nn"
            words = {w.lower() for w in page.words}
            assert not words & BOKMAL_ONLY, words & BOKMAL_ONLY
            assert not (words - DATA_WORDS) & ENGLISH
            assert "Innspelet dykkar" in nn.text or "Innspel per tema" in nn.text
            nb = client.get(f"/svar/{forms['oslo-akershus-sekretariat']}")
            assert read(nb.text).lang == "nb" and "Innspill per tema" in nb.text
    finally:
        app.dependency_overrides[get_now] = lambda: AFTER


def test_no_page_is_left_untested(crawled) -> None:  # type: ignore[no-untyped-def]
    """The crawl reaches every kind of page a case officer goes to."""
    paths = {urlsplit(u).path for u in crawled[(ADMIN, "nn")]}
    kinds = {re.sub(r"/[^/]*\d[^/]*$|/participants/[^/]+$", "/*", p) for p in paths}
    expected = {"/", "/messages", "/inbox", "/journal", "/users", "/load"}
    assert expected <= kinds, kinds
