"""Commands for process files and deadlines: init, validate, load, status, extend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from innspill.cli.common import (
    AtOption,
    app,
    fail,
    get_settings,
    instant,
    open_engine,
    safe_url,
    wall_clock,
)
from innspill.errors import DefinitionError, InnspillError

if TYPE_CHECKING:  # the status module is imported when the command runs: --help stays fast
    from datetime import datetime

    from sqlalchemy.engine import Engine

    from innspill.journal.read import JournalSummary
    from innspill.process.definition import ProcessDefinition
    from innspill.status import ProcessStatus, StepStatus


@app.command()
def init() -> None:
    """Create the database, or upgrade it to the newest schema; record the key's fingerprint."""
    url = get_settings().resolved_database_url
    open_engine().dispose()
    typer.echo(f"Database ready: {safe_url(url)}")


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="A process file (TOML).")]) -> None:
    """Check a process file and list every problem; writes nothing.

    Every language it names (the process's and each participant's) must have a complete set
    of e-mail templates, or the first mail in that language would fail to render. Every file
    a step attaches must exist beside the process file, be at most 10 MB and be a PDF, DOCX,
    ODT, .txt or .md file.
    """
    from innspill.outbound.languages import check_languages
    from innspill.process.definition import date_warnings, load_definition

    try:
        definition = load_definition(file)
        check_languages(definition, file=str(file))
    except DefinitionError as exc:
        raise fail(str(exc)) from None
    for warning in date_warnings(definition):
        typer.secho(f"warning: {file}: {warning}", fg=typer.colors.YELLOW)
    typer.echo(
        f"{file}: valid. Process '{definition.id}', {len(definition.participants)} participants, "
        f"{len(definition.steps)} steps."
    )
    _say_journal(definition)


def _say_journal(definition: ProcessDefinition) -> None:
    """Whose journal the round's numbers come from, or that it keeps none."""
    from innspill.cli.journal import keeps_no_numbers

    archive = definition.archive
    if archive is None:
        typer.secho(keeps_no_numbers(definition.id), fg=typer.colors.YELLOW)
        return
    typer.echo(
        f"Journal: {archive.creator} (org.nr. {archive.organisation_number}), case "
        f"{definition.process.reference}, document numbers from {archive.first_document_number}"
        + (f", class {archive.class_code}" if archive.class_code else "")
    )


@app.command()
def load(
    file: Annotated[Path, typer.Argument(help="A process file (TOML).")],
    at: AtOption = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Write nothing: say what the load would change, and what the next ticks "
            "would send (+) or no longer send (-) because of it.",
        ),
    ] = False,
) -> None:
    """Add a process from its file, or update the loaded one from the edited file.

    A moved deadline becomes a deadline change (those affected are told at the next tick);
    a change that would rewrite what already happened is refused and nothing is written, as
    is a file naming a language without a complete set of e-mail templates.
    """
    from innspill.models.db import session_scope
    from innspill.outbound.languages import check_languages
    from innspill.process.attachments import read_step_files
    from innspill.process.definition import date_warnings, load_definition
    from innspill.process.loading import store_definition

    try:
        definition = load_definition(file)
        files = read_step_files(definition, file)
        check_languages(definition, file=str(file))
        for warning in date_warnings(definition):
            typer.secho(f"warning: {file}: {warning}", fg=typer.colors.YELLOW)
        if dry_run:
            _dry_run(definition, source=str(file), now=instant(at))
            return
        with session_scope(open_engine()) as session:
            report = store_definition(
                session,
                definition,
                source=str(file),
                now=instant(at),
                by=get_settings().operator,
                files=files,
            )
    except InnspillError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{report.process_id}: {report.outcome}")
    for change in report.changes:
        typer.echo(f"  {change}")
    _say_journal(definition)


