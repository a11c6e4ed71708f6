"""Commands that plan and send: tick, send, preview, resend a failed message, remind now."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from innspill.cli.common import AtOption, app, fail, get_settings, instant, open_engine, wall_clock
from innspill.errors import InnspillError

if TYPE_CHECKING:  # imported lazily at run time, so that --help stays fast
    from sqlalchemy import Engine

    from innspill.outbound.outbox import DispatchReport
    from innspill.outbound.senders import Held


@app.command()
def tick(
    at: AtOption = None,
    send: Annotated[bool, typer.Option(help="Also send what was queued.")] = True,
) -> None:
    """Plan every loaded process now: queue what is due, then send the outbox."""
    from innspill.engine import tick as run_tick
    from innspill.outbound.compose import Outgoing

    settings = get_settings()
    now = instant(at)
    engine = open_engine()
    report = run_tick(engine, now=now, outgoing=Outgoing.from_settings(settings))
    for action in report.queued:
        typer.echo(f"queued  {action.kind:<17} {action.participant_id} ({action.step_id})")
    for action in report.skipped:
        typer.echo(
            f"skipped {action.kind:<17} {action.participant_id} ({action.step_id}): "
            f"{action.skip_reason}"
        )
    for action, reason in report.failed:
        typer.secho(
            f"FAILED  {action.kind:<17} {action.participant_id} ({action.step_id}): {reason}",
            fg=typer.colors.RED,
        )
    failed = f", {len(report.failed)} failed (see `innspill status`)" if report.failed else ""
    typer.echo(f"{len(report.queued)} queued, {len(report.skipped)} skipped{failed}.")
    if send:
        _send(engine, now)


@app.command("send")
def send_command(at: AtOption = None) -> None:
    """Send the messages waiting in the outbox (tick does this too).

    Claims of a sender that died on this host are taken at once; those another sender holds
    are said, with when its lease ends. INNSPILL_SMTP_RATE and INNSPILL_SMTP_DAILY_LIMIT are
    kept together with every other sender."""
    _send(open_engine(), instant(at))


def _send(engine: Engine, now: datetime) -> None:
    import asyncio

    from innspill.outbound.outbox import (
        dispatch,
        held_by_others,
        pending_count,
        take_over_dead_senders,
    )
    from innspill.outbound.pace import Limits
    from innspill.outbound.transport import transport_for

    settings = get_settings()
    transport = transport_for(settings)
    # A dead sender's claims on this host are due at once; leases run on the wall clock
    # even when --at simulates another time.
    taken_over = take_over_dead_senders(engine)
    total = pending_count(engine, now=now, at=wall_clock())
    held = held_by_others(engine, at=wall_clock())
    if taken_over:
        typer.echo(
            f"{taken_over} message(s) claimed by a sender that died on this host are due again."
        )
    if held:
        typer.echo(_held_line(held))
    if not total:
        typer.echo(f"Nothing to send (mail is {transport.description}).")
        return
    started = time.monotonic()

    def progress(report: DispatchReport) -> None:
        if sys.stderr.isatty():
            shown = max(total, report.claimed)
            typer.echo(f"\rsending {report.attempted}/{shown}", nl=False, err=True)

    report = asyncio.run(
        dispatch(
            engine,
            transport,
            now=now,
            max_attempts=settings.smtp_max_attempts,
            progress=progress,
            clock=wall_clock,
            lease=timedelta(seconds=settings.smtp_lease_seconds),
            pace=Limits.from_settings(settings),
        )
    )
    if sys.stderr.isatty():
        typer.echo("", err=True)
    typer.echo(
        f"{_outcomes(report)} in {time.monotonic() - started:.1f} s; "
        f"mail is {transport.description}."
    )
    # The error that stopped sending is said once, below, not also as a message's error.
    said = [e for e in report.errors if not (report.stopped and e.endswith(f": {report.stopped}"))]
    for error in said[:20]:
        typer.secho(f"  {error}", fg=typer.colors.YELLOW, err=True)
    left = pending_count(engine, now=now, at=wall_clock())
    held = held_by_others(engine, at=wall_clock())
    if held:
        typer.echo(_held_line(held))
    if report.paused:
        typer.secho(
            f"Sending paused: {report.paused}. {left} message(s) stay queued; nothing is lost.",
            fg=typer.colors.YELLOW,
        )
    if report.stopped:
        raise fail(
            f"Sending stopped: {report.stopped}. {left} message(s) stay queued; nothing is "
            "lost. Check INNSPILL_SMTP_* and run `innspill send` again."
        )
    if report.failed:
        raise fail(f"{report.failed} message(s) failed for good; see `innspill status`.")


def _outcomes(report: DispatchReport) -> str:
    """What became of every message this send claimed: the counts add up to the claims."""
    parts = [f"{report.sent} sent", f"{report.deferred} deferred", f"{report.failed} failed"]
    extra = {
        "slowed down by the relay (queued again)": report.throttled,
        "given back untried": report.given_back,
        "left to another sender (lease ran out)": report.expired + report.lost,
    }
    parts += [f"{n} {what}" for what, n in extra.items() if n]
    pace = ""
    if report.pace:
        lowered = " (lowered: the relay asked to slow down)" if report.pace_lowered else ""
        pace = f" at {max(1, round(report.pace * 60))} a minute{lowered}"
    return ", ".join(parts) + f" of {report.claimed} claimed{pace}"


def _held_line(held: Held) -> str:
    from innspill.process.workdays import OSLO

    until = held.until.astimezone(OSLO).strftime("%Y-%m-%d %H:%M:%S")
    who = "another sender" if held.holders == 1 else f"{held.holders} other senders"
    return (
        f"{held.count} message(s) are held by {who} until {until} (its lease); "
        "if it stops, they are sent after that."
    )


@app.command()
def preview(
    process: Annotated[str, typer.Argument(help="Process id.")],
    step: Annotated[str, typer.Argument(help="Request step id.")],
    participant: Annotated[str, typer.Argument(help="Participant id.")],
    kind: Annotated[
        str, typer.Option(help="invitation, reminder, overdue or deadline_changed.")
    ] = "invitation",
    part: Annotated[str, typer.Option(help="text, html or raw (the whole MIME message).")] = "text",
    at: AtOption = None,
) -> None:
    """Render a message for a participant as it would be sent; sends and stores nothing."""
    from innspill.engine import outbox_row
    from innspill.models.db import session_scope
    from innspill.outbound.templates import KINDS
    from innspill.planning.planner import Action, ActionKind
    from innspill.process.deadline_reasons import change_in_effect
    from innspill.process.deadlines import deadlines_in
    from innspill.process.loading import get_definition

    if kind not in KINDS:
        raise fail(f"unknown kind '{kind}'; choose one of {', '.join(KINDS)}")
    if part not in {"text", "html", "raw"}:
        raise fail("--part must be text, html or raw")
    now = instant(at)
    try:
        with session_scope(open_engine()) as session:
            definition = get_definition(session, process)
            book = deadlines_in(session, definition)
            deadline = book.in_effect.get((step, participant))
            change = change_in_effect(session, definition, step, participant) if deadline else None
        if deadline is None:
            raise InnspillError(
                f"'{participant}' is not asked for input in step '{step}' of '{process}'"
            )
        action = Action(
            definition.id,
            step,
            participant,
            ActionKind(kind),
            "preview",
            deadline,
            # what a notice would say moved: from the file's date, when a change set it
            previous_deadline=(change.original if change else deadline)
            if kind == "deadline_changed"
            else None,
            working_days_left=2 if kind == "reminder" else None,
            overdue_number=1 if kind == "overdue" else None,
            written_deadline=book.written.get((step, participant)),
            closes=book.closes.get((step, participant)),
        )
        row = outbox_row(
            definition,
            action,
            now=now,
            reply_to=get_settings().reply_to,
            deadline_change=change if kind != "invitation" else None,
        )
    except InnspillError as exc:
        raise fail(str(exc)) from None
    import email
    from email.policy import default

    message = email.message_from_bytes(row.raw, policy=default)
    if part == "raw":
        typer.echo(row.raw.decode("utf-8", "replace"))
        return
    typer.echo(f"Subject: {row.subject}\nTo: {row.recipient}\n")
    body = message.get_body(preferencelist=("plain",) if part == "text" else ("html",))
    assert body is not None
    typer.echo(body.get_content())


@app.command()
def resend(
    message: Annotated[
        str,
        typer.Argument(
            help="The failed message: its number as `innspill status` shows it "
            "(message #12), its Message-ID or its key."
        ),
    ],
    at: AtOption = None,
) -> None:
    """Queue a failed message again, for the participant's current address.

    Correct the cause first (an address: fix it in the process file and `innspill load` it).
    The message is rendered anew with a new Message-ID; the failed one stays in the log.
    `innspill send` (or the next tick) sends it.
    """
    from innspill.models.db import session_scope
    from innspill.outbound.compose import Outgoing
    from innspill.outbound.resend import resend as resend_message

    settings = get_settings()
    try:
        with session_scope(open_engine()) as session:
            old, new = resend_message(
                session,
                message,
                now=instant(at),
                by=settings.operator,
                outgoing=Outgoing.from_settings(settings),
            )
    except InnspillError as exc:
        raise fail(str(exc)) from None
    typer.echo(
        f"Message #{old.id} ({old.kind}) queued again as #{new.id} to {new.recipient}; "
        "`innspill send` sends it."
    )


@app.command()
def remind(
    process: Annotated[str, typer.Argument(help="Process id.")],
    step: Annotated[str, typer.Argument(help="Request step id.")],
    participant: Annotated[str, typer.Argument(help="Participant id.")],
    at: AtOption = None,
) -> None:
    """Queue a reminder for one participant now, whatever the schedule.

    Refused if they have answered, the step is not open or has closed, they are not invited
    yet, or they were already told of the deadline today (one reminder per participant and
    day). After their deadline it is an overdue reminder. A scheduled reminder due the same
    day is then skipped (never two the same day). `innspill send` (or the next tick) sends it.
    """
    from innspill.models.db import session_scope
    from innspill.outbound.compose import Outgoing
    from innspill.outbound.remind import remind_now
    from innspill.process.loading import get_definition

    settings = get_settings()
    try:
        with session_scope(open_engine()) as session:
            definition = get_definition(session, process)
            row = remind_now(
                session,
                definition,
                step,
                participant,
                now=instant(at),
                by=settings.operator,
                outgoing=Outgoing.from_settings(settings),
            )
    except InnspillError as exc:
        raise fail(str(exc)) from None
    typer.echo(
        f"Reminder ({row.kind}) to {participant} queued as #{row.id} for {row.recipient}; "
        "`innspill send` sends it."
    )
