"""The `innspill` command line: load processes, tick, send, inspect, and run the demo."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from config.settings import get_settings
from innspill.errors import DefinitionError, InnspillError

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


def _now(at: str | None) -> datetime:
    from innspill.timeparse import parse_instant

    # The CLI is a boundary where the wall clock enters; domain code gets `now` passed in.
    return parse_instant(at) if at else datetime.now(UTC)


def _engine():  # type: ignore[no-untyped-def]
    from models.db import make_engine, migrate

    url = get_settings().resolved_database_url
    migrate(url)
    return make_engine(url)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


@app.command()
def init() -> None:
    """Create the database, or upgrade it to the newest schema."""
    from models.db import migrate

    url = get_settings().resolved_database_url
    migrate(url)
    typer.echo(f"Database ready: {_safe_url(url)}")


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="A process file (TOML).")]) -> None:
    """Check a process file and list every problem; writes nothing."""
    from innspill.definition import date_warnings, load_definition

    try:
        definition = load_definition(file)
    except DefinitionError as exc:
        raise _fail(str(exc)) from None
    for warning in date_warnings(definition):
        typer.secho(f"warning: {file}: {warning}", fg=typer.colors.YELLOW)
    typer.echo(
        f"{file}: valid. Process '{definition.id}', {len(definition.participants)} participants, "
        f"{len(definition.steps)} steps."
    )


@app.command()
def load(
    file: Annotated[Path, typer.Argument(help="A process file (TOML).")],
    at: AtOption = None,
) -> None:
    """Add a process from its file, or update the loaded one from the edited file.

    A moved deadline becomes a deadline change (those affected are told at the next tick);
    a change that would rewrite what already happened is refused and nothing is written.
    """
    from innspill.definition import date_warnings, load_definition
    from innspill.processes import store_definition
    from models.db import session_scope

    try:
        definition = load_definition(file)
        for warning in date_warnings(definition):
            typer.secho(f"warning: {file}: {warning}", fg=typer.colors.YELLOW)
        with session_scope(_engine()) as session:
            report = store_definition(
                session, definition, source=str(file), now=_now(at), by=os.environ.get("USER", "")
            )
    except InnspillError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{report.process_id}: {report.outcome}")
    for change in report.changes:
        typer.echo(f"  {change}")


@app.command()
def tick(
    at: AtOption = None,
    send: Annotated[bool, typer.Option(help="Also send what was queued.")] = True,
) -> None:
    """Plan every loaded process now: queue what is due, then send the outbox."""
    from innspill.engine import tick as run_tick

    settings = get_settings()
    now = _now(at)
    engine = _engine()
    report = run_tick(engine, now=now, reply_to=settings.reply_to)
    for action in report.queued:
        typer.echo(f"queued  {action.kind:<17} {action.participant_id} ({action.step_id})")
    for action in report.skipped:
        typer.echo(
            f"skipped {action.kind:<17} {action.participant_id} ({action.step_id}): "
            f"{action.skip_reason}"
        )
    typer.echo(f"{len(report.queued)} queued, {len(report.skipped)} skipped.")
    if send:
        _send(engine, now)


@app.command("send")
def send_command(at: AtOption = None) -> None:
    """Send the messages waiting in the outbox (tick does this too)."""
    _send(_engine(), _now(at))


def _send(engine, now: datetime) -> None:  # type: ignore[no-untyped-def]
    from innspill.outbox import dispatch, pending_count
    from innspill.transport import transport_for

    settings = get_settings()
    transport = transport_for(settings)
    total = pending_count(engine, now=now)
    if not total:
        typer.echo(f"Nothing to send (mail is {transport.description}).")
        return
    started = time.monotonic()

    def progress(report) -> None:  # type: ignore[no-untyped-def]
        if sys.stderr.isatty():
            typer.echo(f"\rsending {report.attempted}/{total}", nl=False, err=True)

    report = asyncio.run(
        dispatch(
            engine, transport, now=now, max_attempts=settings.smtp_max_attempts, progress=progress
        )
    )
    if sys.stderr.isatty():
        typer.echo("", err=True)
    typer.echo(
        f"{report.sent} sent, {report.deferred} deferred, {report.failed} failed of {total} "
        f"in {time.monotonic() - started:.1f} s; mail is {transport.description}."
    )
    for error in report.errors[:20]:
        typer.secho(f"  {error}", fg=typer.colors.YELLOW, err=True)
    if report.stopped:
        left = total - report.attempted
        raise _fail(
            f"Sending stopped: {report.stopped}. {left} message(s) were not tried and stay "
            "queued; nothing is lost. Check INNSPILL_SMTP_* and run `innspill send` again."
        )
    if report.failed:
        raise _fail(f"{report.failed} message(s) failed for good; see `innspill status`.")


@app.command()
def status(
    process: Annotated[str | None, typer.Argument(help="Process id; default: all.")] = None,
    at: AtOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show every step with its state and deadline, and where each participant stands."""
    from innspill.processes import all_definitions, get_definition
    from innspill.status import process_status
    from models.db import session_scope

    now = _now(at)
    try:
        with session_scope(_engine()) as session:
            definitions = (
                [get_definition(session, process)] if process else all_definitions(session)
            )
            statuses = [process_status(session, d, now=now) for d in definitions]
    except InnspillError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps([s.to_dict() for s in statuses], indent=2, ensure_ascii=False))
        return
    if not statuses:
        typer.echo("No process is loaded. Load one with `innspill load FILE`.")
    for s in statuses:
        typer.secho(f"{s.process}  {s.title} (Vår referanse: {s.reference})", bold=True)
        typer.echo(
            f"  as of {s.at}; messages: " + ", ".join(f"{k} {v}" for k, v in s.messages.items())
        )
        for step in s.steps:
            verb = "treated" if step.kind == "circulation" else "answered"
            counts = f"  {step.answered}/{step.expected} {verb}" if step.expected else ""
            note = f"  ({step.note})" if step.note else ""
            typer.echo(
                f"  {step.step:<28} {step.kind:<12} {step.date or '':<10}  "
                f"{step.state}{counts}{note}"
            )
            for body, where in step.bodies.items():
                typer.echo(f"      {body:<32} {where}")
            for p in step.participants:
                answer = (
                    f"answered {p.answered_at[:16].replace('T', ' ')}"
                    + (" (late)" if p.late else "")
                    if p.answered_at
                    else "no answer"
                )
                flags = (" extended" if p.extended else "") + (
                    " ADDRESS FAILING" if p.address_failing else ""
                )
                typer.echo(
                    f"      {p.participant:<32} deadline {p.deadline}{flags}; "
                    f"{p.reminders} reminders, {p.overdue_reminders} overdue; {answer}"
                )
        for failed in s.failed_messages:
            typer.secho(f"  FAILED: {failed}", fg=typer.colors.RED)