def _dry_run(definition: ProcessDefinition, *, source: str, now: datetime) -> None:
    """Print what loading would do (the dashboard's check shows the same), writing nothing."""
    from sqlmodel import Session

    from innspill.planning.preview import preview_load
    from innspill.process.workdays import OSLO

    with Session(open_engine()) as session:
        preview = preview_load(session, definition, source=source, now=now)
        session.rollback()
    typer.echo(f"{definition.id}: would be {preview.planned.outcome} (dry run: nothing written)")
    for change in preview.planned.changes:
        typer.echo(f"  {change}")
    for sign, lines in (("+", preview.added), ("-", preview.removed)):
        for p in lines:
            a = p.action
            when = p.at.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")
            skipped = f" (skipped: {a.skip_reason})" if a.skip_reason else ""
            typer.echo(f"  {sign} {when}  {a.kind.value} {a.step_id} {a.participant_id}{skipped}")


@app.command()
def status(
    process: Annotated[str | None, typer.Argument(help="Process id; default: all.")] = None,
    at: AtOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show each step's state, deadline and counts, and where each participant stands.

    The same status the dashboard shows: the current step and the next deadline, every step
    with its state, deadline and counts (for a meeting also its calendar replies), and each
    participant's deadline, messages, answer and failed messages."""
    from innspill.models.db import session_scope
    from innspill.process.loading import all_definitions, get_definition
    from innspill.status import process_statuses

    now = instant(at)
    engine = open_engine()
    try:
        with session_scope(engine) as session:
            definitions = (
                [get_definition(session, process)] if process else all_definitions(session)
            )
            statuses = process_statuses(session, {d.id: d for d in definitions}, now=now)
    except InnspillError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps([s.to_dict() for s in statuses], indent=2, ensure_ascii=False))
        return
    if not statuses:
        typer.echo("No process is loaded. Load one with `innspill load FILE`.")
    for s in statuses:
        _print_status(s)
    if statuses:
        _print_queue(engine, now)


def _print_queue(engine: Engine, now: datetime) -> None:
    """The outbox's queue (for every process): due, held by a sender, and the pace."""
    from innspill.outbound.pace import Limits
    from innspill.outbound.queue import queue
    from innspill.outbound.transport import transport_for

    settings = get_settings()
    state = queue(
        engine,
        now=now,
        at=wall_clock(),
        relay=transport_for(settings).relay,
        limits=Limits.from_settings(settings),
    )
    for line in state.lines():
        typer.echo(line)


def _print_status(s: ProcessStatus) -> None:
    typer.secho(f"{s.process}  {s.title} (Vår referanse: {s.reference})", bold=True)
    typer.echo(f"  as of {s.at}; messages: " + ", ".join(f"{k} {v}" for k, v in s.messages.items()))
    if s.journal is not None:
        _print_journal(s.process, s.journal)
    current = s.step(s.current_step)
    if s.ended:
        typer.echo(f"  ended {s.ends}: nothing more is sent")
    if current is None:
        typer.echo("  every step is done")
    else:
        deadline = (
            f"; next deadline {s.next_deadline} ({s.days_left} days left)"
            if s.next_deadline
            else ""
        )
        typer.echo(f"  current step: {current.step} ({current.state}){deadline}")
    for step in s.steps:
        _print_step(step)
    for failed in s.failures:
        hint = "" if failed.resent else f"; when fixed: innspill resend {failed.id}"
        typer.secho(f"  FAILED: {failed} (message #{failed.id}{hint})", fg=typer.colors.RED)
    typer.echo(f"  archival copies (PDF/A): {s.archival_copies} made")
    for copy in s.archive_failures:
        typer.secho(f"  ARCHIVAL COPY FAILED: {copy}", fg=typer.colors.RED)
    if s.archive_failures:
        typer.echo("  when fixed: innspill archive convert --retry-failed")


