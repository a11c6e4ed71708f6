"""The journal pages: a process's journal with links to what each entry records, and the
public journal (offentlig journal) over a date range, as a page and as CSV. Viewers may read
both; the public journal shows no addresses, and a screened title as screened."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Engine
from starlette.responses import Response

from innspill.dashboard.actions.common import Db, Now
from innspill.dashboard.deps import current_user, render
from innspill.dashboard.pages import csv_export
from innspill.errors import UnknownProcess
from innspill.i18n import N_, Labels, _
from innspill.journal.read import (
    DISPATCHED,
    NOT_DISPATCHED,
    EntryView,
    PublicEntry,
    process_journal,
    public_journal,
)
from innspill.process.loading import get_definition
from innspill.process.workdays import OSLO

router = APIRouter(dependencies=[Depends(current_user)])

#: The journal's entry types as agencies publish them (Noark's I, U, X, N).
TYPES = Labels(
    {"I": N_("Inngående"), "U": N_("Utgående"), "X": N_("Organinternt"), "N": N_("Organinternt")}
)
ROLES = Labels({"recipient": N_("Til"), "sender": N_("Fra"), "internal_sender": N_("Fra")})
SOURCES = Labels(
    {
        "letter": N_("Brev"),
        "answer": N_("Innspill"),
        "compilation": N_("Sammenstilling"),
        "draft": N_("Utkast"),
    }
)
PUBLIC_HEADER = ["journaldato", "dokumentnummer", "type", "avsender/mottaker", "sak", "tittel"]
#: Days the public journal shows when no range is given (the last week, today included),
#: the longest range it accepts, and the most lines the page lists (the CSV has all).
DEFAULT_DAYS = 7
MAX_DAYS = 366
PAGE_LINES = 1000

From = Annotated[str | None, Query(max_length=10, alias="from")]
To = Annotated[str | None, Query(max_length=10, alias="to")]


def dispatch_text(entry: EntryView) -> str:
    """What became of a letter, in the words of the journal page."""
    if entry.dispatch == DISPATCHED:
        when = entry.sent_at.astimezone(OSLO) if entry.sent_at else None
        if when:
            return _(
                "Ekspedert %(day)s kl. %(time)s",
                day=format(when, "%d.%m.%Y"),
                time=format(when, "%H.%M"),
            )
        return _("Ekspedert")
    if entry.dispatch == NOT_DISPATCHED:
        return _("Ikke ekspedert: e-posttjeneren avviste brevet") + (
            f" ({entry.error})" if entry.error else ""
        )
    return _("Venter på utsending")


@router.get("/processes/{process_id}/journal")
def process_journal_page(request: Request, process_id: str, db: Db, now: Now) -> Response:
    try:
        definition = get_definition(db, process_id)
    except UnknownProcess:
        raise HTTPException(404, _("Fant ingen prosess med id «%(id)s».", id=process_id)) from None
    entries = process_journal(db, definition.id)
    return render(
        request,
        "journal.html",
        {
            "definition": definition,
            "entries": entries,
            "types": TYPES,
            "roles": ROLES,
            "sources": SOURCES,
            "dispatch": dispatch_text,
            "now": now,
        },
    )


def _date(value: str | None, default: date, what: str) -> date:
    text = (value or "").strip()
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(
            400,
            _(
                "«%(text)s» er ikke en gyldig %(what)s. "
                "Skriv den som ÅÅÅÅ-MM-DD, for eksempel 2020-03-30.",
                text=text,
                what=_(what),
            ),
        ) from None


def date_range(start: str | None, end: str | None, now: datetime) -> tuple[date, date]:
    """The range asked for: both days included; by default the last week, today included."""
    today = now.astimezone(OSLO).date()
    last = _date(end, today, N_("til-dato"))
    first = _date(start, last - timedelta(days=DEFAULT_DAYS - 1), N_("fra-dato"))
    if first > last:
        raise HTTPException(400, _("Fra-datoen er etter til-datoen. Bytt dem om."))
    if (last - first).days >= MAX_DAYS:
        raise HTTPException(400, _("Velg høyst %(n)s dager om gangen.", n=MAX_DAYS))
    return first, last


@router.get("/journal")
def public_journal_page(
    request: Request, db: Db, now: Now, start: From = None, end: To = None
) -> Response:
    first, last = date_range(start, end, now)
    lines = list(public_journal(db, start=first, end=last, limit=PAGE_LINES + 1))
    return render(
        request,
        "public_journal.html",
        {
            "first": first,
            "last": last,
            "lines": lines[:PAGE_LINES],
            "more": len(lines) > PAGE_LINES,
            "types": TYPES,
            "csv_url": f"/journal.csv?from={first.isoformat()}&to={last.isoformat()}",
            "active": "journal",
            "now": now,
        },
    )


def public_rows(engine: Engine, first: date, last: date) -> Iterator[Sequence[object]]:
    """The public journal's CSV lines, read while the response is written."""
    yield PUBLIC_HEADER
    with engine.connect() as connection:
        for line in public_journal(connection, start=first, end=last):
            yield _cells(line)


def _cells(line: PublicEntry) -> list[object]:
    return [
        line.journal_date.isoformat(),
        line.reference,
        TYPES.get(line.entry_type, line.entry_type),
        line.correspondent,
        line.case_title,
        line.title,
    ]


@router.get("/journal.csv")
def public_journal_csv(
    request: Request, now: Now, start: From = None, end: To = None
) -> StreamingResponse:
    first, last = date_range(start, end, now)
    return csv_export.response(
        public_rows(request.app.state.engine, first, last),
        filename=f"offentlig-journal-{first.isoformat()}-{last.isoformat()}.csv",
    )