@app.command()
def extend(
    process: Annotated[str, typer.Argument(help="Process id.")],
    step: Annotated[str, typer.Argument(help="Request step id.")],
    deadline: Annotated[str, typer.Argument(help="New deadline, for example 2020-05-08.")],
    participant: Annotated[
        str | None, typer.Option(help="Extend for this participant only; default: everyone.")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (kept in the event log).")] = "",
    at: AtOption = None,
) -> None:
    """Change a deadline for everyone, or extend it for one participant.

    The next tick tells those affected (who have not answered) and plans reminders anew.
    """
    from innspill.deadlines import change_deadline
    from innspill.processes import get_definition
    from innspill.timeparse import parse_date
    from models.db import session_scope

    try:
        new = parse_date(deadline)
        with session_scope(_engine()) as session:
            definition = get_definition(session, process)
            change_deadline(
                session,
                definition,
                step_id=step,
                deadline=new,
                at=_now(at),
                participant_id=participant,
                reason=reason,
                by=os.environ.get("USER", ""),
            )
    except InnspillError as exc:
        raise _fail(str(exc)) from None
    from innspill.workdays import why_not_working_day

    if why := why_not_working_day(new):
        typer.secho(f"warning: {new} is a {why}, not a working day", fg=typer.colors.YELLOW)
    typer.echo(f"Deadline of {step} set to {new} for {participant or 'everyone'}.")


answer_app = typer.Typer(help="Answers (innspill) from participants.", no_args_is_help=True)
app.add_typer(answer_app, name="answer")


@answer_app.command("add")
def answer_add(
    process: Annotated[str, typer.Argument(help="Process id.")],
    step: Annotated[str, typer.Argument(help="Request step id.")],
    participant: Annotated[str, typer.Argument(help="Participant id.")],
    text: Annotated[
        list[str],
        typer.Option(help="THEME=TEXT, once per theme answered (theme ids as in the file)."),
    ],
    by: Annotated[str, typer.Option(help="Who registers it (kept with the answer).")] = "",
    at: AtOption = None,
) -> None:
    """Register an answer that came by letter, phone or otherwise; it stops the reminders.

    A second answer from the same participant is kept as a new version; the latest counts.
    """
    from innspill.answers import register_answer
    from innspill.processes import get_definition
    from models.db import session_scope

    texts = {}
    for item in text:
        theme, sep, value = item.partition("=")
        if not sep or not theme.strip():
            raise _fail(
                f"--text '{item}' is not THEME=TEXT, for example --text rolle='Vi mener ...'"
            )
        texts[theme.strip()] = value
    try:
        with session_scope(_engine()) as session:
            definition = get_definition(session, process)
            answer = register_answer(
                session,
                definition,
                step_id=step,
                participant_id=participant,
                texts=texts,
                at=_now(at),
                channel="registered",
                registered_by=by or os.environ.get("USER", ""),
            )
    except InnspillError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"Answer from {participant} to {step} registered (version {answer.version}).")


