"""Archival copies in the status: how many are made, and each that failed with why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel import Session, col, func, select

from innspill.models import ArchivalCopy, CopyStatus
from innspill.process.workdays import OSLO


@dataclass
class ArchiveFailure:
    """A record whose archival copy could not be made."""

    kind: str  # letter, answer, document, answer_file, step_file
    key: str  # the source's natural key
    error: str
    at: str | None
    attempts: int

    def __str__(self) -> str:
        return f"{self.kind} {self.key}: {self.error}"


@dataclass
class ArchiveStatus:
    made: int = 0
    failures: list[ArchiveFailure] = field(default_factory=list)


def archive_statuses(session: Session, process_ids: Iterable[str]) -> dict[str, ArchiveStatus]:
    """Per process: the copies made, and the failures (two queries for all processes)."""
    ids = list(process_ids)
    out = {pid: ArchiveStatus() for pid in ids}
    if not ids:
        return out
    counts = session.exec(
        select(ArchivalCopy.process_id, func.count())
        .where(col(ArchivalCopy.process_id).in_(ids), ArchivalCopy.status == CopyStatus.DONE.value)
        .group_by(col(ArchivalCopy.process_id))
    ).all()
    for pid, n in counts:
        if pid is not None:
            out[pid].made = n
    failed = session.exec(
        select(ArchivalCopy)
        .where(
            col(ArchivalCopy.process_id).in_(ids), ArchivalCopy.status == CopyStatus.FAILED.value
        )
        .order_by(col(ArchivalCopy.id))
    ).all()
    for row in failed:
        assert row.process_id is not None
        out[row.process_id].failures.append(
            ArchiveFailure(
                kind=row.source_kind,
                key=row.source_key,
                error=row.error or "",
                at=row.converted_at.astimezone(OSLO).isoformat() if row.converted_at else None,
                attempts=row.attempts,
            )
        )
    return out
