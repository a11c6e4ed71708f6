"""Who sees the dashboard: sign-in, server-side sessions, the sign-in limit shared by every
process (and not fooled by forged forwarded headers), roles, CSRF, escaping, accounts."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import delete, inspect, text
from sqlmodel import select
from typer.testing import CliRunner, Result

from innspill.cli import app as cli_app
from innspill.config.settings import Settings, get_settings
from innspill.dashboard import routes as dashboard_routes
from innspill.dashboard import users as dashboard_users
from innspill.dashboard.app import SESSION_COOKIE, create_app
from innspill.dashboard.auth import (
    AccountError,
    create_user,
    find_user,
    remove_user,
    secret_key,
    set_password,
)
from innspill.dashboard.deps import get_now
from innspill.inbound.answers import register_answer
from innspill.models import DashboardSession, Role, SignInAttempt, User
from innspill.models.db import make_engine, session_scope
from innspill.process.loading import get_definition
from tests.conftest import IN_CI, ROOT, SEED_ID, TEST_DATABASE, load_seed, new_database, oslo
from tests.smtp_sink import free_port
from tests.test_dashboard import Page, csrf_of

USER, PASSWORD = "admin", "et langt og godt passord"
VIEWER, VIEWER_PASSWORD = "leser", "et passord bare for lesing"
WRONG = "feil passord her"
FORGED = "192.0.2.77"
NOW = oslo(2020, 4, 20, 10)
XSS = '<script>alert("innspill")</script> & <b>fet</b>'


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The seed process loaded, one answer with markup in it, and one administrator."""
    tmp = tmp_path_factory.mktemp("dashboard-auth")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    load_seed(engine)
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        register_answer(
            session,
            definition,
            step_id="innspill-oppdrag",
            participant_id="bergen-sekretariat",
            texts={"rolle": XSS, "organisering": "Linje 1\nLinje 2"},
            at=oslo(2020, 4, 8, 13, 40),
        )
        create_user(session, USER, PASSWORD, now=NOW)  # the first user: an administrator
        create_user(session, VIEWER, VIEWER_PASSWORD, now=NOW)  # later ones: viewers
    engine.dispose()
    yield url, tmp
    drop()


AppMaker = Callable[..., FastAPI]


@pytest.fixture
def make_app(database: tuple[str, Path]) -> Iterator[AppMaker]:
    """Apps on the module's database (several may share it, like several processes); the
    sign-in attempts and sessions of earlier tests are cleared first."""
    url, tmp = database
    made: list[FastAPI] = []

    def make(**settings: Any) -> FastAPI:
        application = create_app(
            Settings(data_dir=tmp / "data", database_url=url, _env_file=None, **settings)  # type: ignore[call-arg]
        )
        application.dependency_overrides[get_now] = lambda: NOW
        if not made:
            with session_scope(application.state.engine) as session:
                session.exec(delete(SignInAttempt))
                session.exec(delete(DashboardSession))
        made.append(application)
        return application

    yield make


@pytest.fixture
def app(make_app: AppMaker) -> FastAPI:
    return make_app()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def login(
    client: TestClient, password: str = PASSWORD, *, username: str = USER, token: str | None = ""
) -> httpx.Response:
    data = {"username": username, "password": password, "next": "/"}
    if token is not None:
        data["csrf_token"] = token or csrf_of(client.get("/login").text)
    return client.post("/login", data=data, follow_redirects=False)


def cookie_session(client: TestClient) -> dict[str, str]:
    """What the signed cookie carries (readable, not forgeable: it is signed, not encrypted)."""
    payload = client.cookies[SESSION_COOKIE].split(".")[0]
    return dict(json.loads(base64.b64decode(payload + "==")))


def copy_of(client: TestClient) -> TestClient:
    """Another browser holding a copy of this one's cookie (a stolen or saved cookie)."""
    other = TestClient(client.app)
    other.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
    return other


def signed_in(client: TestClient) -> bool:
    response = client.get("/", follow_redirects=False)
    return response.status_code == 200


