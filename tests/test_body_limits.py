"""Request bodies bounded per route before they are read (dashboard/serving/limits.py).

In-process (TestClient) for the answers and pages, and over real HTTP against `innspill
dashboard` run as an operator runs it (uvicorn in its own process, its own temporary folder),
where a raw socket sends 150 MB with and without `Content-Length` and the server's temporary
files are watched through /proc while it does.
"""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, func
from sqlmodel import select as sql_select

from innspill.config.settings import Settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.dashboard.serving.limits import DEFAULT_LIMIT, ROUTES
from innspill.models import Answer, Document, TokenPurpose
from innspill.models.db import make_engine, session_scope
from innspill.process.loading import get_definition, load_file
from innspill.tokens import issue
from tests.browser.served import free_port
from tests.conftest import SEED, SEED_ID, TEST_DATABASE, copy_seed_files, new_database, oslo
from tests.test_route_probe import assert_headers, routes_of

MB = 1024 * 1024
OPEN = oslo(2020, 5, 20, 10)  # the second request step is open
ADMIN, PASSWORD = "saksbehandler", "riktig hest batteri stift"
DRAFTS = f"/processes/{SEED_ID}/steps/oversendelse/drafts"
ANSWER = f"/processes/{SEED_ID}/steps/innspill-retningslinjer/answer"
#: A body larger than every limit: the issue's 150 MB.
HUGE = 150 * MB


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The seed (where Bergen answers in nynorsk), and an administrator."""
    tmp = tmp_path_factory.mktemp("limits")
    url, drop = new_database(TEST_DATABASE, tmp)
    text = SEED.read_text("utf-8")
    assert 'area = "Bergen"\nemail = "sekretariat@bergen.byvekst.example"\nlanguage = "nn"' in text
    (tmp / "prosess.toml").write_text(text, "utf-8")
    copy_seed_files(tmp)
    engine = make_engine(url)
    with session_scope(engine) as session:
        load_file(session, tmp / "prosess.toml", now=oslo(2020, 3, 27, 8))
        create_user(session, ADMIN, PASSWORD, now=OPEN)
    engine.dispose()
    yield url, tmp
    drop()


@pytest.fixture(scope="module")
def app(database: tuple[str, Path]) -> FastAPI:
    url, tmp = database
    application = create_app(
        Settings(data_dir=tmp / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    )
    application.dependency_overrides[get_now] = lambda: OPEN
    return application


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found[1]


def sign_in(client: httpx.Client | TestClient) -> str:
    """Sign in as the administrator; the CSRF token of the session."""
    token = csrf_of(client.get("/login").text)
    data = {"username": ADMIN, "password": PASSWORD, "next": "/", "csrf_token": token}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    return csrf_of(client.get("/load").text)


def chunks(total: int, size: int = MB) -> Iterator[bytes]:
    """`total` bytes of a multipart body that never ends, `size` at a time (sent chunked)."""
    yield b'--grense\r\nContent-Disposition: form-data; name="file"; filename="u.pdf"\r\n\r\n'
    sent = 0
    while sent < total:
        yield b"%" * size
        sent += size


MULTIPART = {"content-type": "multipart/form-data; boundary=grense"}


def count(app: FastAPI, table: type[Answer] | type[Document]) -> int:
    with Session(app.state.engine) as session:
        return session.exec(sql_select(func.count()).select_from(table)).one()


def test_every_limited_route_is_a_route_of_the_app(app: FastAPI) -> None:
    routes = {(m, r.path) for r in routes_of(app) for m in r.methods or ()}
    assert set(ROUTES) <= routes
    # Each limit is at least what its route takes, and the default is small.
    assert (
        ROUTES[
            ("POST", DRAFTS.replace(SEED_ID, "{process_id}").replace("oversendelse", "{step_id}"))
        ].size
        > 20 * MB
    )
    assert DEFAULT_LIMIT <= 256 * 1024


@pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "admin"])
@pytest.mark.parametrize("path", [DRAFTS, ANSWER, "/load", "/load/apply", "/users", "/login"])
def test_a_declared_length_over_the_limit_is_refused_unread(
    app: FastAPI, path: str, signed_in: bool
) -> None:
    read: list[int] = []

    def body() -> Iterator[bytes]:  # what the server pulls of the body is counted here
        for chunk in chunks(HUGE):
            read.append(len(chunk))
            yield chunk

    with TestClient(app) as client:
        if signed_in:
            sign_in(client)
        headers = MULTIPART | {"content-length": str(HUGE)}
        response = client.post(path, content=body(), headers=headers, follow_redirects=False)
    assert response.status_code == 413, response.text[:300]
    assert_headers(response, path)
    assert response.headers["connection"] == "close"
    assert "For mye data" in response.text and "Ingenting er lagret" in response.text
    assert sum(read) <= MB  # the client's first chunk at most: the server read none of it
    assert count(app, Document) == 0


@pytest.mark.parametrize("path", [DRAFTS, ANSWER, "/load", "/users"])
def test_a_body_without_a_length_is_refused_past_the_limit(app: FastAPI, path: str) -> None:
    # The test client hands the app the whole body at once; how little of a streamed body is
    # read is measured over real HTTP below.
    with TestClient(app) as client:
        csrf = sign_in(client)
        response = client.post(
            f"{path}?csrf_token={csrf}",
            content=chunks(HUGE),
            headers=MULTIPART,
            follow_redirects=False,
        )
    assert response.status_code == 413, response.text[:300]
    assert_headers(response, path)
    assert count(app, Document) == count(app, Answer) == 0


def test_the_participant_is_refused_in_their_own_language(app: FastAPI) -> None:
    with session_scope(app.state.engine) as session:
        definition = get_definition(session, SEED_ID)
        token = issue(
            session,
            definition,
            step_id="innspill-retningslinjer",
            participant_id="bergen-sekretariat",
            purpose=TokenPurpose.FORM,
            secret=app.state.settings.resolved_secret_key(),
            now=oslo(2020, 3, 30, 9),
        )
    with TestClient(app) as client:
        headers = MULTIPART | {"content-length": str(HUGE)}
        response = client.post(f"/svar/{token}", content=b"", headers=headers)
        assert response.status_code == 413
        assert '<html lang="nn">' in response.text
        assert "Innspelet er for stort" in response.text and "Ingenting vart lagra" in response.text
        assert response.headers["referrer-policy"] == "no-referrer"  # the form's own headers
        # Streamed without a length: cut off after the form's 101 MB, in nynorsk as well.
        streamed = client.post(f"/svar/{token}", content=chunks(HUGE), headers=MULTIPART)
        assert streamed.status_code == 413 and "Innspelet er for stort" in streamed.text
        # A token that opens nothing: the same 413, in bokmål.
        unknown = client.post(f"/svar/{'a' * 43}", content=b"", headers=headers)
        assert unknown.status_code == 413 and "Innspillet er for stort" in unknown.text
    assert count(app, Answer) == 0


# --- over real HTTP: `innspill dashboard` in its own process ------------------------------


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    tmp: Path  # the server's TMPDIR

    def temp_bytes(self) -> int:
        """Bytes in the server's open temporary files (also unnamed ones: O_TMPFILE)."""
        total = 0
        fds = Path(f"/proc/{self.process.pid}/fd")
        for fd in fds.iterdir():
            try:
                if os.readlink(fd).startswith(str(self.tmp)):
                    total += os.stat(fd).st_size
            except OSError:  # closed in between
                continue
        return total


