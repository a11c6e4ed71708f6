"""Commands for incoming mail: fetch it from the mailbox, and see and sort the holding queue."""

from __future__ import annotations

from typing import Annotated

import typer

from innspill.cli.common import AtOption, app, fail, get_settings, instant, open_engine
from innspill.errors import InnspillError

inbox_app = typer.Typer(
    help="Incoming mail that is not (yet) an answer: auto-replies, unknown senders, bounces.",
    no_args_is_help=True,
)
app.add_typer(inbox_app, name="inbox")


@app.command("fetch-mail")
def fetch_mail(
    limit: Annotated[int | None, typer.Option(help="At most this many messages.")] = None,
    at: AtOption = None,
) -> None:
    """Read new mail from the IMAP mailbox (INNSPILL_IMAP_*) and import it.

    Answers are matched by token; calendar replies to a meeting invitation are recorded for
    the participant; what cannot be read or matched is held for a person.

    Each message is kept and marked done on the server once stored, so nothing is imported
    twice; one that fails stays for the next run. The next tick sends the receipts.
    """
    from innspill.inbound.fetching import fetch_into
    from innspill.inbound.mailbox import MailboxError, source_name

    settings = get_settings()
    if not settings.imap_host:
        raise fail("No mailbox is configured: set INNSPILL_IMAP_HOST (see docs/deploying.md).")
    engine, now = open_engine(), instant(at)
    source = source_name(settings)
    try:
        report, counts = fetch_into(engine, settings, clock=lambda: now, limit=limit)
    except MailboxError as exc:
        raise fail(str(exc)) from None
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no new mail"
    typer.echo(f"{source}: {summary}.")
    for error in report.failed:
        typer.secho(f"  not imported (left for the next run): {error}", fg=typer.colors.YELLOW)
    if counts.get("held"):
        typer.echo("See the held messages with `innspill inbox list`.")


@inbox_app.command("list")
def inbox_list(
    all_: Annotated[
        bool, typer.Option("--all", help="Also answers, calendar replies, bounces and dismissed.")
    ] = False,
) -> None:
    """The holding queue: messages that were not made answers, and why."""
    from innspill.inbound.queue import listing
    from innspill.models.db import session_scope

    with session_scope(open_engine()) as session:
        rows = listing(session, include_all=all_)
    if not rows:
        typer.echo("The holding queue is empty." if not all_ else "No incoming mail yet.")
    for row in rows:
        who = f" -> {row.participant_key} ({row.step_key})" if row.participant_key else ""
        typer.echo(
            f"{row.id:>5}  {row.received_at:%Y-%m-%d %H:%M}  {row.status!s:<9} "
            f"{row.kind:<10} {row.sender[:40]:<40} {row.subject[:50]}{who}"
        )
        if row.reason:
            typer.echo(f"       {row.reason}")


@inbox_app.command("assign")
def inbox_assign(
    message: Annotated[int, typer.Argument(help="The message number from `inbox list`.")],
    process: Annotated[str, typer.Argument(help="Process id.")],
    step: Annotated[str, typer.Argument(help="Request step id.")],
    participant: Annotated[str, typer.Argument(help="Participant id.")],
    confirm: Annotated[
        bool,
        typer.Option(
            "--confirm",
            help="Assign it although it is an auto-reply or a delivery report, or came after "
            "the step closed (refused without).",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only show what it would do; change nothing.")
    ] = False,
    at: AtOption = None,
) -> None:
    """Make a held message that participant's answer (after checking who really sent it).

    First says what it would replace: the participant's answer that counts now (its version,
    when it came and its first lines). A message received before that answer becomes an
    earlier version and the answer still counts: versions count by when they were received,
    never by when they were assigned.
    """
    from innspill.inbound.assignment import AssignRefused, preview
    from innspill.inbound.intake import assign
    from innspill.models import InboundMessage
    from innspill.models.db import session_scope
    from innspill.process.loading import get_definition

    now = instant(at)
    notes: list[str] = []
    try:
        with session_scope(open_engine()) as session:
            row = session.get(InboundMessage, message)
            if row is not None:
                shown = preview(
                    session,
                    row,
                    get_definition(session, process),
                    step_id=step,
                    participant_id=participant,
                    now=now,
                )
                notes = shown.notes
                if dry_run:
                    for line in [*shown.confirm, *notes]:
                        typer.echo(line)
                    typer.echo("(dry run: nothing was changed)")
                    return
            assign(
                session,
                message,
                process_id=process,
                step_id=step,
                participant_id=participant,
                by=get_settings().operator,
                now=now,
                confirm=confirm,
            )
    except AssignRefused as exc:
        for line in notes:
            typer.echo(line)
        raise fail(f"{exc.norwegian} (--confirm)") from None
    except KeyError:
        raise fail(f"'{process}' has no step '{step}'") from None
    except InnspillError as exc:
        raise fail(str(exc)) from None
    for line in notes:
        typer.echo(line)
    typer.echo(f"Message {message} is now the answer of {participant} to {step}.")


@inbox_app.command("dismiss")
def inbox_dismiss(
    message: Annotated[int, typer.Argument(help="The message number from `inbox list`.")],
    at: AtOption = None,
) -> None:
    """Set a held message aside; it is kept, and no longer listed."""
    from innspill.inbound.intake import dismiss
    from innspill.models.db import session_scope

    try:
        with session_scope(open_engine()) as session:
            dismiss(session, message, by=get_settings().operator, now=instant(at))
    except InnspillError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"Message {message} dismissed.")
