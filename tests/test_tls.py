"""The production mail paths: SMTP with STARTTLS, implicit TLS and AUTH, IMAP over TLS.

The servers are real (aiosmtpd, Dovecot with `ssl = required`) with certificates from a test
CA (trustme); the command runs as a separate process that trusts that CA through
SSL_CERT_FILE, as an operator with a private CA would configure it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SEED
from tests.dovecot import Dovecot, dovecot_tls_fixture  # noqa: F401  (fixture dovecot_tls)
from tests.subprocess_cli import one_line_error, run_innspill
from tests.tls_ca import (  # noqa: F401  (fixture authority)
    PASSWORD,
    USER,
    TlsAuthority,
    authority_fixture,
    smtp_server,
)

# aiosmtpd warns about AUTH without its STARTTLS flag; with implicit TLS that flag cannot apply.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _env(tmp_path: Path, authority: TlsAuthority, **settings: Any) -> dict[str, str]:
    env = {
        "INNSPILL_DATA_DIR": str(tmp_path / "data"),
        "INNSPILL_SMTP_TIMEOUT": "10",
        "SSL_CERT_FILE": str(authority.ca_file),
    }
    env.update({f"INNSPILL_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def _queued(tmp_path: Path, env: dict[str, str]) -> int:
    """Load the seed and queue its invitations (not sent); how many mails wait: the tick
    counts invitations, and the two of each secretariat go out as one mail."""
    loaded = run_innspill("load", str(SEED), "--at", "2020-03-30T08:00", env=env, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    ticked = run_innspill("tick", "--no-send", "--at", "2020-03-30T09:00", env=env, cwd=tmp_path)
    assert ticked.returncode == 0, ticked.stderr
    count = int(ticked.stdout.strip().splitlines()[-1].split()[0])
    assert count == 18  # nine secretariats, two request steps
    return count // 2


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_mail_goes_out_encrypted_and_logged_in(tmp_path, authority, mode):
    with smtp_server(authority, mode) as (port, recorder):
        env = _env(
            tmp_path,
            authority,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_tls=mode,
            smtp_username=USER,
            smtp_password=PASSWORD,
        )
        queued = _queued(tmp_path, env)
        sent = run_innspill("send", "--at", "2020-03-30T09:00", env=env, cwd=tmp_path)
        assert sent.returncode == 0, sent.stderr
        assert f"{queued} sent, 0 deferred, 0 failed" in sent.stdout
    assert len(recorder.sessions) == queued
    assert all(s.tls and s.authenticated for s in recorder.sessions)


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_a_wrong_smtp_password_is_one_line_and_keeps_the_mail(tmp_path, authority, mode):
    with smtp_server(authority, mode) as (port, recorder):
        env = _env(
            tmp_path,
            authority,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_tls=mode,
            smtp_username=USER,
            smtp_password="not-the-password",
        )
        queued = _queued(tmp_path, env)
        sent = run_innspill("send", "--at", "2020-03-30T09:00", env=env, cwd=tmp_path)
        error = one_line_error(sent)
        assert "535" in error and "INNSPILL_SMTP" in error, error
        assert "refused the login" in error and "INNSPILL_SMTP_PASSWORD" in error, error
        # The summary accounts for every message claimed: one tried, the rest given back.
        summary = (
            f"0 sent, 1 deferred, 0 failed, {queued - 1} given back untried of {queued} claimed"
        )
        assert summary in sent.stdout
        # The right password later sends all of them: nothing was lost.
        env["INNSPILL_SMTP_PASSWORD"] = PASSWORD
        again = run_innspill("send", "--at", "2020-03-30T10:00", env=env, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
    assert len(recorder.sessions) == queued


def test_a_certificate_from_an_unknown_ca_is_refused(tmp_path, authority):
    with smtp_server(authority, "tls") as (port, recorder):
        env = _env(
            tmp_path,
            authority,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_tls="tls",
            smtp_username=USER,
            smtp_password=PASSWORD,
        )
        _queued(tmp_path, env)
        del env["SSL_CERT_FILE"]  # the system's CAs do not know the test CA
        sent = run_innspill("send", "--at", "2020-03-30T09:00", env=env, cwd=tmp_path)
        assert "CERTIFICATE_VERIFY_FAILED" in one_line_error(sent)
    assert recorder.sessions == []


def _reply(to: str) -> bytes:
    return (
        f"From: someone@example.org\r\nTo: {to}\r\nSubject: Svar\r\n"
        "Message-ID: <svar-1@example.org>\r\nDate: Mon, 6 Apr 2020 10:00:00 +0200\r\n\r\n"
        "Her er svaret.\r\n"
    ).encode()


@pytest.mark.parametrize("mode", ["tls", "starttls"])
def test_mail_is_read_over_imap_with_tls(tmp_path, authority, dovecot_tls, mode):
    mailbox = Dovecot.__new__(Dovecot)
    mailbox.__dict__.update(dovecot_tls.__dict__, user=f"user-{mode}")
    uid = mailbox.append(_reply("innspill@etat.example"))
    port = dovecot_tls.tls_port if mode == "tls" else dovecot_tls.port
    env = _env(
        tmp_path,
        authority,
        imap_host="127.0.0.1",
        imap_port=port,
        imap_tls=mode,
        imap_username=mailbox.user,
        imap_password=mailbox.password,
        imap_timeout=10,
    )
    fetched = run_innspill("fetch-mail", "--at", "2020-04-06T10:00", env=env, cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    assert "1 held" in fetched.stdout, fetched.stdout  # no token: held, but read and kept
    assert mailbox.messages() == [(uid, ("$InnspillDone",))]


def test_a_wrong_imap_password_is_one_line(tmp_path, authority, dovecot_tls):
    env = _env(
        tmp_path,
        authority,
        imap_host="127.0.0.1",
        imap_port=dovecot_tls.tls_port,
        imap_tls="tls",
        imap_username="someone",
        imap_password="not-the-password",
    )
    fetched = run_innspill("fetch-mail", env=env, cwd=tmp_path)
    error = one_line_error(fetched)
    assert "login as 'someone' refused" in error, error