@pytest.fixture(scope="module")
def server(
    database: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    url, tmp = database
    server_tmp = tmp_path_factory.mktemp("server-tmp")
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("INNSPILL_")}
    env = base | {
        "INNSPILL_DATABASE_URL": url,
        "INNSPILL_DATA_DIR": str(tmp / "data"),
        "TMPDIR": str(server_tmp),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "innspill.cli", "dashboard", "--port", str(port)],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.2)
    yield Server(port, process, server_tmp)
    process.terminate()
    process.wait(timeout=30)


@dataclass
class Sent:
    status: int
    headers: dict[str, str]
    sent: int  # body bytes the client got to send before the answer came
    peak_temp: int  # the most the server held in temporary files meanwhile


def post_raw(
    server: Server, path: str, *, declared: bool, cookie: str = "", total: int = HUGE
) -> Sent:
    """POST `total` bytes of a multipart body as a client that keeps sending until the server
    answers: with `Content-Length`, or chunked."""
    peak = 0
    watching = True

    def watch() -> None:
        nonlocal peak
        while watching:
            peak = max(peak, server.temp_bytes())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", MULTIPART_HEADER]
    head.append(f"Content-Length: {total}" if declared else "Transfer-Encoding: chunked")
    if cookie:
        head.append(f"Cookie: {cookie}")
    sent = 0
    piece = b"%" * (256 * 1024)
    preamble = next(chunks(0))  # a file part that begins and never ends
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            while sent < total:
                if select.select([sock], [], [], 0)[0]:
                    break  # the answer is there: a real client stops sending too
                data = piece if sent else preamble + piece[len(preamble) :]
                framed = data if declared else b"%x\r\n%s\r\n" % (len(data), data)
                sock.sendall(framed)
                sent += len(piece)
            if not declared and sent >= total:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection: the answer has been sent before that
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    watching = False
    watcher.join()
    status_line, *lines = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return Sent(int(status_line.split()[1]), headers, sent, peak)


