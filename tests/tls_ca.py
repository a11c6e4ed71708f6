"""A test certificate authority (trustme), and an SMTP server that insists on TLS and AUTH."""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.smtp_sink import free_port

USER, PASSWORD = "innspill", "relay-password-1"


@dataclass(frozen=True)
class TlsAuthority:
    """A CA whose certificate is in `ca_file`, and one server certificate for 127.0.0.1."""

    ca: trustme.CA
    server: trustme.LeafCert
    ca_file: Path  # what SSL_CERT_FILE points at: the clients trust this CA only
    cert_file: Path  # the server's certificate chain
    key_file: Path  # the server's private key

    @classmethod
    def make(cls, folder: Path) -> TlsAuthority:
        folder.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA(organization_name="innspill test CA")
        server = ca.issue_cert("127.0.0.1", "localhost")
        paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
        ca.cert_pem.write_to_path(str(paths[0]))
        paths[1].write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
        server.private_key_pem.write_to_path(str(paths[2]))
        return cls(ca, server, *paths)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@dataclass
class Session:
    """What the server saw of one delivered message's session."""

    tls: bool
    authenticated: bool
    rcpt_tos: list[str]


@dataclass
class TlsRecorder:
    """Records each accepted message with whether its session was encrypted and logged in."""

    sessions: list[Session] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        """PIPELINING announced, as by Postfix: innspill then pipelines inside the TLS session
        (outbound.pipelined takes the encrypted connection over after the login)."""
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.sessions.append(
                Session(
                    server.transport.get_extra_info("ssl_object") is not None,
                    bool(session.authenticated),
                    envelope.rcpt_tos,
                )
            )
        return "250 Message accepted"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    # handled=False: aiosmtpd answers the refusal itself (535).
    return AuthResult(success=ok, handled=False)


@contextlib.contextmanager
def smtp_server(authority: TlsAuthority, mode: str) -> Iterator[tuple[int, TlsRecorder]]:
    """An SMTP server that insists on TLS (STARTTLS or implicit) and on AUTH."""
    recorder = TlsRecorder()
    port = free_port()
    # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; with implicit TLS the whole
    # connection is encrypted, so AUTH is allowed there without that flag.
    tls: dict[str, Any] = (
        {"tls_context": authority.server_context(), "require_starttls": True}
        if mode == "starttls"
        else {"ssl_context": authority.server_context(), "auth_require_tls": False}
    )
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_required=True,
        **tls,
    )
    controller.start()
    try:
        yield port, recorder
    finally:
        controller.stop()


@pytest.fixture(scope="module", name="authority")
def authority_fixture(tmp_path_factory: pytest.TempPathFactory) -> TlsAuthority:
    """A CA for this module's servers (import this fixture where it is used)."""
    return TlsAuthority.make(tmp_path_factory.mktemp("ca"))
