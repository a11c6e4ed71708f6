"""Read models for the overview and the message log, and the parsed process definitions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlmodel import Session, col

from innspill.errors import UnknownProcess
from innspill.models import OutboxMessage, Process
from innspill.process.definition import ProcessDefinition
from innspill.process.loading import all_definitions, get_definition
from innspill.status import ProcessStatus, StepStatus, process_statuses

PAGE_SIZE = 50


# --- process definitions: the engine's cache (innspill.process.loading) --------------------


@dataclass(frozen=True)
class Loaded:
    """A parsed definition, cached by its content hash."""

    definition: ProcessDefinition


def load_definitions(session: Session, process_id: str | None = None) -> dict[str, Loaded]:
    """Every loaded process (or one), by id in id order: the engine's own parsed definitions."""
    if process_id is None:
        return {d.id: Loaded(d) for d in all_definitions(session)}
    try:
        return {process_id: Loaded(get_definition(session, process_id))}
    except UnknownProcess:
        return {}


# --- the overview ---------------------------------------------------------------------------


@dataclass
class OverviewRow:
    """One process on the overview page: its status, its current step and the counted one."""

    status: ProcessStatus
    current: StepStatus | None
    progress: StepStatus | None


def overview(session: Session, *, now: datetime) -> list[OverviewRow]:
    """Every process as innspill.status sees it, in a fixed number of queries."""
    definitions = {pid: item.definition for pid, item in load_definitions(session).items()}
    return [
        OverviewRow(s, s.step(s.current_step), s.step(s.progress_step))
        for s in process_statuses(session, definitions, now=now, detail=False)
    ]


# --- the outbox -----------------------------------------------------------------------------


@dataclass
class MessageRow:
    """One outbox row without its bytes."""

    id: int
    process_id: str
    step_key: str
    participant_key: str
    kind: str
    recipient: str
    subject: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @property
    def at(self) -> datetime:
        return self.sent_at or self.created_at

    @property
    def subject_parts(self) -> tuple[str, str]:
        """The subject's words and its reply token (`[ref:...]`, or ""), shown apart: the words
        wrap between words, the token (a key) may break anywhere."""
        match = _REPLY_TOKEN.search(self.subject or "")
        if match is None:
            return self.subject or "", ""
        return self.subject[: match.start()], match[1]


#: The reply token at the end of a subject (innspill.outbound.addressing).
_REPLY_TOKEN = re.compile(r"\s*(\[ref:[^\]\s]+\])\s*$")


MESSAGE_COLUMNS = (
    col(OutboxMessage.id),
    col(OutboxMessage.process_id),
    col(OutboxMessage.step_key),
    col(OutboxMessage.participant_key),
    col(OutboxMessage.kind),
    col(OutboxMessage.recipient),
    col(OutboxMessage.subject),
    col(OutboxMessage.status),
    col(OutboxMessage.attempts),
    col(OutboxMessage.last_error),
    col(OutboxMessage.created_at),
    col(OutboxMessage.sent_at),
)


@dataclass(frozen=True)
class MessageFilter:
    """What the message log is filtered by; None: no filter."""

    process: str | None = None
    kind: str | None = None
    status: str | None = None
    participant: str | None = None

    def conditions(self) -> list[Any]:
        out = []
        if self.process:
            out.append(col(OutboxMessage.process_id) == self.process)
        if self.kind:
            out.append(col(OutboxMessage.kind) == self.kind)
        if self.status:
            out.append(col(OutboxMessage.status) == self.status)
        if self.participant:
            out.append(col(OutboxMessage.participant_key) == self.participant)
        return out

    def params(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}


def messages_page(
    session: Session, flt: MessageFilter, *, page: int, size: int = PAGE_SIZE
) -> tuple[list[MessageRow], int]:
    """One page of the outbox, newest first, and how many rows match in all."""
    conditions = flt.conditions()
    total = session.execute(
        select(func.count()).select_from(OutboxMessage).where(*conditions)
    ).scalar_one()
    rows = session.execute(
        select(*MESSAGE_COLUMNS)
        .where(*conditions)
        .order_by(col(OutboxMessage.id).desc())
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return [MessageRow(**r._asdict()) for r in rows], int(total)


def iter_messages(connection: Connection, flt: MessageFilter) -> Iterator[MessageRow]:
    """Every matching outbox row, oldest first, streamed in batches (for the CSV export)."""
    result = connection.execution_options(yield_per=1000).execute(
        select(*MESSAGE_COLUMNS).where(*flt.conditions()).order_by(col(OutboxMessage.id))
    )
    for r in result:
        yield MessageRow(**r._asdict())


def process_ids(session: Session) -> list[str]:
    """The loaded processes' ids, for the filter form."""
    return list(session.execute(select(col(Process.id)).order_by(col(Process.id))).scalars())
