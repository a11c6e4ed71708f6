"""A test certificate authority (trustme) and the TLS contexts and files made from it."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


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
