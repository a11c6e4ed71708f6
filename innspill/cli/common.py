"""What every command shares: the app, the clock boundary, the database, error exits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from innspill.config.settings import get_settings

app = typer.Typer(
    help="innspill: run consultation processes (invitations, reminders, answers) from process "
    "files. Settings come from INNSPILL_* environment variables or .env (see README).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Act as if it were this time (ISO 8601, Europe/Oslo unless an offset is given), "
        "for example 2020-04-20T09:00. Default: now.",
    ),
]


def instant(at: str | None) -> datetime:
    from innspill.process.timeparse import parse_instant

    # The CLI is a boundary where the wall clock enters; domain code gets `now` passed in.
    return parse_instant(at) if at else datetime.now(UTC)


def open_engine():  # type: ignore[no-untyped-def]
    from innspill.models.db import make_engine, migrate

    url = get_settings().resolved_database_url
    migrate(url)
    return make_engine(url)


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
