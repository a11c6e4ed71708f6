"""What every command shares: the app, the clock boundary, the database, error exits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.core import Context as ClickContext
from typer.core import TyperGroup

if TYPE_CHECKING:  # imported when a command runs: `innspill --help` starts in a fraction
    # of a second without SQLAlchemy, pydantic-settings and the rest (tests/test_cli_start.py)
    from sqlalchemy import Engine

    from innspill.config.settings import Settings


class Commands(TyperGroup):
    """The app's command group: turns the errors an operator can fix into one line each.

    This is the one place where exceptions meet the terminal: domain code raises typed
    exceptions (innspill.errors), and anything else keeps its traceback (it is a bug).
    """

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:  # typer's own Exit and usage errors are not explained: re-raised
            message = explain(exc)
            if message is None or ctx.find_root().params.get("debug"):
                raise
            typer.secho(message, err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from None


def get_settings() -> Settings:
    """The settings (one object, read once): pydantic-settings is imported on first use."""
    from innspill.config.settings import get_settings as settings

    return settings()


def explain(exc: BaseException) -> str | None:
    """One line saying what failed and what to do, or None for an unexpected error (a bug)."""
    import ssl

    from sqlalchemy.exc import DBAPIError

    from innspill.errors import InnspillError
    from innspill.models.db import database_error

    if isinstance(exc, InnspillError):
        return str(exc)
    if isinstance(exc, DBAPIError):
        settings = get_settings()
        return str(
            database_error(
                exc, settings.resolved_database_url, lock_timeout=settings.database_lock_timeout
            )
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc}; for a certificate from a private CA, set SSL_CERT_FILE"
    if isinstance(exc, OSError):  # files and sockets: the message names what and where
        return str(exc) or type(exc).__name__
    return None


app = typer.Typer(
    cls=Commands,
    help="innspill: run consultation processes (invitations, reminders, answers) from process "
    "files. Settings come from INNSPILL_* environment variables or .env "
    "(see docs/configuration.md).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the full traceback when a command fails (by default: one line saying "
            "what failed and what to do).",
        ),
    ] = False,
) -> None:
    """Options for every command (the app's help text is the Typer's own, above)."""


AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Act as if it were this time (ISO 8601, Europe/Oslo unless an offset is given), "
        "for example 2020-04-20T09:00. Default: now.",
    ),
]


def wall_clock() -> datetime:
    """The one place the CLI reads the clock; domain code gets `now` passed in."""
    return datetime.now(UTC)


def instant(at: str | None) -> datetime:
    """The time a command acts at: `--at`, or now."""
    from innspill.process.timeparse import parse_instant

    return parse_instant(at) if at else wall_clock()


def open_engine() -> Engine:
    """The database, migrated to the newest schema, after checking this machine's key.

    Every command that touches the database comes through here: the first records the key's
    fingerprint, and a machine with another key refuses to go on (SecretKeyMismatch).
    """
    from innspill.keys import ensure_key
    from innspill.models.db import make_engine, migrate

    settings = get_settings()
    url = settings.resolved_database_url
    migrate(url, lock_timeout=settings.database_lock_timeout)
    engine = make_engine(url, lock_timeout=settings.database_lock_timeout)
    ensure_key(engine, settings.resolved_secret_key(), now=wall_clock())
    return engine


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
