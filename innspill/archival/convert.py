"""The conversion pass: claim a bounded batch of records without an archival copy, make each
copy outside any transaction, and record it, or why it could not be made."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from innspill.archival.claims import claim, claimed, reclaim, record_done, record_failed, renew
from innspill.archival.make import make_copy
from innspill.archival.office import Tools
from innspill.archival.sources import Job, missing, read_job
from innspill.errors import ConversionFailed, UnknownProcess
from innspill.models import SourceKind
from innspill.process.definition import ProcessDefinition
from innspill.process.loading import get_definition

#: How long a pass holds the batch it claimed before another may take it over; each record's
#: claim is renewed (for the tools' time limit and this) just before it is converted.
LEASE = timedelta(minutes=15)


@dataclass
class ConvertReport:
    """What one pass made, what failed (with why), and claims another pass took over."""

    made: int = 0
    failed: list[str] = field(default_factory=list)
    lost: int = 0

    @property
    def handled(self) -> int:
        return self.made + len(self.failed) + self.lost


def convert_pending(
    engine: Engine,
    *,
    now: datetime,
    clock: Callable[[], datetime],
    limit: int,
    tools: Tools,
    retry_failed: bool = False,
    process_id: str | None = None,
) -> ConvertReport:
    """Make up to `limit` archival copies. `now` is recorded as the time of each conversion;
    the claims' leases run on `clock` (the wall clock, also when `now` is simulated)."""
    me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    taken = reclaim(
        engine,
        me=me,
        limit=limit,
        lease_until=clock() + LEASE,
        at=clock(),
        retry_failed=retry_failed,
        process_id=process_id,
    )
    if taken < limit:
        with Session(engine) as session:
            found = missing(session, limit=limit - taken, process_id=process_id)
        claim(engine, found, me=me, lease_until=clock() + LEASE)
    report = ConvertReport()
    for row in claimed(engine, me):
        assert row.id is not None
        if not renew(engine, row.id, me=me, lease_until=clock() + LEASE + _seconds(tools)):
            report.lost += 1
            continue
        kind = SourceKind(row.source_kind)
        try:
            with Session(engine) as session:
                job = read_job(session, kind, row.source_key)
                definition = _definition(session, job)
            made = make_copy(job, definition, tools=tools)
        except (ConversionFailed, LookupError) as exc:
            report.failed.append(f"{kind.value} {row.source_key}: {exc}")
            if not record_failed(engine, row.id, str(exc), me=me, at=now):
                report.lost += 1
            continue
        done = record_done(
            engine,
            row.id,
            made,
            me=me,
            at=now,
            filename=job.filename,
            original=job.original,
            original_type=job.original_type,
        )
        if done:
            report.made += 1
        else:
            report.lost += 1
    return report


def _seconds(tools: Tools) -> timedelta:
    return timedelta(seconds=tools.timeout)


def _definition(session: Session, job: Job) -> ProcessDefinition | None:
    if job.process_id is None:
        return None
    try:
        return get_definition(session, job.process_id)
    except UnknownProcess:
        return None
