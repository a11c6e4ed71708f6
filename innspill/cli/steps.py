"""Commands for what people do during a round: answers, compilation, drafts, meetings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from innspill.cli.common import AtOption, app, fail, get_settings, instant, open_engine
from innspill.errors import InnspillError

answer_app = typer.Typer(help="Answers (innspill) from participants.", no_args_is_help=True)
app.add_typer(answer_app, name="answer")


@answer_app.command("add")
def answer_add(
    process: Annotated[str, typer.Argument(help="Process id.")],
    step: Annotated[str, typer.Argument(help="Request step id.")],
    participant: Annotated[str, typer.Argument(help="Participant id.")],
    text: Annotated[
        list[str] | None,
        typer.Option(help="THEME=TEXT, once per theme answered (theme ids as in the file)."),
    ] = None,
    file: Annotated[
        list[Path] | None,
        typer.Option(help="A PDF, DOCX or ODT that came with the answer (the letter, say)."),
    ] = None,
    by: Annotated[str, typer.Option(help="Who registers it (kept with the answer).")] = "",
    at: AtOption = None,
) -> None:
    """Register an answer that came by letter, phone or otherwise; it stops the reminders.

    A second answer from the same participant is kept as a new version; the one received last
    counts. The text is cleaned like a mailed reply's (greeting, sign-off and signature left
    out); what was given is kept.
    """
    from innspill.inbound.answers import MAX_FILES, attach_file, register_answer
    from innspill.inbound.assignment import registration_notes
    from innspill.inbound.intake import GENERAL
    from innspill.models.db import session_scope
    from innspill.process.loading import get_definition

    if not text and not file:
        raise fail("give the answer: --text THEME=TEXT (once per theme) and/or --file PATH")
    if len(file or []) > MAX_FILES:
        raise fail(f"at most {MAX_FILES} files with one answer")
    texts = {}
    for item in text or []:
        theme, sep, value = item.partition("=")
        if not sep or not theme.strip():
            raise fail(
                f"--text '{item}' is not THEME=TEXT, for example --text rolle='Vi mener ...'"
            )
        texts[theme.strip()] = value
    now = instant(at)
    try:
        with session_scope(open_engine()) as session:
            definition = get_definition(session, process)
            answer = register_answer(
                session,
                definition,
                step_id=step,
                participant_id=participant,
                texts=texts or {GENERAL: "(se vedlegg)"},
                at=now,
                channel="registered",
                registered_by=by or get_settings().operator,
            )
            for path in file or []:
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    raise InnspillError(f"cannot read {path}: {exc.strerror}") from None
                attach_file(session, answer, filename=path.name, data=data)
            session.flush()
            notes = registration_notes(session, definition, answer, now=now)
    except InnspillError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"Answer from {participant} to {step} registered (version {answer.version}).")
    for note in notes:  # after the step closed, or older than the answer that counts
        typer.secho(f"warning: {note}", fg=typer.colors.YELLOW)


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
    from innspill.documents.compile_now import compile_now
    from innspill.models.db import session_scope
    from innspill.process.loading import get_definition

    now = instant(at)
    try:
        with session_scope(open_engine()) as session:
            definition = get_definition(session, process)
            compiled = compile_now(session, definition, step, now=now, by=get_settings().operator)
            document = compiled.document
            if compiled.made:
                typer.echo(f"Compiled version {document.version}: {document.note}.")
            else:
                typer.echo(f"Version {document.version} already has every answer; nothing new.")
    except InnspillError as exc:
        raise fail(str(exc)) from None
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
    from innspill.documents.store import register_draft
    from innspill.models.db import session_scope
    from innspill.process.definition import CirculationStep
    from innspill.process.loading import get_definition

    try:
        with session_scope(open_engine()) as session:
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
                now=instant(at),
                note=note,
                by=get_settings().operator,
            )
    except InnspillError as exc:
        raise fail(str(exc)) from None
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
    """Register that a participant attended a meeting (or, with --absent, did not).

    Refused before the meeting has started (--at counts), and for a cancelled meeting.
    """
    from innspill.documents.treatment import register_attendance
    from innspill.models.db import session_scope
    from innspill.process.loading import get_definition

    try:
        with session_scope(open_engine()) as session:
            register_attendance(
                session,
                get_definition(session, process),
                step_id=step,
                participant_id=participant,
                attended=not absent,
                now=instant(at),
                by=get_settings().operator,
            )
    except InnspillError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{participant}: {'absent from' if absent else 'attended'} {step}.")


@app.command("cancel-meeting")
def cancel_meeting_command(
    process: Annotated[str, typer.Argument(help="Process id.")],
    step: Annotated[str, typer.Argument(help="Meeting step id.")],
    at: AtOption = None,
) -> None:
    """Cancel a meeting: the next tick sends everyone invited a calendar CANCEL.

    The same as setting `cancelled = true` on the step and loading the file again (do that in
    the file too, or a later load of the old file brings the meeting back). Refused for a
    meeting that has begun, one cancelled already, and after the process has ended.
    """
    from innspill.models.db import session_scope
    from innspill.process.loading import get_definition
    from innspill.process.meeting_cancel import cancel_meeting

    try:
        with session_scope(open_engine()) as session:
            cancel_meeting(
                session,
                get_definition(session, process),
                step,
                now=instant(at),
                by=get_settings().operator,
            )
    except InnspillError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{step} cancelled: the next tick sends the cancellation to everyone invited.")


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
    """Record how far a body has come with the draft; reminders stop once it is on the agenda.

    Refused until the draft has been sent to the body, and for dates that cannot be: a
    decision after today, before the draft was sent or before the meeting it was on the
    agenda of.
    """
    from innspill.documents.treatment import set_treatment
    from innspill.models import TreatmentState
    from innspill.models.db import session_scope
    from innspill.process.loading import get_definition
    from innspill.process.timeparse import parse_date

    try:
        try:
            wanted = TreatmentState(state)
        except ValueError:
            raise InnspillError("--state must be pending, on_agenda or treated") from None
        with session_scope(open_engine()) as session:
            set_treatment(
                session,
                get_definition(session, process),
                step_id=step,
                participant_id=participant,
                state=wanted,
                now=instant(at),
                meeting_date=parse_date(meeting_date) if meeting_date else None,
                decided_on=parse_date(decided_on) if decided_on else None,
                decision=decision,
                by=get_settings().operator,
            )
    except InnspillError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{participant}: {state.replace('_', ' ')} ({step}).")
