"""The `archive` commands: archival copies (PDF/A) of letters, answers and documents."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from innspill.cli.common import AtOption, app, fail, get_settings, instant, open_engine, wall_clock
from innspill.errors import InnspillError

if TYPE_CHECKING:
    from innspill.noark.writer import FolderSink

#: How many copies `archive convert` makes when neither --limit nor INNSPILL_ARCHIVE_BATCH says.
DEFAULT_LIMIT = 100

archive_app = typer.Typer(
    help="The round on the record: archival copies (PDF/A-2b) of every letter, answer and "
    "document, and the Noark 5 extract of a process.",
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


@archive_app.command("export")
def export_extract(
    process: Annotated[str, typer.Argument(help="Process id.")],
    folder: Annotated[Path, typer.Argument(help="Folder to write the extract to: new, or empty.")],
    partial: Annotated[
        bool,
        typer.Option(
            "--partial",
            help="Export even if steps are open, mail is unsent or documents lack their "
            "archival copy (the extract says so: arkivdel «Aktiv periode», such posts "
            "«Journalført»).",
        ),
    ] = False,
    by: Annotated[
        str, typer.Option("--by", help="Who closes the extract (avsluttetAv).")
    ] = "innspill",
    at: AtOption = None,
) -> None:
    """Write a Noark 5 v5.0 extract (arkivuttrekk) of one process: arkivuttrekk.xml (ADDML),
    arkivstruktur.xml, loependeJournal.xml, offentligJournal.xml, endringslogg.xml, the
    official schemas and the documents under dokumenter/ (docs/archive.md).

    Refused, one line per reason, while the round runs with steps not through (before
    [process] ends), with mail not sent or refused and not sent again, or with documents
    lacking their archival copy (innspill archive convert); --partial exports anyway."""
    from innspill.errors import ExportRefused
    from innspill.models.db import session_scope
    from innspill.noark.writer import FolderSink, export

    step = 1

    def progress(n: int, total: int) -> None:
        nonlocal step
        if n == total or n >= step * max(total // 10, 1):
            typer.echo(f"  documents copied {n}/{total}", err=True)
            step += 1

    try:
        sink = FolderSink(folder)
    except FileExistsError as exc:
        raise fail(str(exc)) from None
    try:
        with session_scope(open_engine()) as session:
            report = export(
                session, process, sink, now=instant(at), by=by, partial=partial, progress=progress
            )
    except ExportRefused as exc:
        typer.secho(str(exc), err=True, fg=typer.colors.RED)
        typer.echo("  Export what there is with --partial, or once these are done.", err=True)
        _remove_if_made(sink)
        raise typer.Exit(1) from None
    except InnspillError as exc:
        _remove_if_made(sink)
        raise fail(str(exc)) from None
    typer.echo(
        f"Extract of {report.process_id} in {folder}: {report.posts} journalposter, "
        f"{report.documents} document files, {report.changes} change(s) logged."
    )
    for reason in report.partial_reasons:
        typer.secho(f"  PARTIAL: {reason}", fg=typer.colors.YELLOW)


def _remove_if_made(sink: FolderSink) -> None:
    """The folder the export made, when nothing was written to it."""
    if sink.created and sink.root.is_dir() and not any(sink.root.iterdir()):
        sink.root.rmdir()
