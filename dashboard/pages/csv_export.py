"""CSV files of the matrix and the message log: semicolons and a BOM, as Excel in Norway wants."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import quote

from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Engine

from innspill.dashboard.labels import MESSAGE_KINDS, MESSAGE_STATUSES, ROLES, iso_local, label
from innspill.dashboard.pages.progress import ProcessPage
from innspill.dashboard.pages.queries import MessageFilter, iter_messages

DELIMITER = ";"
MESSAGE_HEADER = [
    "id",
    "tidspunkt",
    "opprettet",
    "sendt",
    "prosess",
    "steg",
    "deltaker",
    "mottaker",
    "type",
    "emne",
    "status",
    "forsøk",
    "siste feil",
]


#: What a spreadsheet may take as the start of a formula, also in full width (a spreadsheet
#: may skip blanks before it, so they are looked past: " =1+1", "\t=1+1").
FORMULA_START = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")


def _safe(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    if text[:1] in ("\t", "\r", "\n") or text.lstrip()[:1] in FORMULA_START:
        return "'" + text
    return text


def _lines(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=DELIMITER, lineterminator="\r\n")
    yield "\ufeff"
    for count, row in enumerate(rows, 1):
        writer.writerow([_safe(v) for v in row])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def response(rows: Iterable[Sequence[object]], *, filename: str) -> StreamingResponse:
    return StreamingResponse(
        _lines(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


def matrix_rows(page: ProcessPage) -> Iterator[Sequence[object]]:
    """One row per participant, one column per step, as the process page's matrix."""
    yield ["deltaker", "navn", "rolle", "e-post", "adresse feiler"] + [
        f"{t.title} ({t.id})" for t in page.timeline
    ]
    for row in page.rows:
        yield [
            row.key,
            row.name,
            label(ROLES, row.role),
            row.email,
            "ja" if row.address_failing else "nei",
            *[cell.text if cell.applies else "" for cell in row.cells],
        ]


def message_rows(engine: Engine, flt: MessageFilter) -> Iterator[Sequence[object]]:
    """The message log, oldest first, read in batches while the response is written."""
    yield MESSAGE_HEADER
    with engine.connect() as connection:
        for m in iter_messages(connection, flt):
            yield [
                m.id,
                iso_local(m.at),
                iso_local(m.created_at),
                iso_local(m.sent_at),
                m.process_id,
                m.step_key,
                m.participant_key,
                m.recipient,
                label(MESSAGE_KINDS, m.kind),
                m.subject,
                label(MESSAGE_STATUSES, m.status),
                m.attempts,
                m.last_error or "",
            ]
