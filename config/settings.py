"""The one settings object: every setting comes from here (environment or .env, INNSPILL_*)."""

from __future__ import annotations

import getpass
import ipaddress
import os
import secrets
import tempfile
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class TlsMode(StrEnum):
    """How to secure the SMTP connection."""

    NONE = "none"  # plain SMTP (a local relay)
    STARTTLS = "starttls"  # upgrade after connecting (usually port 587)
    TLS = "tls"  # implicit TLS from the start (usually port 465)


class Settings(BaseSettings):
    """All configuration. See README, 'Configuration reference'."""

    model_config = SettingsConfigDict(
        env_prefix="INNSPILL_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        Path("data"), description="Where the SQLite database and captured mail live."
    )
    database_url: str | None = Field(
        None, description="Any SQLAlchemy URL; default: SQLite file innspill.db in data_dir."
    )
    database_lock_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds to wait for a SQLite database another process is writing to (and "
        "for a PostgreSQL connection) before giving up with an error.",
    )
    smtp_host: str | None = Field(
        None, description="SMTP relay host. Unset: mail is captured as .eml files in data_dir/mail."
    )
    smtp_port: int | None = Field(None, description="Default 25, 587 with starttls, 465 with tls.")
    smtp_tls: TlsMode = Field(TlsMode.NONE, description="none, starttls or tls.")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout: float = Field(30.0, description="Seconds to wait for the SMTP server.")
    smtp_concurrency: int = Field(8, ge=1, le=64, description="SMTP connections used at once.")
    smtp_pipelining: bool = Field(
        True,
        description="Send MAIL, RCPT and DATA in one write where the relay announces PIPELINING.",
    )
    smtp_max_attempts: int = Field(
        8, ge=1, description="Attempts on temporary (4xx) errors before a message is marked failed."
    )
    smtp_lease_seconds: float = Field(
        300.0,
        gt=0,
        description="How long a sender holds the messages it claimed; a sender that dies leaves "
        "them to another after this.",
    )
    smtp_rate: str | None = Field(
        None,
        description="The relay's pace, shared by every sender: messages per second, minute or "
        "hour, e.g. 30/min (Exchange Online). Unset: as fast as the relay accepts.",
    )
    smtp_daily_limit: int | None = Field(
        None,
        ge=1,
        description="Recipients the relay takes in 24 hours, shared by every sender, e.g. 10000 "
        "(Exchange Online). Unset: no limit.",
    )
    public_url: str | None = Field(
        None,
        description="Where participants reach the dashboard's answer form, e.g. "
        "https://innspill.etat.example. Unset: messages carry no form link.",
    )
    reply_to: str | None = Field(
        None, description="Reply-To address for outgoing mail; default: the process sender's."
    )
    operator: str = Field(
        default_factory=lambda: _login_name(),
        description="Who is recorded as making changes from the command line (default: the login).",
    )
    fetch_cron: str = Field(
        "*/5 * * * *", description="When the served fetch-mail deployment reads the mailbox."
    )
    tick_cron: str = Field(
        "*/15 7-17 * * 1-5", description="When the deployed tick runs (cron, Europe/Oslo)."
    )
    dashboard_host: str = Field(
        "127.0.0.1", description="Where `innspill dashboard` listens (loopback by default)."
    )
    dashboard_port: int = Field(8000, ge=1, le=65535, description="The dashboard's port.")
    secret_key: SecretStr | None = Field(
        None,
        description="Signs the dashboard's session cookies. Unset: one is generated and kept in "
        "data_dir/secret_key (mode 0600).",
    )
    dashboard_secure_cookie: bool = Field(
        False, description="Send the session cookie over HTTPS only (set behind a TLS proxy)."
    )
    dashboard_session_hours: int = Field(
        8, ge=1, le=168, description="How long a dashboard sign-in lasts."
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks (e.g. 127.0.0.1,10.0.0.0/8) of proxies "
        "whose X-Forwarded-For / Forwarded headers the dashboard believes. Empty: never.",
    )
    prefect_ui_url: str | None = Field(
        None, description="The Prefect UI, e.g. http://127.0.0.1:4200: the dashboard links to it."
    )
    prefect_api_url: str | None = Field(
        None,
        validation_alias=AliasChoices("PREFECT_API_URL"),
        description="Prefect's own variable, read here for `innspill doctor` only: Prefect "
        "reads it itself. Unset: commands start a temporary local server.",
    )
    imap_host: str | None = Field(
        None, description="IMAP server that receives participants' replies. Unset: no mailbox."
    )
    imap_port: int | None = Field(
        None, ge=1, le=65535, description="Default 993 with tls, 143 with starttls or none."
    )
    imap_tls: TlsMode = Field(TlsMode.TLS, description="none, starttls or tls.")
    imap_username: str | None = None
    imap_password: SecretStr | None = None
    imap_folder: str = Field("INBOX", description="The folder read for new replies.")
    imap_timeout: float = Field(30.0, gt=0, description="Seconds to wait for the IMAP server.")
    archive_batch: int = Field(
        100,
        ge=0,
        le=10_000,
        description="Archival copies (PDF/A) a served tick makes at most, after sending (0: "
        "none; run `innspill archive convert` instead). Also `archive convert`'s default.",
    )
    archive_soffice: str = Field(
        "soffice", description="LibreOffice's program, which converts DOCX and ODT to PDF/A."
    )
    archive_ghostscript: str = Field(
        "gs", description="Ghostscript's program, which converts a PDF that is not PDF/A."
    )
    archive_timeout: float = Field(
        120.0, gt=0, description="Seconds one conversion (LibreOffice, Ghostscript) may take."
    )

    @field_validator("smtp_rate")
    @classmethod
    def _rate_parses(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            per_second(value)  # refuse a typo at start, not at the first message
            return value.strip()
        return None

    @property
    def smtp_rate_per_second(self) -> float | None:
        """INNSPILL_SMTP_RATE as messages a second (None: unset)."""
        return per_second(self.smtp_rate) if self.smtp_rate else None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        _networks(value)  # refuse a typo at start, not at the first sign-in
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return _networks(self.trusted_proxies)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'innspill.db').resolve()}"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret_key"

    def resolved_secret_key(self) -> str:
        """The key for session cookies and participants' tokens: set, or kept in data_dir.

        The file is made on first use with a random key, readable by its owner only.
        """
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value()
        path = self.secret_key_file
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # Written whole to a private file, then linked into place: link() fails if the
            # key file exists, so of two first runs one key wins, and no process ever reads
            # a file that another is still writing.
            key = secrets.token_urlsafe(48)
            fd, tmp = tempfile.mkstemp(prefix=".secret_key.", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="ascii") as handle:
                    handle.write(key + "\n")
                os.link(tmp, path)
                return key
            except FileExistsError:
                pass  # another process made it first: use theirs
            finally:
                os.unlink(tmp)
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 32:
            raise ValueError(
                f"{path} holds no usable key (fewer than 32 characters); delete it to make a "
                "new one (everyone is signed out and earlier links stop working), or set "
                "INNSPILL_SECRET_KEY"
            )
        return key

    @property
    def capture_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def resolved_smtp_port(self) -> int:
        if self.smtp_port:
            return self.smtp_port
        return {TlsMode.NONE: 25, TlsMode.STARTTLS: 587, TlsMode.TLS: 465}[self.smtp_tls]


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


_PER = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0}
_PER["hour"] = 3600.0


def per_second(rate: str) -> float:
    """'30/min' (or '2/s', '1000/h') as messages a second."""
    count, _, unit = rate.strip().partition("/")
    try:
        number = float(count.replace(",", "").replace("_", "").strip())
    except ValueError:
        number = 0.0
    seconds = _PER.get(unit.strip().lower())
    if seconds is None or not number > 0 or number == float("inf"):
        raise ValueError(
            f"'{rate}' is not a rate; write messages per s, min or h, for example 30/min"
        )
    return number / seconds


def _networks(value: str) -> tuple[IPNetwork, ...]:
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False)
        for part in value.split(",")
        if part.strip()
    )


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return ""


def quiet_prefect() -> None:
    """Prefect's own settings for a local run: no telemetry, warnings only, time to start.

    Set before Prefect is imported (it reads them once); an administrator's values win.
    """
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