def page_urls() -> list[str]:
    """Every GET route of the app's routers, with real values for its path parameters."""
    values = {"process_id": SEED_ID, "key": "bergen-sekretariat"}
    urls = []
    routers = [dashboard_routes.public, dashboard_routes.pages, dashboard_users.router]
    for route in [*(r for router in routers for r in router.routes)]:
        if isinstance(route, APIRoute) and "GET" in route.methods:
            urls.append(route.path.format(**values))
    return urls


def test_every_page_redirects_to_login_without_a_session(app: FastAPI, client: TestClient):
    urls = page_urls()
    assert len(urls) >= 8
    assert {"/", "/messages", "/messages.csv", f"/processes/{SEED_ID}", "/users"} <= set(urls)
    for url in urls:
        response = client.get(url, follow_redirects=False)
        if url in ("/login", "/healthz"):
            assert response.status_code == 200, url
            continue
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/login"), url
    # the login page brings you back where you were going
    response = client.get("/messages?kind=reminder", follow_redirects=False)
    assert response.headers["location"] == "/login?next=%2Fmessages%3Fkind%3Dreminder"
    form = Page(client.get(response.headers["location"]).text)
    target = next(f for f in form.fields if f.get("name") == "next")
    assert target["value"] == "/messages?kind=reminder"
    # no API docs that would show the pages' shapes to anyone
    for url in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(url).status_code == 404


def test_sign_in_sets_a_safe_cookie_and_a_new_session(client: TestClient) -> None:
    before = csrf_of(client.get("/login").text)
    response = login(client, token=before)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "max-age=28800" in cookie
    assert signed_in(client)
    after = csrf_of(client.get("/").text)
    assert after != before  # the session is new after sign-in
    assert client.get("/login", follow_redirects=False).status_code == 303
    # the cookie carries a random session id; the server keeps only its SHA-256
    sid = cookie_session(client)["sid"]
    with session_scope(client.app.state.engine) as session:  # type: ignore[attr-defined]
        rows = session.exec(select(DashboardSession)).all()
        assert [r.token_hash for r in rows] == [hashlib.sha256(sid.encode()).hexdigest()]
        assert rows[0].expires_at == NOW + timedelta(hours=8)
        assert sid not in rows[0].token_hash


def test_the_page_has_security_headers(client: TestClient) -> None:
    response = client.get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


def test_a_wrong_password_is_401_and_no_session(client: TestClient) -> None:
    response = login(client, WRONG)
    assert response.status_code == 401
    assert Page(response.text).alerts == ["Feil brukernavn eller passord."]
    assert not signed_in(client)
    unknown = login(client, PASSWORD, username="nobody")
    assert unknown.status_code == 401
    assert not signed_in(client)


def test_the_sixth_failed_attempt_is_refused(app: FastAPI, client: TestClient) -> None:
    for _ in range(5):
        assert login(client, WRONG).status_code == 401
    refused = login(client, WRONG)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "For mange mislykkede innlogginger" in Page(refused.text).alerts[0]
    # even the right password waits now ...
    assert login(client, PASSWORD).status_code == 429
    assert not signed_in(client)
    # ... but another user name is counted on its own
    assert login(client, WRONG, username="another").status_code == 401
    # and after 15 minutes, the user may try again
    app.dependency_overrides[get_now] = lambda: NOW + timedelta(minutes=15, seconds=1)
    assert login(client, PASSWORD).status_code == 303
    assert signed_in(client)


def test_login_without_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    assert login(client, PASSWORD, token=None).status_code == 403
    assert login(client, PASSWORD, token="forged").status_code == 403
    assert not signed_in(client)
    # a fresh client that never saw the form has no session to match a token against
    with TestClient(client.app) as other:
        assert login(other, PASSWORD, token="forged").status_code == 403


