"""`innspill journal`: the entries a process has in the body's journal, with their numbers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from innspill.cli.common import app, fail, open_engine
from innspill.errors import InnspillError

if TYPE_CHECKING:
    from innspill.journal.read import EntryView

#: How the journal's codes read in the listing (the dashboard says them in bokmål).
TYPES = {"I": "in", "U": "out", "X": "internal", "N": "internal"}
DISPATCH = {"dispatched": "sent", "waiting": "waiting", "not_dispatched": "NOT DISPATCHED"}


def keeps_no_numbers(process_id: str) -> str:
    """The line validate, load, status and journal say for a process without [archive]."""
    return (
        f"{process_id} keeps no journal numbers (no [archive] section): its letters carry the "
        "case number alone; see docs/archive.md"
    )


@app.command()
def journal(
    process: Annotated[str, typer.Argument(help="Process id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List a process's journal entries: every letter sent, answer received and document made,
    with its document number in the case (20/64758-12), løpenummer (2020/12) and date.

    Letters say whether they went out: sent (with when), waiting, or NOT DISPATCHED (refused
    for good by the mail server; the entry stays, see docs/archive.md)."""
    from innspill.journal.read import process_journal
    from innspill.models.db import session_scope
    from innspill.process.loading import get_definition

    try:
        with session_scope(open_engine()) as session:
            definition = get_definition(session, process)
            entries = process_journal(session, definition.id)
    except InnspillError as exc:
        raise fail(str(exc)) from None
    if as_json:
        data = {
            "process": definition.id,
            "keeps_numbers": definition.archive is not None,
            "entries": [e.to_dict() for e in entries],
        }
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if definition.archive is None:
        typer.echo(keeps_no_numbers(definition.id))
    archive = definition.archive
    if archive is not None:
        typer.secho(
            f"{definition.id}: journal of {archive.creator} (org.nr. {archive.organisation_number})"
            f", case {definition.process.reference}; {len(entries)} entries",
            bold=True,
        )
    for entry in entries:
        typer.echo(_line(entry))


def _line(e: EntryView) -> str:
    from innspill.process.workdays import OSLO

    who = "to" if e.correspondent_role == "recipient" else "from"
    state = ""
    if e.dispatch is not None:
        state = f"  [{DISPATCH[e.dispatch]}"
        if e.sent_at is not None:
            state += f" {e.sent_at.astimezone(OSLO):%Y-%m-%d %H:%M}"
        state += f": {e.error}]" if e.error else "]"
    return (
        f"{e.reference:<14} {e.journal_number:<10} {e.journal_date}  "
        f"{TYPES.get(e.entry_type, e.entry_type):<8} {who} {e.correspondent_name}: {e.title}{state}"
    )
