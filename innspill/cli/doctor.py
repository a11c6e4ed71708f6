"""`innspill doctor`: check everything the engine needs, one line each, and change nothing."""

from __future__ import annotations

import contextlib
import hmac
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from innspill.cli.common import app, get_settings, safe_url

if TYPE_CHECKING:  # imported lazily at run time, so that --help stays fast
    from sqlalchemy import Engine

    from innspill.config.settings import Settings


@dataclass(frozen=True)
class Check:
    """One check's outcome: ok, or what is wrong and what to do."""

    name: str
    ok: bool
    text: str


@app.command()
def doctor() -> None:
    """Check the database, the secret key, SMTP, IMAP, Prefect and the loaded processes.

    Each line says "ok" or what to fix; nothing is sent or written (except the key file in the
    data folder, made as any command would when INNSPILL_SECRET_KEY is unset).
    Exit status 1 if any check fails.
    """
    checks = run_checks(get_settings())
    width = max(len(c.name) for c in checks)
    for check in checks:
        status = "ok  " if check.ok else "FAIL"
        typer.secho(
            f"{status}  {check.name:<{width}}  {check.text}",
            fg=None if check.ok else typer.colors.RED,
        )
    failed = [c.name for c in checks if not c.ok]
    if failed:
        typer.echo(f"{len(failed)} check(s) failed: {', '.join(failed)}.")
        raise typer.Exit(1)
    typer.echo("All checks passed.")


def run_checks(settings: Settings) -> list[Check]:
    """Every check in order; a failing one never stops the others."""
    from innspill.models.db import make_engine

    engine = make_engine(
        settings.resolved_database_url, lock_timeout=settings.database_lock_timeout
    )
    try:
        database = _guard("database", lambda: _database(settings, engine))
        checks = [database]
        if database.ok:
            checks.append(_guard("secret key", lambda: _key(settings, engine)))
            checks.append(_guard("processes", lambda: _processes(engine)))
        else:
            checks.append(Check("secret key", False, "not checked: the database is not usable"))
            checks.append(Check("processes", False, "not checked: the database is not usable"))
    finally:
        engine.dispose()
    checks.append(_guard("smtp", lambda: _smtp(settings)))
    checks.append(_guard("imap", lambda: _imap(settings)))
    checks.append(_guard("prefect", lambda: _prefect(settings)))
    checks.append(_guard("archive", lambda: _archive(settings)))
    return checks


def _archive(settings: Settings) -> Check:
    """The converters the archival copies need (docs/archive.md): found on this machine."""
    import shutil

    found: list[str] = []
    missing: list[str] = []
    for name, program in (
        ("LibreOffice", settings.archive_soffice),
        ("Ghostscript", settings.archive_ghostscript),
    ):
        where = shutil.which(program)
        (found if where else missing).append(f"{name} {where or program}")
    if missing:
        return Check(
            "archive",
            False,
            f"not found: {', '.join(missing)}; archival copies that need them fail until it is "
            "installed (see docs/deploying.md)",
        )
    return Check("archive", True, f"converters found: {', '.join(found)}")


def _guard(name: str, check: Callable[[], Check]) -> Check:
    from innspill.cli.common import explain

    try:
        return check()
    except Exception as exc:
        message = explain(exc)
        if message is None:
            message = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        return Check(name, False, message)


def _database(settings: Settings, engine: Engine) -> Check:
    from innspill.models.db import check_known, current_revision, head_revision

    where = safe_url(settings.resolved_database_url)
    revision = current_revision(engine)
    head = head_revision()
    if revision is None:
        return Check("database", False, f"{where}: no schema yet; run `innspill init`")
    check_known(revision)
    if revision != head:
        return Check(
            "database",
            False,
            f"{where}: schema {revision}, this innspill needs {head}; run `innspill init`",
        )
    return Check("database", True, f"{where}: schema {revision} (current)")


def _key(settings: Settings, engine: Engine) -> Check:
    from innspill.keys import fingerprint, recorded

    source = "INNSPILL_SECRET_KEY" if settings.secret_key else f"{settings.secret_key_file}"
    known = recorded(engine)
    if known is None:
        return Check(
            "secret key", True, f"{source}; none recorded yet (the next command records it)"
        )
    if not hmac.compare_digest(known, fingerprint(settings.resolved_secret_key())):
        return Check(
            "secret key",
            False,
            f"{source} differs from the key the database was set up with: set "
            "INNSPILL_SECRET_KEY to the same value on every machine",
        )
    return Check("secret key", True, f"{source} matches the database's")