def test_logout_clears_the_session(client: TestClient) -> None:
    assert login(client).status_code == 303
    token = csrf_of(client.get("/").text)
    refused = client.post("/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert signed_in(client)
    saved = copy_of(client)
    assert signed_in(saved)
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert not signed_in(client)
    # the session ended on the server: a copy of the cookie kept from before is worth nothing
    assert not signed_in(saved)
    with session_scope(client.app.state.engine) as session:  # type: ignore[attr-defined]
        assert session.exec(select(DashboardSession)).all() == []
    again = client.post("/logout", data={}, follow_redirects=False)
    assert (again.status_code, again.headers["location"]) == (303, "/login")


def test_no_open_redirect_after_sign_in(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = client.post(
            "/login",
            data={"username": USER, "password": PASSWORD, "csrf_token": token, "next": target},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        client.cookies.clear()
        token = csrf_of(client.get("/login").text)


def test_a_deleted_account_loses_access(app: FastAPI, client: TestClient) -> None:
    with session_scope(app.state.engine) as session:
        create_user(session, "midlertidig", "midlertidig passord", now=NOW)
    assert login(client, "midlertidig passord", username="midlertidig").status_code == 303
    assert signed_in(client)
    with session_scope(app.state.engine) as session:
        session.execute(delete(User).where(User.username == "midlertidig"))  # type: ignore[arg-type]
        # the database removed its sessions along with it (ON DELETE CASCADE)
        assert session.exec(select(DashboardSession)).all() == []
    assert not signed_in(client)


def test_answer_text_with_markup_is_shown_as_text(client: TestClient) -> None:
    assert login(client).status_code == 303
    response = client.get(f"/processes/{SEED_ID}/participants/bergen-sekretariat")
    assert response.status_code == 200
    page = Page(response.text)
    assert page.scripts == 0  # the page has no script element at all ...
    assert XSS in page.texts["dd"]  # ... and the text reads exactly as it was written
    assert "Linje 1 Linje 2" in page.texts["dd"]


def test_passwords_are_stored_as_argon2_hashes(app: FastAPI) -> None:
    with session_scope(app.state.engine) as session:
        user = find_user(session, USER)
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        with pytest.raises(AccountError):
            create_user(session, USER, "et annet langt passord", now=NOW)
        with pytest.raises(AccountError):
            create_user(session, "ny", "kort", now=NOW)
        with pytest.raises(AccountError):
            create_user(session, "ikke gyldig navn", "et langt og godt passord", now=NOW)


def test_the_secret_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    first = secret_key(settings)
    path = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert secret_key(settings) == first
    given = Settings(
        data_dir=tmp_path / "data",
        secret_key="x" * 40,
        _env_file=None,  # type: ignore[call-arg]
    )
    assert secret_key(given) == "x" * 40


@pytest.fixture
def cli(
    tmp_path: Path, database: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Result]]:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    env = {"INNSPILL_DATABASE_URL": database[0], "INNSPILL_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str, input: str = "") -> Result:
        get_settings.cache_clear()
        try:
            result = runner.invoke(cli_app, list(args), input=input, env=env)
        finally:
            get_settings.cache_clear()
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    yield run


def test_user_add_asks_for_the_password_twice(cli, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    result = cli("user", "add", "kari", input="hemmelig passord 1\nhemmelig passord 1\n")
    assert result.exit_code == 0, result.output
    assert "User 'kari' created (viewer)" in result.output  # there are users: a viewer
    result = cli("user", "add", "ola", input="hemmelig passord 1\nhemmelig passord 2\n")
    assert result.exit_code == 1
    assert "differ" in result.output
    result = cli("user", "add", "ola", input="kort\nkort\n")
    assert result.exit_code == 1
    assert "at least 10 characters" in result.output
    result = cli("user", "add", "kari", input="hemmelig passord 1\nhemmelig passord 1\n")
    assert result.exit_code == 1
    assert "exists already" in result.output
    result = cli(
        "user", "add", "per", "--role", "admin", input="hemmelig passord 3\nhemmelig passord 3\n"
    )
    assert "User 'per' created (admin)" in result.output
    assert cli("user", "add", "x", "--role", "boss", input="").exit_code == 2
    with session_scope(app.state.engine) as session:
        kari, per = find_user(session, "kari"), find_user(session, "per")
        assert kari is not None and kari.role == Role.VIEWER
        assert per is not None and per.role == Role.ADMIN
        assert find_user(session, "ola") is None
    with TestClient(app) as c:
        assert login(c, "hemmelig passord 1", username="kari").status_code == 303
    assert "dashboard" in cli("--help").output
    assert cli("dashboard", "--help").exit_code == 0


def test_wall_clock_is_the_default(app: FastAPI) -> None:
    before = datetime.now(UTC)
    assert before <= get_now() <= datetime.now(UTC)
