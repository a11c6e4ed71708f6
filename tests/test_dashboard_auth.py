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
from concurrent.futures import ThreadPoolExecutor
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
from innspill.dashboard.app import SESSION_COOKIE, create_app
from innspill.dashboard.auth import (
    AccountError,
    create_user,
    find_user,
    remove_user,
    secret_key,
    set_password,
    signin_pages,
)
from innspill.dashboard.auth import users as dashboard_users
from innspill.dashboard.deps import get_now
from innspill.dashboard.pages import routes as dashboard_routes
from innspill.inbound.answers import register_answer
from innspill.models import DashboardSession, Role, SignInAttempt, User
from innspill.models.db import make_engine, session_scope
from innspill.process.loading import get_definition
from tests.conftest import ROOT, SEED_ID, TEST_DATABASE, load_seed, new_database, oslo
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
            step_id="innspill-retningslinjer",
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
    routers = [signin_pages.router, dashboard_routes.pages, dashboard_users.router]
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
    # the module's data dir: its secret key is the one the database was set up with
    env = {"INNSPILL_DATABASE_URL": database[0], "INNSPILL_DATA_DIR": str(database[1] / "data")}

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


def test_a_script_gives_the_password_on_standard_input(
    database: tuple[str, Path], app: FastAPI, tmp_path: Path
) -> None:
    """`--password-stdin`: a real process fed by a pipe, as a deployment script runs it; no
    terminal, so no prompt and no GetPassWarning; `passwd` likewise, ending the sessions."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("INNSPILL_")},
        "INNSPILL_DATABASE_URL": database[0],
        "INNSPILL_DATA_DIR": str(database[1] / "data"),
    }

    def innspill(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "innspill.cli", *args],
            input=stdin,
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    made = innspill("user", "add", "skript", "--password-stdin", stdin="fra et skript 123\n")
    assert made.returncode == 0, made.stderr
    assert "User 'skript' created" in made.stdout
    assert "Password" not in made.stdout + made.stderr and "Warning" not in made.stderr
    with TestClient(app) as client:
        assert login(client, "fra et skript 123", username="skript").status_code == 303
        changed = innspill("user", "passwd", "skript", "--password-stdin", stdin="nytt passord 456")
        assert changed.returncode == 0, changed.stderr
        assert "1 session(s) ended" in changed.stdout
    with TestClient(app) as client:
        assert login(client, "fra et skript 123", username="skript").status_code != 303
        assert login(client, "nytt passord 456", username="skript").status_code == 303
    # Nothing on standard input, or a password too short: one line, nothing saved.
    empty = innspill("user", "add", "tom", "--password-stdin", stdin="")
    assert empty.returncode == 1 and "standard input is empty" in empty.stderr
    short = innspill("user", "add", "tom", "--password-stdin", stdin="kort\n")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    assert "Traceback" not in empty.stderr + short.stderr


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
    assert cli("user", "role", "per", "viewer").output.strip() == "User 'per' is now viewer."
    with TestClient(app) as per:
        assert login(per, "hemmelig passord 3", username="per").status_code == 303
        assert per.get("/users").status_code == 403
        assert cli("user", "role", "per", "admin").exit_code == 0
        assert per.get("/users").status_code == 200  # from the next page, no new sign-in
    assert cli("user", "role", "nobody", "admin").exit_code == 1
    with session_scope(app.state.engine) as session:
        kari, per = find_user(session, "kari"), find_user(session, "per")
        assert kari is not None and kari.role == Role.VIEWER
        assert per is not None and per.role == Role.ADMIN
        assert find_user(session, "ola") is None
        remove_user(session, "per")
    with TestClient(app) as c:
        assert login(c, "hemmelig passord 1", username="kari").status_code == 303
    assert "dashboard" in cli("--help").output
    assert cli("dashboard", "--help").exit_code == 0


def test_wall_clock_is_the_default(app: FastAPI) -> None:
    before = datetime.now(UTC)
    assert before <= get_now() <= datetime.now(UTC)


# --- the sign-in limit: keyed on the connecting address, shared through the database ---------


def lock_out(client: TestClient, headers: dict[str, str] | None = None) -> None:
    for _ in range(5):
        response = client.post(
            "/login",
            data={
                "username": USER,
                "password": WRONG,
                "csrf_token": csrf_of(client.get("/login").text),
            },
            headers=headers or {},
            follow_redirects=False,
        )
        assert response.status_code == 401


def login_from(
    client: TestClient, headers: dict[str, str], password: str = PASSWORD
) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": USER, "password": password, "csrf_token": token, "next": "/"},
        headers=headers,
        follow_redirects=False,
    )


FORGERIES = [
    {"X-Forwarded-For": FORGED},
    {"X-Forwarded-For": f"{FORGED}, 198.51.100.1"},
    {"Forwarded": f"for={FORGED}"},
    {"Forwarded": 'for="[2001:db8::77]:4711"'},
    {"X-Real-IP": FORGED},
]


@pytest.mark.parametrize("peer", ["testclient", "127.0.0.1"])
def test_a_forged_forwarded_header_does_not_lift_the_lockout(make_app: AppMaker, peer: str):
    """The reported bypass: after the lockout, the right password with a made-up
    X-Forwarded-For signed in. No proxy is trusted by default, not even on loopback."""
    app = make_app()
    with TestClient(app, client=(peer, 50000)) as client:
        lock_out(client)
        for headers in FORGERIES:
            response = login_from(client, headers)
            assert response.status_code == 429, headers
        assert not signed_in(client)
    with session_scope(app.state.engine) as session:
        addresses = {row.address for row in session.exec(select(SignInAttempt))}
    assert addresses == {peer}  # refused attempts are not kept: the lockout is not extended


def test_a_trusted_proxys_forwarded_address_is_used(make_app: AppMaker) -> None:
    app = make_app(trusted_proxies="10.0.0.0/8, 127.0.0.1")
    real = {"X-Forwarded-For": "198.51.100.7"}
    with TestClient(app, client=("127.0.0.1", 50000)) as proxy:
        lock_out(proxy, real)
        assert login_from(proxy, real).status_code == 429
        # what a client wrote in front of the proxy's entry is not believed ...
        assert login_from(proxy, {"X-Forwarded-For": f"{FORGED}, 198.51.100.7"}).status_code == 429
        # ... nor a second header the proxy passed on untouched
        forged_too = real | {"Forwarded": f"for={FORGED}"}
        assert login_from(proxy, forged_too).status_code == 429
        # a chain of our own proxies is walked back to the client
        chained = {"X-Forwarded-For": "198.51.100.7, 10.1.2.3"}
        assert login_from(proxy, chained).status_code == 429
        # another client behind the same proxy is counted on its own
        other = login_from(proxy, {"Forwarded": 'for="198.51.100.8:1234";proto=https'})
        assert other.status_code == 303
    with session_scope(app.state.engine) as session:
        addresses = {row.address for row in session.exec(select(SignInAttempt))}
    assert addresses == {"198.51.100.7"}
    # a peer outside the trusted networks gets no say, whatever it sends
    with TestClient(app, client=("203.0.113.5", 50000)) as direct:
        assert login_from(direct, real).status_code == 303
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        Settings(trusted_proxies="10.0.0.0/8, localhost", _env_file=None)  # type: ignore[call-arg]


def test_the_limit_holds_across_two_app_instances(make_app: AppMaker) -> None:
    """Two dashboard processes over one database count the same failures."""
    first, second = make_app(), make_app()
    with TestClient(first) as a, TestClient(second) as b:
        for client in (a, b, a, b, a):
            assert login(client, WRONG).status_code == 401
        assert login(b, PASSWORD).status_code == 429
        assert login(a, PASSWORD).status_code == 429
        first.dependency_overrides[get_now] = lambda: NOW + timedelta(minutes=15, seconds=1)
        assert login(a, PASSWORD).status_code == 303
        # a right password clears the count for that name and address
        assert login(b, WRONG).status_code == 401
        with session_scope(first.state.engine) as session:
            assert len(session.exec(select(SignInAttempt)).all()) == 1


def test_simultaneous_attempts_in_two_processes_get_no_more_than_the_limit(
    make_app: AppMaker,
) -> None:
    """Each attempt is written before its password is checked, so ten at once over two apps
    cannot all slip in under a count of five."""
    apps = [make_app(), make_app()]
    clients = [TestClient(apps[i % 2]) for i in range(10)]
    tokens = [csrf_of(c.get("/login").text) for c in clients]

    def attempt(i: int) -> int:
        data = {"username": USER, "password": WRONG, "csrf_token": tokens[i], "next": "/"}
        return clients[i].post("/login", data=data, follow_redirects=False).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = sorted(pool.map(attempt, range(10)))
    for c in clients:
        c.close()
    assert set(codes) <= {401, 429}
    # All ten may be refused (each counted the nine others before any was released): safe,
    # and their rows are released, so the right password is let in afterwards.
    assert codes.count(401) <= 5, codes
    assert login(TestClient(apps[0]), PASSWORD).status_code == (
        429 if codes.count(401) == 5 else 303
    )


def test_retry_after_counts_from_the_oldest_failure_that_still_counts(make_app: AppMaker):
    app = make_app()
    with TestClient(app) as client:
        for minute in range(5):
            app.dependency_overrides[get_now] = lambda m=minute: NOW + timedelta(minutes=m)
            assert login(client, WRONG).status_code == 401
        app.dependency_overrides[get_now] = lambda: NOW + timedelta(minutes=10)
        refused = login(client, PASSWORD)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) == 5 * 60
        # at 15 minutes the first failure has left the window: four remain, one more try
        app.dependency_overrides[get_now] = lambda: NOW + timedelta(minutes=15)
        assert login(client, WRONG).status_code == 401
        assert login(client, PASSWORD).status_code == 429


# --- sessions end on the server ---------------------------------------------------------------


def test_an_expired_session_signs_out(app: FastAPI, client: TestClient) -> None:
    assert login(client).status_code == 303
    app.dependency_overrides[get_now] = lambda: NOW + timedelta(hours=8)
    assert not signed_in(client)


def test_a_new_password_ends_every_session_of_that_user(app: FastAPI, cli) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app) as one, TestClient(app) as two, TestClient(app) as viewer:
        assert login(one).status_code == 303
        assert login(two).status_code == 303
        assert login(viewer, VIEWER_PASSWORD, username=VIEWER).status_code == 303
        new = "et helt nytt passord"
        result = cli("user", "passwd", USER, input=f"{new}\n{new}\n")
        assert result.exit_code == 0, result.output
        assert f"New password for '{USER}'; 2 session(s) ended." in result.output
        assert not signed_in(one)
        assert not signed_in(two)
        assert signed_in(viewer)  # someone else's sessions are untouched
        assert login(one, PASSWORD).status_code == 401
        assert login(one, new).status_code == 303
        with session_scope(app.state.engine) as session:
            set_password(session, USER, password=PASSWORD)  # back, for the other tests
        assert not signed_in(one)
    assert cli("user", "passwd", "nobody").exit_code == 1


def test_removal_ends_sessions_and_a_readded_name_does_not_revive_them(
    app: FastAPI, client: TestClient, cli
) -> None:  # type: ignore[no-untyped-def]
    secret = "et midlertidig passord"
    assert cli("user", "add", "tmp", input=f"{secret}\n{secret}\n").exit_code == 0
    assert login(client, secret, username="tmp").status_code == 303
    old_cookie = client.cookies[SESSION_COOKIE]
    with session_scope(app.state.engine) as session:
        old = find_user(session, "tmp")
        assert old is not None and old.id is not None
        old_id = old.id
        # the newest user: SQLite without AUTOINCREMENT would hand its id out again
        assert old_id == max(u.id or 0 for u in session.exec(select(User)))
    result = cli("user", "remove", "tmp")
    assert result.output.strip() == "User 'tmp' removed; 1 session(s) ended."
    assert not signed_in(client)
    assert cli("user", "add", "tmp", input=f"{secret}\n{secret}\n").exit_code == 0
    with session_scope(app.state.engine) as session:
        again = find_user(session, "tmp")
        assert again is not None and again.id is not None and again.id > old_id
    with TestClient(app) as holder:  # the old cookie, kept somewhere, comes back
        holder.cookies.set(SESSION_COOKIE, old_cookie)
        assert not signed_in(holder)
    assert cli("user", "remove", "tmp").exit_code == 0
    assert cli("user", "remove", "tmp").exit_code == 1


def test_user_ids_are_never_reused(app: FastAPI) -> None:
    engine = app.state.engine
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            sql = conn.execute(text("select sql from sqlite_master where name = 'app_user'"))
            assert "AUTOINCREMENT" in sql.scalar_one()
    ids = []
    for _ in range(2):
        with session_scope(engine) as session:
            ids.append(create_user(session, "gjenbruk", "et passord til gjenbruk", now=NOW).id)
        with session_scope(engine) as session:
            remove_user(session, "gjenbruk")
    assert ids[1] > ids[0]


def test_user_list_shows_roles_and_sessions(app: FastAPI, client: TestClient, cli) -> None:  # type: ignore[no-untyped-def]
    app.dependency_overrides[get_now] = lambda: datetime.now(UTC)  # the CLI reads the clock
    assert login(client).status_code == 303
    lines = cli("user", "list").output.splitlines()
    assert lines[0].split()[:2] == ["user", "role"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[USER][1] == "admin" and rows[USER][-1] == "1"
    assert rows[VIEWER][1] == "viewer" and rows[VIEWER][-1] == "0"


# --- roles: viewers read, administrators act --------------------------------------------------


def test_a_viewer_reads_but_gets_403_on_an_admin_post(app: FastAPI, client: TestClient) -> None:
    assert login(client, VIEWER_PASSWORD, username=VIEWER).status_code == 303
    assert client.get("/").status_code == 200
    assert client.get(f"/processes/{SEED_ID}").status_code == 200
    assert "/users" not in [href for href, _ in Page(client.get("/").text).links]
    token = csrf_of(client.get("/").text)
    pw = "et passord som ikke blir"
    data = {"username": "nyadmin", "role": "admin", "password": pw, "repeat": pw}
    response = client.post("/users", data=data | {"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 403
    assert "Bare administratorer" in response.text
    assert client.get("/users").status_code == 403
    for action in (f"/users/{USER}/remove", f"/users/{USER}/password"):
        form = {"csrf_token": token, "password": pw, "repeat": pw}
        assert client.post(action, data=form, follow_redirects=False).status_code == 403
    with session_scope(app.state.engine) as session:
        assert find_user(session, "nyadmin") is None
        assert find_user(session, USER) is not None


def test_an_admin_manages_users_on_the_web(app: FastAPI, client: TestClient) -> None:
    assert login(client).status_code == 303
    page = client.get("/users")
    assert page.status_code == 200
    assert ("/users", "Brukere") in Page(page.text).links
    token = csrf_of(page.text)
    pw = "et passord for nettet"
    add = {"username": "nett", "role": "viewer", "password": pw, "repeat": pw}
    # every change is a POST with the session's CSRF token
    assert client.post("/users", data=add, follow_redirects=False).status_code == 403
    response = client.post("/users", data=add | {"csrf_token": token}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/users")
    assert "Brukeren «nett» er lagt til (Leser)." in client.get("/users").text
    again = client.post("/users", data=add | {"csrf_token": token})
    assert again.status_code == 400
    assert Page(again.text).alerts == ["Det finnes alt en bruker med det navnet."]
    short = client.post(
        "/users",
        data=add | {"username": "x2", "password": "kort", "repeat": "kort", "csrf_token": token},
    )
    assert Page(short.text).alerts == ["Passordet må ha minst 10 tegn."]

    with TestClient(app) as nett:
        assert login(nett, pw, username="nett").status_code == 303
        new = "et nytt passord for nettet"
        reset = {"password": new, "repeat": new, "csrf_token": token}
        response = client.post("/users/nett/password", data=reset, follow_redirects=False)
        assert response.status_code == 303
        assert "1 økt(er) ble avsluttet" in client.get("/users").text
        assert not signed_in(nett)
        assert login(nett, new, username="nett").status_code == 303
        response = client.post(
            "/users/nett/remove", data={"csrf_token": token}, follow_redirects=False
        )
        assert response.status_code == 303
        assert not signed_in(nett)
    mine = client.post(f"/users/{USER}/remove", data={"csrf_token": token})
    assert mine.status_code == 400
    assert Page(mine.text).alerts == ["Du kan ikke fjerne deg selv."]
    gone = client.post("/users/nett/remove", data={"csrf_token": token})
    assert gone.status_code == 404
    with session_scope(app.state.engine) as session:
        assert find_user(session, "nett") is None
        assert find_user(session, USER) is not None
    assert signed_in(client)


# --- uvicorn itself: two real processes over one database ------------------------------------


class Dashboard:
    """`innspill dashboard` in its own process, as it is deployed."""

    def __init__(self, url: str, data_dir: Path, **env: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environment = (
            os.environ
            | {
                "INNSPILL_DATABASE_URL": url,
                "INNSPILL_DATA_DIR": str(data_dir),
                "INNSPILL_TRUSTED_PROXIES": "",
            }
            | env
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "innspill.cli", "dashboard", "--port", str(self.port)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                self.stop()
                raise AssertionError(f"the dashboard did not start:\n{output}")
            time.sleep(0.2)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, follow_redirects=False, timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def try_login(client: httpx.Client, password: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/login").text)
    data = {"username": USER, "password": password, "csrf_token": token, "next": "/"}
    return client.post("/login", data=data, headers=headers or {})


def test_two_uvicorn_processes_share_the_limit_and_ignore_forged_headers(
    database: tuple[str, Path], make_app: AppMaker
) -> None:
    make_app()  # clears the attempts of earlier tests
    url, tmp = database
    plain = Dashboard(url, tmp / "data")
    try:
        behind_proxy = Dashboard(url, tmp / "data", INNSPILL_TRUSTED_PROXIES="127.0.0.1")
    except BaseException:
        plain.stop()
        raise
    try:
        with plain.client() as a, behind_proxy.client() as b:
            for client in (a, b, a, b, a):
                assert try_login(client, WRONG).status_code == 401
            # uvicorn runs without proxy_headers: a loopback peer's header is not the client
            for headers in FORGERIES:
                assert try_login(a, PASSWORD, headers).status_code == 429, headers
            assert try_login(b, PASSWORD).status_code == 429  # counted in the other process
            # where the proxy is trusted, the client it names is the one that counts
            signed = try_login(b, PASSWORD, {"X-Forwarded-For": FORGED})
            assert signed.status_code == 303
            assert b.get("/").status_code == 200
    finally:
        plain.stop()
        behind_proxy.stop()


# --- the migration ----------------------------------------------------------------------------


def test_users_from_before_roles_become_administrators(tmp_path: Path) -> None:
    from alembic import command

    from tests.test_migrations import run_alembic

    url, drop = new_database(TEST_DATABASE, tmp_path)
    try:
        run_alembic(url, command.downgrade, "0004")
        engine = make_engine(url)
        with engine.begin() as conn:
            assert "role" not in {c["name"] for c in inspect(conn).get_columns("app_user")}
            conn.execute(
                text(
                    "insert into app_user (username, password_hash, created_at) "
                    "values ('eldre', 'x', '2020-01-01 00:00:00')"
                )
            )
        engine.dispose()
        run_alembic(url, command.upgrade, "head")
        engine = make_engine(url)
        with session_scope(engine) as session:
            old = find_user(session, "eldre")
            assert old is not None and old.role == Role.ADMIN
            assert (
                create_user(session, "nyere", "et passord til nyere", now=NOW).role == Role.VIEWER
            )
        engine.dispose()
    finally:
        drop()


def test_the_viewer_fixture_is_a_viewer(app: FastAPI) -> None:
    with session_scope(app.state.engine) as session:
        admin, viewer = find_user(session, USER), find_user(session, VIEWER)
        assert admin is not None and admin.role == Role.ADMIN
        assert viewer is not None and viewer.role == Role.VIEWER