def _print_journal(process: str, journal: JournalSummary) -> None:
    if not journal.keeps_numbers:
        typer.echo("  journal: keeps no journal numbers (no [archive] section)")
        return
    last = f", last {journal.last}" if journal.last else ""
    typer.echo(f"  journal: {journal.entries} entries{last} (innspill journal {process})")


def _print_step(step: StepStatus) -> None:
    verb = "treated" if step.kind == "circulation" else "answered"
    counts = f"  {step.answered}/{step.expected} {verb}" if step.expected else ""
    if step.overdue:
        counts += f", {step.overdue} overdue"
    if step.waiting:
        counts += f", {step.waiting} within an extension"
    note = f"  ({step.note})" if step.note else ""
    typer.echo(
        f"  {step.step:<28} {step.kind:<12} {step.deadline or '':<10}  {step.state}{counts}{note}"
    )
    if step.written_deadline:
        typer.echo(
            f"      deadline set to {step.written_deadline}, not a working day: it runs to "
            f"{step.deadline}"
        )
    if step.calendar_replies:
        r = step.calendar_replies
        typer.echo(
            f"      calendar replies: {r['accepted']} accepted, {r['declined']} declined, "
            f"{r['tentative']} tentative, {r['no_reply']} no reply"
        )
    for body, where in step.bodies.items():
        reply = f"; {step.replies[body]}" if body in step.replies else ""
        typer.echo(f"      {body:<32} {where}{reply}")
    for p in step.participants:
        answer = (
            f"answered {p.answered_at[:16].replace('T', ' ')}" + (" (late)" if p.late else "")
            if p.answered_at
            else "no answer"
        )
        flags = (
            (" extended" if p.extended else "")
            + (" ADDRESS FAILING" if p.address_failing else "")
            + (" MESSAGE FAILED" if p.failed else "")
        )
        typer.echo(
            f"      {p.participant:<32} deadline {p.deadline}{flags}; "
            f"{p.reminders} reminders, {p.overdue_reminders} overdue; {answer}"
        )
        for failed in p.failed:
            typer.secho(f"          #{failed.id} {failed}", fg=typer.colors.RED)


@app.command()
def extend(
    process: Annotated[str, typer.Argument(help="Process id.")],
    step: Annotated[str, typer.Argument(help="Request step id.")],
    deadline: Annotated[str, typer.Argument(help="New deadline, for example 2020-05-08.")],
    participant: Annotated[
        str | None, typer.Option(help="Extend for this participant only; default: everyone.")
    ] = None,
    reason: Annotated[
        str,
        typer.Option(help="Why: said in the notice and the reminders that follow, and logged."),
    ] = "",
    at: AtOption = None,
) -> None:
    """Change a deadline for everyone, or extend it for one participant.

    The next tick tells those affected (who have not answered) and plans reminders anew. A
    deadline on a weekend or public holiday runs to the next working day, unless the process
    file says holiday_deadlines = "as_written".
    """
    from innspill.models.db import session_scope
    from innspill.process.deadlines import change_deadline
    from innspill.process.loading import get_definition
    from innspill.process.timeparse import parse_date

    try:
        new = parse_date(deadline)
        with session_scope(open_engine()) as session:
            definition = get_definition(session, process)
            change_deadline(
                session,
                definition,
                step_id=step,
                deadline=new,
                at=instant(at),
                participant_id=participant,
                reason=reason,
                by=get_settings().operator,
            )
    except InnspillError as exc:
        raise fail(str(exc)) from None
    from innspill.process.deadline_rule import in_effect
    from innspill.process.workdays import why_not_working_day

    if why := why_not_working_day(new):
        effective = in_effect(definition, new)
        then = (
            f"the deadline runs to the next working day, {effective}"
            if effective != new
            else 'kept as written ([process] holiday_deadlines = "as_written")'
        )
        typer.secho(f"warning: {new} is a {why}, not a working day; {then}", fg=typer.colors.YELLOW)
    typer.echo(f"Deadline of {step} set to {new} for {participant or 'everyone'}.")