@app.command("compile")
def compile_command(
    process: Annotated[str, typer.Argument(help="Process id.")],
    step: Annotated[
        str | None, typer.Argument(help="Compilation step id; default: the process's only one.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also write the DOCX and HTML into this folder.")
    ] = None,
    at: AtOption = None,
) -> None:
    """Compile the answers theme by theme now, as a new version (DOCX and HTML).

    Nothing is overwritten: each run with new answers makes the next version, and the next tick
    sends it to the drafters. With no new answers since the last version, nothing is made.
    """
    from innspill.definition import CompilationStep
    from innspill.documents import latest, make_compilation
    from innspill.followup import answers_basis
    from innspill.processes import get_definition
    from innspill.state import load_state
    from models.db import session_scope

    now = _now(at)
    try:
        with session_scope(_engine()) as session:
            definition = get_definition(session, process)
            steps = [s for s in definition.steps if isinstance(s, CompilationStep)]
            chosen = next((s for s in steps if s.id == step), None) if step else None
            if chosen is None:
                if step or len(steps) != 1:
                    names = ", ".join(s.id for s in steps) or "none"
                    raise InnspillError(f"name the compilation step (this process has: {names})")
                chosen = steps[0]
            basis, _ = answers_basis(load_state(session, definition), chosen.source, now)
            previous = latest(session, definition.id, chosen.id, "compilation")
            if previous is not None and previous.basis == basis:
                typer.echo(f"Version {previous.version} already has every answer; nothing new.")
                document = previous
            else:
                document = make_compilation(
                    session,
                    definition,
                    chosen.id,
                    now=now,
                    basis=basis,
                    by=os.environ.get("USER", ""),
                )
                typer.echo(f"Compiled version {document.version}: {document.note}.")
    except InnspillError as exc:
        raise _fail(str(exc)) from None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / document.filename).write_bytes(document.content)
        html = out / (document.filename.rsplit(".", 1)[0] + ".html")
        html.write_text(document.html or "", encoding="utf-8")
        typer.echo(f"Written: {out / document.filename} and {html}")


draft_app = typer.Typer(help="Drafts to circulate for treatment.", no_args_is_help=True)
app.add_typer(draft_app, name="draft")


