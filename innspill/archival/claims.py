"""Claims on archival copies: the one place that writes ArchivalCopy's status.

A pass inserts a row per source it will convert (status converting, its name, a lease) with
ON CONFLICT DO NOTHING, so of several passes at once each source goes to one; a pass that
dies leaves its claims to expire, and a later pass takes them over. Results are written only
while the claim is still the pass's own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from sqlmodel import select as model_select

from innspill.archival.make import ARCHIVAL, Made
from innspill.archival.sources import Missing
from innspill.models import ArchivalCopy, CopyStatus
from innspill.models.db import table_of, write_transaction
from innspill.pdfa.identify import PRONOM


def reclaim(
    engine: Engine,
    *,
    me: str,
    limit: int,
    lease_until: datetime,
    at: datetime,
    retry_failed: bool = False,
    process_id: str | None = None,
) -> int:
    """Take over up to `limit` rows whose claim expired at `at` (and failed ones, when
    retrying); how many this pass took."""
    table = table_of(ArchivalCopy)
    stale = (col(ArchivalCopy.status) == CopyStatus.CONVERTING.value) & (
        col(ArchivalCopy.lease_until) < at
    )
    failed = col(ArchivalCopy.status) == CopyStatus.FAILED.value
    again = or_(stale, failed) if retry_failed else stale
    if process_id is not None:
        again = again & (col(ArchivalCopy.process_id) == process_id)
    with write_transaction(engine) as conn:
        ids = (
            conn.execute(
                select(col(ArchivalCopy.id))
                .where(again)
                .order_by(col(ArchivalCopy.id))
                .limit(limit)
            )
            .scalars()
            .all()
        )
        if not ids:
            return 0
        result = conn.execute(
            update(table)
            .where(col(ArchivalCopy.id).in_(ids), again)
            .values(status=CopyStatus.CONVERTING.value, claimed_by=me, lease_until=lease_until)
        )
        return int(result.rowcount)


def claim(engine: Engine, found: Sequence[Missing], *, me: str, lease_until: datetime) -> None:
    """Claim these sources; one another pass claimed first stays its own."""
    if not found:
        return
    table = table_of(ArchivalCopy)
    rows = [
        {
            "source_kind": m.kind.value,
            "source_key": m.key,
            "process_id": m.process_id,
            "status": CopyStatus.CONVERTING.value,
            "attempts": 0,
            "claimed_by": me,
            "lease_until": lease_until,
        }
        for m in found
    ]
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(pg_insert(table).on_conflict_do_nothing(), rows)
        elif conn.dialect.name == "sqlite":
            conn.execute(sqlite_insert(table).on_conflict_do_nothing(), rows)
        else:  # pragma: no cover - innspill runs on these two
            conn.execute(insert(table), rows)


def claimed(engine: Engine, me: str) -> list[ArchivalCopy]:
    """The rows this pass holds, oldest first."""
    with Session(engine) as session:
        return list(
            session.exec(
                model_select(ArchivalCopy)
                .where(
                    ArchivalCopy.claimed_by == me,
                    ArchivalCopy.status == CopyStatus.CONVERTING.value,
                )
                .order_by(col(ArchivalCopy.id))
            ).all()
        )


def renew(engine: Engine, row_id: int, *, me: str, lease_until: datetime) -> bool:
    """Extend the claim on one row before converting it; False if another pass took it."""
    table = table_of(ArchivalCopy)
    with write_transaction(engine) as conn:
        result = conn.execute(
            update(table)
            .where(
                col(ArchivalCopy.id) == row_id,
                col(ArchivalCopy.claimed_by) == me,
                col(ArchivalCopy.status) == CopyStatus.CONVERTING.value,
            )
            .values(lease_until=lease_until)
        )
        return result.rowcount == 1


def record_done(
    engine: Engine,
    row_id: int,
    made: Made,
    *,
    me: str,
    at: datetime,
    filename: str,
    original: bytes,
    original_type: str,
) -> bool:
    """Store the copy, if the claim is still ours; whether it was."""
    copy = made.copy
    values = {
        "status": CopyStatus.DONE.value,
        "error": None,
        "lease_until": None,
        "filename": filename,
        "format": PRONOM[copy.format_name],
        "format_name": copy.format_name,
        "extension": "pdf",
        "variant": ARCHIVAL,
        "size": len(copy.data),
        "sha256": hashlib.sha256(copy.data).hexdigest(),
        "data": copy.data,
        "original_type": original_type[:120],
        "original_sha256": hashlib.sha256(original).hexdigest(),
        "original_size": len(original),
        "original_variant": made.original_variant,
        "converted_at": at,
        "tool": copy.tool,
        "conversion": copy.conversion[:300],
    }
    return _finish(engine, row_id, me, values)


def record_failed(engine: Engine, row_id: int, error: str, *, me: str, at: datetime) -> bool:
    """Record why the copy could not be made, if the claim is still ours."""
    values = {
        "status": CopyStatus.FAILED.value,
        "error": error[:2000],
        "lease_until": None,
        "converted_at": at,
    }
    return _finish(engine, row_id, me, values)


def _finish(engine: Engine, row_id: int, me: str, values: Mapping[str, object]) -> bool:
    table = table_of(ArchivalCopy)
    with write_transaction(engine) as conn:
        result = conn.execute(
            update(table)
            .where(
                col(ArchivalCopy.id) == row_id,
                col(ArchivalCopy.claimed_by) == me,
                col(ArchivalCopy.status) == CopyStatus.CONVERTING.value,
            )
            .values(attempts=table.c.attempts + 1, **values)
        )
        return result.rowcount == 1
