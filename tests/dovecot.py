"""A throwaway Dovecot IMAP server on a free loopback port, and a pytest fixture for it.

Other test modules use it with `from tests.dovecot import dovecot_server, dovecot_session`:
the fixture is then called `dovecot` (one server per session, a fresh mailbox per test).
"""

from __future__ import annotations

import contextlib
import copy
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from tests.smtp_sink import free_port
from tests.tls_ca import TlsAuthority

INSTALL = "apt-get install dovecot-imapd"

CONFIG = """\
# Written by tests/dovecot.py: one static user, plain login on loopback, maildirs in {root}.
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
{ssl}
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{root}/mail/%u
{users}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
"""


def need_dovecot() -> None:
    """Fail in CI, skip elsewhere, when Dovecot is not installed."""
    missing = [name for name in ("dovecot", "doveadm") if shutil.which(name) is None]
    if missing:
        message = f"{' and '.join(missing)} not found: install Dovecot ({INSTALL})"
        from tests.conftest import IN_CI

        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


class Dovecot:
    """Starts Dovecot with its own config, mail, state and log in a temp dir; stops it on exit.

    Any user name logs in with `password` (a static passdb); each gets its own maildir.
    With `tls` (a TlsAuthority), TLS is required as in production: implicit TLS on `tls_port`, and
    STARTTLS before any login on `port`.
    """

    def __init__(
        self,
        user: str = "innspill",
        password: str = "test-password",
        tls: TlsAuthority | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls = tls
        self.tls_port = free_port() if tls else 0
        self.user = user
        self.password = password
        self.root = Path(tempfile.mkdtemp(prefix="innspill-dovecot-"))
        self.conf = self.root / "dovecot.conf"

    def __enter__(self) -> Dovecot:
        # The mail processes run as an unprivileged user (Dovecot refuses uid 0): it must be
        # able to reach the maildirs, so the temp dir is opened up (it holds no secrets).
        self.root.chmod(0o755)
        mail = self.root / "mail"
        mail.mkdir()
        if os.geteuid() == 0:
            uid, gid, users = "nobody", "nogroup", ""
            shutil.chown(mail, "nobody", "nogroup")
        else:  # run entirely as the current user
            me = pwd.getpwuid(os.geteuid()).pw_name
            uid, gid = str(os.geteuid()), str(os.getegid())
            users = f"default_internal_user = {me}\ndefault_login_user = {me}\n"
        self.conf.write_text(
            CONFIG.format(
                root=self.root,
                users=users,
                password=self.password,
                uid=uid,
                gid=gid,
                port=self.port,
                tls_port=self.tls_port,
                ssl=self._ssl_config(),
            ),
            encoding="utf-8",
        )
        # The daemon keeps the streams it inherits: a file, not a pipe we would wait on.
        errors = self.root / "start.err"
        try:
            with errors.open("wb") as err:
                started = subprocess.run(
                    ["dovecot", "-c", str(self.conf)],
                    stdin=subprocess.DEVNULL,
                    stdout=err,
                    stderr=err,
                    timeout=30,
                    check=False,
                )
            if started.returncode != 0:
                raise RuntimeError(
                    f"dovecot did not start (exit {started.returncode}): "
                    f"{errors.read_text(errors='replace')}\n{self.log()}"
                )
            self._wait_until_listening()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _ssl_config(self) -> str:
        if self.tls is None:
            return "ssl = no\ndisable_plaintext_auth = no"
        return (
            "ssl = required\ndisable_plaintext_auth = yes\n"
            f"ssl_cert = <{self.tls.cert_file}\nssl_key = <{self.tls.key_file}"
        )

    def _wait_until_listening(self, seconds: float = 15.0) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"dovecot is not listening on {self.host}:{self.port}\n{self.log()}"
                    ) from None
                time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        try:
            self._stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _stop(self) -> None:
        pid = self._master_pid()
        if pid is None:
            return
        subprocess.run(
            ["doveadm", "-c", str(self.conf), "stop"], capture_output=True, timeout=30, check=False
        )
        if not _wait_gone(pid, 10.0):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # the master only: its children follow it out
            _wait_gone(pid, 5.0)

    def _master_pid(self) -> int | None:
        try:
            return int((self.root / "run" / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def log(self) -> str:
        """Dovecot's own log, for a failure's message."""
        try:
            return (self.root / "dovecot.log").read_text(errors="replace")
        except OSError:
            return "(no dovecot log)"

    def imap_settings(self, **overrides: Any) -> dict[str, Any]:
        """Settings fields that point innspill at this server (implicit TLS if it has TLS)."""
        values: dict[str, Any] = {
            "imap_host": self.host,
            "imap_port": self.tls_port if self.tls else self.port,
            "imap_tls": "tls" if self.tls else "none",
            "imap_username": self.user,
            "imap_password": self.password,
            "imap_folder": "INBOX",
            "imap_timeout": 5,
        }
        values.update(overrides)
        return values

    @contextlib.contextmanager
    def client(self) -> Iterator[IMAPClient]:
        """A logged-in connection of our own, to set up and inspect the mailbox."""
        if self.tls is None:
            client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        else:
            client = IMAPClient(
                self.host,
                port=self.tls_port,
                ssl=True,
                ssl_context=self.tls.client_context(),
                timeout=10,
            )
        try:
            client.login(self.user, self.password)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(self, raw: bytes, folder: str = "INBOX", flags: Iterable[str] = ()) -> int:
        """Store one message; returns its UID."""
        return self.append_all([raw], folder, flags)[0]

    def append_all(
        self, raws: Iterable[bytes], folder: str = "INBOX", flags: Iterable[str] = ()
    ) -> list[int]:
        """Store messages over one connection, in order; returns their UIDs."""
        uids = []
        with self.client() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in raws:
                answer = client.append(folder, raw, flags=tuple(flags))
                # b"[APPENDUID <validity> <uid>] Append completed."
                uids.append(int(answer.split(b"]")[0].split()[2]))
        return uids

    def messages(self, folder: str = "INBOX") -> list[tuple[int, tuple[str, ...]]]:
        """(uid, flags) of every message in the folder, in UID order."""
        with self.client() as client:
            client.select_folder(folder, readonly=True)
            flags = client.get_flags(client.search(["ALL"]))
        return [
            (uid, tuple(f.decode() if isinstance(f, bytes) else f for f in flags[uid]))
            for uid in sorted(flags)
        ]

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.client() as client:
            return int(client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        time.sleep(0.02)
    return False


@pytest.fixture(scope="session")
def dovecot_session() -> Iterator[Dovecot]:
    """One Dovecot for the session: stopping one takes Dovecot about 2.5 s."""
    need_dovecot()
    with Dovecot() as server:
        yield server


@pytest.fixture(name="dovecot")
def dovecot_server(dovecot_session: Dovecot) -> Dovecot:
    """A real IMAP server (Dovecot) with a mailbox of this test's own, empty.

    Any user name logs in on the shared server, each to its own maildir: a fresh one per test.
    """
    mailbox = copy.copy(dovecot_session)
    mailbox.user = f"user-{uuid.uuid4().hex[:12]}"
    return mailbox


@pytest.fixture(scope="module", name="dovecot_tls")
def dovecot_tls_fixture(authority: TlsAuthority) -> Iterator[Dovecot]:
    """Dovecot requiring TLS, with a certificate from the module's test CA (`authority`)."""
    need_dovecot()
    with Dovecot(tls=authority) as server:
        yield server