@draft_app.command("add")
def draft_add(
    process: Annotated[str, typer.Argument(help="Process id.")],
    file: Annotated[Path, typer.Argument(help="The draft: a .docx or .pdf file.")],
    step: Annotated[
        str | None, typer.Option(help="Circulation step id; default: the process's only one.")
    ] = None,
    note: Annotated[str, typer.Option(help="What changed since the previous version.")] = "",
    at: AtOption = None,
) -> None:
    """Register a draft as the next version; the next tick circulates it to the bodies."""
    from innspill.definition import CirculationStep
    from innspill.documents import register_draft
    from innspill.processes import get_definition
    from models.db import session_scope

    try:
        with session_scope(_engine()) as session:
            definition = get_definition(session, process)
            steps = [s.id for s in definition.steps if isinstance(s, CirculationStep)]
            if step is None:
                if len(steps) != 1:
                    raise InnspillError(
                        f"name the circulation step with --step (this process has: "
                        f"{', '.join(steps) or 'none'})"
                    )
                step = steps[0]
            document = register_draft(
                session,
                definition,
                step,
                file,
                now=_now(at),
                note=note,
                by=os.environ.get("USER", ""),
            )
    except InnspillError as exc:
        raise _fail(str(exc)) from None
    typer.echo(
        f"Draft version {document.version} ({document.filename}) registered for {step}; "
        "the next tick sends it."
    )


@app.command()
def attendance(
    process: Annotated[str, typer.Argument(help="Process id.")],
    step: Annotated[str, typer.Argument(help="Meeting step id.")],
    participant: Annotated[str, typer.Argument(help="Participant id.")],
    absent: Annotated[bool, typer.Option("--absent", help="Did not attend.")] = False,
    at: AtOption = None,
) -> None:
    """Register that a participant attended a meeting (or, with --absent, did not)."""
    from innspill.processes import get_definition
    from innspill.treatment import register_attendance
    from models.db import session_scope

    try:
        with session_scope(_engine()) as session:
            register_attendance(
                session,
                get_definition(session, process),
                step_id=step,
                participant_id=participant,
                attended=not absent,
                now=_now(at),
                by=os.environ.get("USER", ""),
            )
    except InnspillError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{participant}: {'absent from' if absent else 'attended'} {step}.")


@app.command()
def treatment(
    process: Annotated[str, typer.Argument(help="Process id.")],
    step: Annotated[str, typer.Argument(help="Circulation step id.")],
    participant: Annotated[str, typer.Argument(help="The body (participant id).")],
    state: Annotated[str, typer.Option(help="pending, on_agenda or treated.")],
    meeting_date: Annotated[
        str | None, typer.Option(help="With on_agenda: the meeting date.")
    ] = None,
    decided_on: Annotated[str | None, typer.Option(help="With treated: the date.")] = None,
    decision: Annotated[str, typer.Option(help="With treated: the decision.")] = "",
    at: AtOption = None,
) -> None:
    """Record how far a body has come with the draft; reminders stop once it is on the agenda."""
    from innspill.processes import get_definition
    from innspill.timeparse import parse_date
    from innspill.treatment import set_treatment
    from models import TreatmentState
    from models.db import session_scope

    try:
        try:
            wanted = TreatmentState(state)
        except ValueError:
            raise InnspillError("--state must be pending, on_agenda or treated") from None
        with session_scope(_engine()) as session:
            set_treatment(
                session,
                get_definition(session, process),
                step_id=step,
                participant_id=participant,
                state=wanted,
                now=_now(at),
                meeting_date=parse_date(meeting_date) if meeting_date else None,
                decided_on=parse_date(decided_on) if decided_on else None,
                decision=decision,
                by=os.environ.get("USER", ""),
            )
    except InnspillError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{participant}: {state.replace('_', ' ')} ({step}).")


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
    from innspill.planner import Action, ActionKind
    from innspill.processes import get_definition
    from innspill.rendering import KINDS
    from innspill.state import effective_deadlines
    from models.db import session_scope

    if kind not in KINDS:
        raise _fail(f"unknown kind '{kind}'; choose one of {', '.join(KINDS)}")
    if part not in {"text", "html", "raw"}:
        raise _fail("--part must be text, html or raw")
    now = _now(at)
    try:
        with session_scope(_engine()) as session:
            definition = get_definition(session, process)
            deadline = effective_deadlines(session, definition).get((step, participant))
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
            previous_deadline=deadline if kind == "deadline_changed" else None,
            working_days_left=2 if kind == "reminder" else None,
            overdue_number=1 if kind == "overdue" else None,
        )
        row = outbox_row(definition, action, now=now, reply_to=get_settings().reply_to)
    except InnspillError as exc:
        raise _fail(str(exc)) from None
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
def demo(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON only.")
    ] = False,
    prefect: Annotated[
        bool, typer.Option(help="Run through Prefect (a temporary local server starts).")
    ] = True,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Keep the demo's database and mail here (emptied first). Default: a temp dir."
        ),
    ] = None,
) -> None:
    """Play the 2020 round (30 March to 30 June) on a simulated clock and show what happened."""
    from innspill import demo as scenario
    from innspill.transport import CaptureTransport
    from models.db import make_engine, migrate

    folder = data_dir or Path(tempfile.mkdtemp(prefix="innspill-demo-"))
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    url = f"sqlite:///{(folder / 'innspill.db').resolve()}"
    mail = folder / "mail"
    say = (lambda text: None) if as_json else typer.echo
    say(f"Simulating the 2020 round; database and mail in {folder}")
    started = time.monotonic()
    if prefect:
        say("Starting Prefect (a temporary local server; this takes 10 to 30 seconds) ...")
        _quiet_prefect()
        from flows.demo import demo_flow

        demo_flow(url, str(mail))
        # The temporary server's event recorder complains when it is stopped at exit; the
        # runs are already recorded, so that noise is not the user's concern.
        import logging

        logging.disable(logging.CRITICAL)
    else:
        migrate(url)
        scenario.run(make_engine(url), CaptureTransport(mail))
    result = scenario.report(
        make_engine(url), f"{len(list(mail.glob('*.eml')))} .eml files in {mail}"
    )
    if as_json:
        typer.echo(scenario.as_json(result))
        return
    typer.echo("")
    for line in result.timeline:
        typer.echo(line)
    typer.echo("")
    typer.echo(scenario.summary_text(result))
    typer.echo(f"Done in {time.monotonic() - started:.1f} s.")


