"""The `archive` commands: archival copies (PDF/A) of letters, answers and documents."""

from __future__ import annotations

from typing import Annotated

import typer

from innspill.cli.common import AtOption, app, get_settings, instant, open_engine, wall_clock

#: How many copies `archive convert` makes when neither --limit nor INNSPILL_ARCHIVE_BATCH says.
DEFAULT_LIMIT = 100

archive_app = typer.Typer(
    help="The round on the record: archival copies (PDF/A-2b) of every letter, answer and "
    "document.",
    no_args_is_help=True,
)
app.add_typer(archive_app, name="archive")


@archive_app.command()
def convert(
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=1,
            help="Make at most this many copies (default: INNSPILL_ARCHIVE_BATCH, or 100 when "
            "that is 0).",
        ),
    ] = None,
    retry_failed: Annotated[
        bool,
        typer.Option("--retry-failed", help="Try again the conversions that failed (after a fix)."),
    ] = False,
    process: Annotated[
        str | None, typer.Option("--process", help="Only this process's records.")
    ] = None,
    at: AtOption = None,
) -> None:
    """Make the archival copies that are missing: each sent letter and each answer as a PDF/A
    page, the compilation from its HTML, DOCX and ODT through LibreOffice, a PDF that is not
    PDF/A through Ghostscript. The served tick (`innspill serve`) does the same after sending, a
    batch at a time; `innspill tick` does not, so run this after it where ticks come from cron.
    A conversion that fails is recorded with why, shown by `innspill status`, and not tried
    again until --retry-failed."""
    from innspill.archival.convert import convert_pending
    from innspill.archival.office import Tools

    s = get_settings()
    report = convert_pending(
        open_engine(),
        now=instant(at),
        clock=wall_clock,
        limit=limit or s.archive_batch or DEFAULT_LIMIT,
        tools=Tools.from_settings(s),
        retry_failed=retry_failed,
        process_id=process,
    )
    typer.echo(f"Archival copies made: {report.made}; failed: {len(report.failed)}.")
    for line in report.failed:
        typer.secho(f"  FAILED: {line}", fg=typer.colors.RED)
    if report.lost:
        typer.echo(f"  {report.lost} taken over by another conversion running at the same time.")
    if report.failed:
        typer.echo("  When the cause is fixed: innspill archive convert --retry-failed")
        raise typer.Exit(1)
