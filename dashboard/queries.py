"""Read models for the overview and the message log, and the parsed process definitions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.engine import Connection
from sqlmodel import Session, col

from innspill.models import (
    Answer,
    DeadlineChange,
    MessageStatus,
    OutboxMessage,
    Process,
    Treatment,
    TreatmentState,
)
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    ProcessDefinition,
    RequestStep,
)
from innspill.process.workdays import OSLO, add_working_days

PAGE_SIZE = 50


# --- process definitions, parsed once per stored version -----------------------------------


@dataclass(frozen=True)
class Loaded:
    """A parsed definition and what the overview needs of it, cached by its content hash."""

    definition: ProcessDefinition
    audience_sizes: dict[str, int]


_cache: dict[str, Loaded] = {}
_cache_lock = threading.Lock()


def _parse(definition_json: str) -> Loaded:
    definition = ProcessDefinition.model_validate_json(definition_json)
    sizes = {s.id: len(definition.audience(s.id)) for s in definition.steps}
    return Loaded(definition, sizes)


def load_definitions(session: Session, process_id: str | None = None) -> dict[str, Loaded]:
    """Every loaded process (or one), by id in id order; each stored version is parsed once."""
    query = select(col(Process.id), col(Process.definition_hash)).order_by(col(Process.id))
    if process_id is not None:
        query = query.where(col(Process.id) == process_id)
    rows = session.execute(query).all()
    missing = [pid for pid, digest in rows if digest not in _cache]
    if missing:
        for digest, text in session.execute(
            select(col(Process.definition_hash), col(Process.definition_json)).where(
                col(Process.id).in_(missing)
            )
        ).all():
            loaded = _parse(text)
            with _cache_lock:
                if len(_cache) > 2000:  # old versions of edited files: let them go
                    _cache.clear()
                _cache[digest] = loaded
    return {pid: _cache[digest] for pid, digest in rows}


# --- the overview ---------------------------------------------------------------------------


@dataclass
class OverviewRow:
    """One process on the overview page."""

    id: str
    title: str
    reference: str
    step_title: str | None = None
    step_kind: str | None = None
    deadline: date | None = None
    days_left: int | None = None
    answered: int | None = None
    expected: int | None = None
    treated: bool = False  # counts treatment of a draft, not answers
    failed: int = 0
    ends: date | None = None


def _step_dates(
    definition: ProcessDefinition, moved: dict[str, date]
) -> list[tuple[Any, date | None]]:
    """Each step with the date it must be done by. `moved`: request steps' changed deadlines.

    A deadline changed for a whole step replaces the file's date (as in
    innspill.planning.state.effective_deadlines); one participant's extension does not move the
    step.
    """
    out: list[tuple[Any, date | None]] = []
    for step in definition.steps:
        when: date | None
        if isinstance(step, RequestStep):
            when = moved.get(step.id, step.deadline)
        elif isinstance(step, CompilationStep):
            source = definition.step(step.source)
            base = moved.get(source.id, getattr(source, "deadline", None))
            when = step.due or (add_working_days(base, 1) if base else None)
        elif isinstance(step, MeetingStep):
            when = None if step.cancelled else step.date
        elif isinstance(step, CirculationStep):
            when = step.deadline
        else:  # pragma: no cover - a new kind of step
            when = None
        out.append((step, when))
    return out


def overview(session: Session, *, now: datetime) -> list[OverviewRow]:
    """Every process: its current step, next deadline, days left and answers so far.

    Five queries whatever the number of processes; the current step is the first one whose
    date has not passed.
    """
    loaded = load_definitions(session)
    moved: dict[str, dict[str, date]] = {}
    for pid, step_key, deadline in session.execute(
        select(
            col(DeadlineChange.process_id),
            col(DeadlineChange.step_key),
            col(DeadlineChange.deadline),
        )
        .where(col(DeadlineChange.participant_key).is_(None))
        .order_by(col(DeadlineChange.changed_at), col(DeadlineChange.id))
    ).all():
        moved.setdefault(pid, {})[step_key] = deadline
    answered = {
        (pid, step): n
        for pid, step, n in session.execute(
            select(
                col(Answer.process_id),
                col(Answer.step_key),
                func.count(distinct(col(Answer.participant_key))),
            )
            .where(col(Answer.received_at) <= now)
            .group_by(col(Answer.process_id), col(Answer.step_key))
        ).all()
    }
    treated = {
        (pid, step): n
        for pid, step, n in session.execute(
            select(col(Treatment.process_id), col(Treatment.step_key), func.count())
            .where(col(Treatment.state) == TreatmentState.TREATED.value)
            .group_by(col(Treatment.process_id), col(Treatment.step_key))
        ).all()
    }
    failed = dict(
        session.execute(
            select(col(OutboxMessage.process_id), func.count())
            .where(col(OutboxMessage.status) == MessageStatus.FAILED.value)
            .group_by(col(OutboxMessage.process_id))
        ).all()
    )
    today = now.astimezone(OSLO).date()
    rows = []
    for pid, item in loaded.items():
        d = item.definition
        row = OverviewRow(pid, d.process.title, d.process.reference, ends=d.process.ends)
        row.failed = failed.get(pid, 0)
        dates = _step_dates(d, moved.get(pid, {}))
        current = next(((s, when) for s, when in dates if when and when >= today), None)
        counted: Any = None
        if current is not None:
            step, when = current
            row.step_title, row.step_kind = step.title, step.kind
            row.deadline, row.days_left = when, (when - today).days
            counted = step
        if not isinstance(counted, RequestStep | CirculationStep):
            # answers to the latest request step that is due (or the first one)
            position = d.steps.index(counted) if counted is not None else len(d.steps)
            requests = [s for s in d.steps[:position] if isinstance(s, RequestStep)]
            requests = requests or [s for s in d.steps if isinstance(s, RequestStep)]
            counted = requests[-1] if requests else None
        if counted is not None:
            row.expected = item.audience_sizes.get(counted.id, 0)
            if isinstance(counted, CirculationStep):
                row.answered, row.treated = treated.get((pid, counted.id), 0), True
            else:
                row.answered = answered.get((pid, counted.id), 0)
        rows.append(row)
    return rows


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