@app.command()
def serve() -> None:
    """Register the tick deployment with its schedule (Europe/Oslo) and serve it with Prefect.

    Point PREFECT_API_URL at a Prefect server to see the runs in its UI.
    """
    from prefect import serve as prefect_serve

    from flows.serve import deployments

    settings = get_settings()
    _engine()
    prefect_serve(*deployments(settings))


def _quiet_prefect() -> None:
    # Set before Prefect is imported: it reads these once.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def dashboard(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on. Default: INNSPILL_DASHBOARD_HOST.")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port. Default: INNSPILL_DASHBOARD_PORT (8000).")
    ] = None,
) -> None:
    """Start the progress dashboard (web pages for administrators; sign in first).

    Create an account with `innspill user add NAME`. It listens on loopback by default; put a
    TLS proxy in front of it (and set INNSPILL_DASHBOARD_SECURE_COOKIE=true) to open it wider.
    """
    import uvicorn

    from dashboard.app import create_app

    settings = get_settings()
    try:
        application = create_app(settings)
    except InnspillError as exc:
        raise _fail(str(exc)) from None
    host = host or settings.dashboard_host
    port = port or settings.dashboard_port
    typer.echo(f"Dashboard on http://{host}:{port}/ ({_safe_url(settings.resolved_database_url)})")
    uvicorn.run(application, host=host, port=port, log_level="warning")


user_app = typer.Typer(help="Dashboard accounts (administrators).", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    username: Annotated[
        str, typer.Argument(help="The new user's name (letters, digits, . _ @ -).")
    ],
) -> None:
    """Create a dashboard account; asks for the password twice (at least 10 characters)."""
    from dashboard.auth import AccountError, check_password, create_user
    from models.db import session_scope

    password = typer.prompt("Password", hide_input=True)
    if typer.prompt("Repeat the password", hide_input=True) != password:
        raise _fail("The passwords differ; nothing was saved.")
    try:
        check_password(password, username=username)
        with session_scope(_engine()) as session:
            create_user(session, username, password, now=_now(None))
    except AccountError as exc:
        raise _fail(f"{exc}; nothing was saved.") from None
    typer.echo(f"User '{username}' created. Start the dashboard with `innspill dashboard`.")


if __name__ == "__main__":
    app()