def _processes(engine: Engine) -> Check:
    from pydantic import ValidationError
    from sqlmodel import Session, select

    from innspill.errors import DefinitionError
    from innspill.models import Process
    from innspill.process.definition import (
        ProcessDefinition,
        definition_hash,
        load_definition,
    )

    with Session(engine) as session:
        rows = session.exec(select(Process).order_by(Process.id)).all()
    if not rows:
        return Check("processes", True, "none loaded (`innspill load FILE`)")
    problems: list[str] = []
    notes: list[str] = []
    for row in rows:
        try:
            stored = ProcessDefinition.model_validate_json(row.definition_json)
        except ValidationError as exc:
            problems.append(
                f"{row.id}: the stored definition no longer validates "
                f"({exc.error_count()} problem(s)); load its file again"
            )
            continue
        path = Path(row.source_path)
        if not path.is_file():
            notes.append(f"{row.id} (its file {path} is not here)")
            continue
        try:
            current = load_definition(path)
        except DefinitionError as exc:
            problems.append(
                f"{row.id}: its file {path} has {len(exc.problems)} problem(s); "
                f"run `innspill validate {path}`"
            )
            continue
        if definition_hash(current) != definition_hash(stored):
            notes.append(
                f"{row.id} (its file changed since loading; `innspill load {path}` applies it)"
            )
        else:
            notes.append(row.id)
    if problems:
        return Check("processes", False, "; ".join(problems))
    return Check("processes", True, f"{len(rows)} loaded, valid: {', '.join(notes)}")


def _smtp(settings: Settings) -> Check:
    import aiosmtplib

    from innspill.outbound.transport import SmtpTransport

    if not settings.smtp_host:
        return Check("smtp", True, f"not set: mail is captured in {settings.capture_dir}")
    transport = SmtpTransport(settings)
    where = f"{transport.host}:{transport.port} ({settings.smtp_tls.value})"
    steps = ["connected"]
    if settings.smtp_tls != "none":
        steps.append("TLS")
    if settings.smtp_username:
        steps.append(f"AUTH as {settings.smtp_username}")

    async def probe() -> None:
        # The transport's own client: the same TLS and login a send would do, and no mail.
        client = transport._client()
        await client.connect()
        try:
            if client.is_ehlo_or_helo_needed:
                # an old relay without EHLO: HELO, one command at a time
                with contextlib.suppress(aiosmtplib.SMTPHeloError):
                    await client.ehlo()
            if not settings.smtp_pipelining:
                steps.append("pipelining off (INNSPILL_SMTP_PIPELINING)")
            elif client.supports_extension("pipelining"):
                steps.append("pipelining")
            else:
                steps.append("one command at a time (the relay does not announce PIPELINING)")
            await client.noop()
        finally:
            await client.quit()

    import asyncio

    try:
        asyncio.run(probe())
    except aiosmtplib.SMTPAuthenticationError as exc:
        return Check(
            "smtp",
            False,
            f"{where}: login as {settings.smtp_username!r} refused ({exc.code} {exc.message}); "
            "check INNSPILL_SMTP_USERNAME and INNSPILL_SMTP_PASSWORD",
        )
    except ssl.SSLError as exc:
        return Check("smtp", False, f"{where}: TLS failed: {exc}; {_TLS_HINT}")
    except (aiosmtplib.SMTPException, OSError) as exc:
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        return Check(
            "smtp",
            False,
            f"{where}: {text}; check INNSPILL_SMTP_HOST, INNSPILL_SMTP_PORT and INNSPILL_SMTP_TLS",
        )
    return Check("smtp", True, f"{where}: {', '.join(steps)}, NOOP answered; nothing sent")


_TLS_HINT = (
    "check INNSPILL_SMTP_TLS/INNSPILL_IMAP_TLS and the port; for a certificate from a private CA, "
    "set SSL_CERT_FILE to its bundle"
)


def _imap(settings: Settings) -> Check:
    from innspill.inbound.mailbox import MailboxError, _connected, _where

    if not settings.imap_host:
        return Check("imap", True, "not set: replies are not read (`fetch-mail` is off)")
    where = _where(settings)
    try:
        with _connected(settings) as client:
            exists = client.folder_exists(settings.imap_folder)
    except MailboxError as exc:
        return Check("imap", False, f"{exc}; check INNSPILL_IMAP_*")
    if not exists:
        return Check("imap", False, f"{where}: no such folder; check INNSPILL_IMAP_FOLDER")
    return Check("imap", True, f"{where}: logged in as {settings.imap_username!r}, folder exists")


def _prefect(settings: Settings) -> Check:
    import httpx

    if not settings.prefect_api_url:
        return Check(
            "prefect",
            True,
            "PREFECT_API_URL is unset: commands start a temporary local server (set it for "
            "`innspill serve` and to see runs in a Prefect UI)",
        )
    url = settings.prefect_api_url.rstrip("/") + "/health"
    try:
        answer = httpx.get(url, timeout=5.0)
    except httpx.HTTPError as exc:
        return Check(
            "prefect",
            False,
            f"{url}: {type(exc).__name__}: {exc}; start the Prefect server "
            "or correct PREFECT_API_URL",
        )
    if answer.status_code != 200:
        return Check(
            "prefect", False, f"{url}: HTTP {answer.status_code}; is PREFECT_API_URL a Prefect API?"
        )
    return Check("prefect", True, f"{settings.prefect_api_url}: reachable (health ok)")