MULTIPART_HEADER = "Content-Type: multipart/form-data; boundary=grense"


def session_cookie(server: Server) -> str:
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
        sign_in(client)
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


@pytest.mark.parametrize("path", [DRAFTS, "/users"])
def test_150_mb_without_a_session_leaves_the_temp_folder_alone(server: Server, path: str) -> None:
    declared = post_raw(server, path, declared=True)
    assert declared.status == 413
    assert declared.peak_temp == 0
    assert declared.sent < 20 * MB  # what the socket buffers took before the answer came
    chunked = post_raw(server, path, declared=False)
    # Without a length, the sign-in check comes first: nothing is read, nobody spools.
    assert chunked.status in (303, 413), chunked
    assert chunked.peak_temp == 0
    assert chunked.sent < 20 * MB
    for answer in (declared, chunked):
        assert "server" not in answer.headers
        assert answer.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("path", "limit"), [(DRAFTS, 20 * MB), (ANSWER, 101 * MB), ("/load", 15 * MB)]
)
def test_150_mb_with_a_session_is_refused_alike(server: Server, path: str, limit: int) -> None:
    cookie = session_cookie(server)
    declared = post_raw(server, path, declared=True, cookie=cookie)
    assert declared.status == 413 and declared.peak_temp == 0
    assert declared.sent < 20 * MB
    chunked = post_raw(server, path, declared=False, cookie=cookie)
    assert chunked.status == 413
    # Signed in, the upload is read up to the route's limit (what the socket buffers hold
    # comes on top of that), spooled to a temporary file as it comes, and dropped.
    assert limit <= chunked.sent < limit + 20 * MB
    assert chunked.peak_temp <= limit + MB
    deadline = time.monotonic() + 10  # the server closes its temporary file as it answers
    while server.temp_bytes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.temp_bytes() == 0
    print(
        f"{path}: sent {declared.sent / MB:.1f} MB with a length, {chunked.sent / MB:.1f} MB "
        f"chunked; server temp peak {chunked.peak_temp / MB:.1f} MB"
    )


def test_no_server_header(server: Server) -> None:
    response = httpx.get(f"http://127.0.0.1:{server.port}/healthz")
    assert response.status_code == 200
    assert "server" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
