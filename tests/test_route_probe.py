"""A probe of every route of the dashboard with odd input, as an attacker would send it.

The routes are read from the app itself, so a route added later is probed too. Each one gets,
signed out and as an administrator (with a valid CSRF token, so the odd value reaches the
database), path parameters it cannot hold (ids at and past 2^63, negative, thousands of
digits; names with `..`, NUL, line breaks, 10,000 characters) and, on POST, bodies no form
sends. Every answer must be a 4xx (or, signed out, the redirect to sign in), never a 500, and
carry the security headers. Runs on the suite's database: SQLite, and PostgreSQL in its pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from innspill.config.settings import Settings
from innspill.dashboard.app import SECURITY_HEADERS, create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.engine import tick
from innspill.models.db import session_scope
from tests.conftest import SEED_ID, load_seed, oslo

NOW = oslo(2020, 4, 14, 10)
ADMIN, PASSWORD = "saksbehandler", "riktig hest batteri stift"

#: Values no id can have: at and past 2^63 (the largest BIGINT is 2^63 - 1), negative, absurd.
ODD_IDS = [
    str(2**63),
    str(2**64 + 1),
    "9" * 40,
    "1" * 5000,  # past Python's 4,300 digits for int()
    "-1",
    "-" + str(2**63 + 1),
    "0x10",
    "1e3",
    "%00",
]
#: Names no process, step, participant, user or token has.
ODD_NAMES = [
    "%2e%2e",  # ".." itself would be resolved away by the client
    "%2e%2e%2f%2e%2e",
    "a%00b",
    "x%0d%0aSet-Cookie:%20a=b",
    "ø" * 50,
    "a" * 10_000,
]
#: Path parameters that are ids (the rest are names).
ID_PARAMS = {"message_id", "document_id", "file_id", "index", "number"}
#: Good values, so that one parameter at a time is odd.
GOOD = {"process_id": SEED_ID, "step_id": "innspill-oppdrag", "key": "bergen-sekretariat"}


def routes_of(app: FastAPI) -> list[APIRoute]:
    """Every API route of the app, through the routers it includes."""
    found: list[APIRoute] = []

    def walk(routes: list[object]) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.append(route)
            inner = getattr(route, "original_router", None)
            if inner is not None:
                walk(list(inner.routes))

    walk(list(app.router.routes))
    return found


def assert_headers(response: httpx.Response, what: str) -> None:
    """Every security header (a route may set a stricter value of its own: the answer form's
    no-referrer, a message's sandbox), and no Server header."""
    for name, _value in SECURITY_HEADERS:
        assert response.headers.get(name.decode()), (what, name)
    assert response.headers["x-content-type-options"] == "nosniff", what
    assert "server" not in response.headers, what


def refused(response: httpx.Response, what: str, *, signed_in: bool) -> None:
    """A 4xx, or signed out the redirect to sign in; never a 5xx; the headers always."""
    assert_headers(response, what)
    if not signed_in and response.status_code == 303:
        assert response.headers["location"].startswith("/login"), what
        return
    assert 400 <= response.status_code < 500, (what, response.status_code, response.text[:300])


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The seed loaded and its first invitations queued, and an administrator."""
    from tests.conftest import TEST_DATABASE, new_database

    tmp: Path = tmp_path_factory.mktemp("probe")
    url, drop = new_database(TEST_DATABASE, tmp)
    application = create_app(
        Settings(data_dir=tmp / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    )
    engine: Engine = application.state.engine
    load_seed(engine)
    tick(engine, now=oslo(2020, 3, 30, 9))
    with session_scope(engine) as session:
        create_user(session, ADMIN, PASSWORD, now=NOW)
    application.dependency_overrides[get_now] = lambda: NOW
    yield application
    engine.dispose()
    drop()


@pytest.fixture(scope="module")
def admin(app: FastAPI) -> Iterator[tuple[TestClient, str]]:
    with TestClient(app, raise_server_exceptions=False) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        data = {"username": ADMIN, "password": PASSWORD, "next": "/", "csrf_token": token[1]}
        assert client.post("/login", data=data, follow_redirects=False).status_code == 303
        page = client.get("/load").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf
        yield client, csrf[1]


@pytest.fixture(scope="module")
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def odd_urls(route: APIRoute) -> Iterator[str]:
    """The route's path with one parameter at a time odd, the others good."""
    params = re.findall(r"{(\w+)}", route.path)
    for odd in params:
        values = ODD_IDS if odd in ID_PARAMS else ODD_NAMES
        for value in values:
            filled = {p: GOOD.get(p, "1" if p in ID_PARAMS else "x") for p in params}
            filled[odd] = value
            yield route.path.format(**filled)


def test_the_probe_reaches_every_route(app: FastAPI) -> None:
    routes = routes_of(app)
    paths = {r.path for r in routes}
    assert len(routes) >= 40
    assert {
        "/documents/{document_id}",
        "/answer-files/{file_id}",
        "/messages/{message_id}",
        "/inbox/{message_id}",
        "/messages/{message_id}/resend",
        "/inbox/{message_id}/dismiss",
        "/svar/{token}",
        "/load",
    } <= paths


@pytest.mark.parametrize("signed_in", [True, False], ids=["admin", "signed-out"])
def test_odd_path_parameters_get_a_4xx_with_the_headers(
    app: FastAPI, admin: tuple[TestClient, str], anonymous: TestClient, signed_in: bool
) -> None:
    client, csrf = admin if signed_in else (anonymous, "")
    probed = 0
    for route in routes_of(app):
        for url in odd_urls(route):
            for method in sorted(route.methods or ()):
                if method == "GET":
                    response = client.get(url, follow_redirects=False)
                else:
                    data = {"csrf_token": csrf, "back": "messages", "step": "innspill-oppdrag"}
                    response = client.post(url, data=data, follow_redirects=False)
                refused(response, f"{method} {url[:120]}", signed_in=signed_in)
                probed += 1
    assert probed > 250


#: Bodies no form of the dashboard sends: (content type, body).
ODD_BODIES = [
    ("multipart/form-data", b"--x\r\nContent-Disposition: form-data\r\n\r\n"),  # no boundary
    ("multipart/form-data; boundary=x", b"--x\r\nnonsense\r\n\r\n--x--"),
    ("multipart/form-data; boundary=x", b"\xff\xfe" * 100),
    ("application/x-www-form-urlencoded", b"csrf_token=%ff%fe&" + b"a=1&" * 5000),
    ("application/x-www-form-urlencoded", b"=" * 1000),
    ("application/json", b'{"csrf_token": [[[[[[[[[[]]]]]]]]]]}'),
    ("text/plain", b"\x00" * 1000),
    ("application/x-www-form-urlencoded", b"x=" + b"A" * 300_000),  # past the default limit
]


#: The fields of the dashboard's forms, each with a NUL or a number past 2^63 (PostgreSQL
#: refuses NUL in text; SQLite's driver cannot bind such a number).
FIELDS = [
    "username",
    "role",
    "next",
    "participant",
    "step",
    "back",
    "received",
    "note",
    "deadline",
    "reason",
    "state",
    "meeting_date",
    "decided_on",
    "decision",
    "attended",
    "generelt",
    "tema-rolle",
    "fjern",
]


def odd_form(csrf: str, value: str) -> dict[str, str]:
    """Every field odd, but a password good enough that a new user reaches the database."""
    good = {"password": "et langt nok passord", "repeat": "et langt nok passord"}
    return {"csrf_token": csrf} | dict.fromkeys(FIELDS, value) | good


@pytest.mark.parametrize("signed_in", [True, False], ids=["admin", "signed-out"])
def test_odd_bodies_get_a_4xx_with_the_headers(
    app: FastAPI, admin: tuple[TestClient, str], anonymous: TestClient, signed_in: bool
) -> None:
    client, csrf = admin if signed_in else (anonymous, "")
    for route in routes_of(app):
        if "POST" not in (route.methods or ()):
            continue
        url = route.path.format(**{p: GOOD.get(p, "1") for p in re.findall(r"{(\w+)}", route.path)})
        for content_type, body in ODD_BODIES:
            response = client.post(
                url, content=body, headers={"content-type": content_type}, follow_redirects=False
            )
            refused(response, f"POST {url} {content_type} {body[:30]!r}", signed_in=signed_in)
        if url == "/logout":  # with the right token, odd fields or not, it signs out
            continue
        for value in ("a\x00b", str(2**63), "9" * 5000):
            response = client.post(url, data=odd_form(csrf, value), follow_redirects=False)
            refused(response, f"POST {url} fields {value[:20]!r}", signed_in=signed_in)


def test_odd_query_strings_never_give_a_5xx(
    app: FastAPI, admin: tuple[TestClient, str], anonymous: TestClient
) -> None:
    client, _csrf = admin
    queries = [
        "page=" + str(2**63),
        "page=-1",
        "page=" + "9" * 5000,
        "status=%00&kind=%ff&participant=" + "a" * 5000,
        "process=..&alle=maybe",
        "next=//evil.example&lagret=%0d%0a",
    ]
    for route in routes_of(app):
        if "GET" not in (route.methods or ()) or "{" in route.path:
            continue
        for query in queries:
            for who in (client, anonymous):
                response = who.get(f"{route.path}?{query}", follow_redirects=False)
                assert_headers(response, f"GET {route.path}?{query[:60]}")
                assert response.status_code < 500, (route.path, query[:60], response.text[:300])
