"""Journal numbers without gaps: taken a block at a time from counter rows, in the transaction
that writes the entries, so a rolled-back transaction gives its numbers back.

Two series per entry: the løpenummer in the body's journal year (`journal:ORGNR:YEAR`) and the
document number in the case (`case:ORGNR:20/64758`). One UPDATE ... RETURNING per series and
block takes the numbers and locks the counter row until the transaction ends (PostgreSQL); on
SQLite the write transaction holds the database's one write lock anyway. The case's counter is
always taken before the journal year's, so two transactions never wait for each other in a
circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlmodel import Session

from innspill.models import JournalCounter
from innspill.models.db import table_of
from innspill.process.archive import ArchiveSection
from innspill.process.workdays import OSLO

Db = Session | Connection


@dataclass(frozen=True)
class Number:
    """An entry's numbers: journal year and løpenummer, case and document number."""

    year: int
    sequence: int
    case: str
    document: int

    @property
    def reference(self) -> str:
        """The document number as letters show it: `20/64758-12`."""
        return document_reference(self.case, self.document)

    @property
    def journal_number(self) -> str:
        """The løpenummer with its year: `2020/123`."""
        return f"{self.year}/{self.sequence}"


def document_reference(case_reference: str, document_number: int) -> str:
    """`20/64758-12`: the case number and the document's number in it."""
    return f"{case_reference}-{document_number}"


def _dialect(db: Db) -> str:
    bind = db.get_bind() if isinstance(db, Session) else db
    return bind.dialect.name


def take(db: Db, name: str, count: int, *, start: int = 1) -> int:
    """Take `count` consecutive numbers of the series `name` (from `start` when the series is
    new or behind it); returns the first. The row stays locked until the transaction ends."""
    counter = table_of(JournalCounter)
    bump = (
        update(counter)
        .where(counter.c.name == name)
        .values(
            next_value=case(
                (counter.c.next_value < start, start + count),
                else_=counter.c.next_value + count,
            )
        )
        .returning(counter.c.next_value)
    )
    after = db.execute(bump).scalar_one_or_none()
    if after is None:  # a new series: made once, by whichever transaction comes first
        insert = pg_insert if _dialect(db) == "postgresql" else sqlite_insert
        db.execute(
            insert(counter)
            .values(name=name, next_value=start)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        after = db.execute(bump).scalar_one()
    return int(after) - count


def allocate(
    db: Db, archive: ArchiveSection, case_reference: str, count: int, *, now: datetime
) -> list[Number]:
    """`count` entries' numbers in the journal year of `now` (Europe/Oslo), in order."""
    if count <= 0:
        return []
    org = archive.organisation_number
    year = now.astimezone(OSLO).year
    first_document = take(
        db, f"case:{org}:{case_reference}", count, start=archive.first_document_number
    )
    first_sequence = take(db, f"journal:{org}:{year}", count)
    return [
        Number(year, first_sequence + i, case_reference, first_document + i) for i in range(count)
    ]
