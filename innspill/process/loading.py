"""Load process files into the database, and update them without rewriting history."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from innspill.errors import UnknownProcess
from innspill.events import record_event
from innspill.models import DeadlineChange, Participant, Process, Step
from innspill.process.assignment import rendered
from innspill.process.attachments import StepFile, read_step_files, store_step_files
from innspill.process.definition import (
    ProcessDefinition,
    RequestStep,
    definition_hash,
    load_definition,
)
from innspill.process.header_values import STORED
from innspill.process.update_checks import (
    check_update,
    describe_archive_change,
    describe_meeting_changes,
    describe_other_changes,
    refuse_past_meetings,
)


@dataclass
class LoadReport:
    """What `load` did: created, unchanged or updated, with the deadline changes it applied."""

    process_id: str
    outcome: str  # created | unchanged | updated
    changes: list[str] = field(default_factory=list)


def get_definition(session: Session, process_id: str) -> ProcessDefinition:
    """The stored definition of a loaded process."""
    row = session.exec(select(Process.definition_hash).where(Process.id == process_id)).first()
    if row is None:
        known = ", ".join(session.exec(select(Process.id)).all()) or "none loaded"
        raise UnknownProcess(f"no process '{process_id}' is loaded (known: {known})")
    with _LOCK:
        return _parsed(session, process_id, row)


def all_definitions(session: Session) -> list[ProcessDefinition]:
    """Every loaded process's definition, in id order."""
    with _LOCK:  # the dashboard reads from several threads at once
        return _all_definitions(session)


def _all_definitions(session: Session) -> list[ProcessDefinition]:
    rows = session.exec(select(Process.id, Process.definition_hash).order_by(col(Process.id))).all()
    current = {digest for _, digest in rows}
    # The loaded set is known here: drop the versions that were replaced by a new load, and
    # make room for every current one, so a tick over many processes never evicts its own.
    for digest in [d for d in _DEFINITIONS if d not in current]:
        del _DEFINITIONS[digest]
    global _capacity
    _capacity = max(MIN_CACHED, len(rows))
    missing = [digest for _, digest in rows if digest not in _DEFINITIONS]
    if missing:
        texts = dict(
            session.exec(
                select(Process.definition_hash, Process.definition_json).where(
                    col(Process.definition_hash).in_(missing)
                )
            ).all()
        )
        for digest in missing:
            _remember(digest, ProcessDefinition.model_validate_json(texts[digest], context=STORED))
    return [_DEFINITIONS[digest] for _, digest in rows]


def _parsed(session: Session, process_id: str, digest: str) -> ProcessDefinition:
    cached = _DEFINITIONS.get(digest)
    if cached is None:
        text = session.exec(select(Process.definition_json).where(Process.id == process_id)).one()
        cached = _remember(digest, ProcessDefinition.model_validate_json(text, context=STORED))
    else:
        _DEFINITIONS.move_to_end(digest)
    return cached


def _remember(digest: str, definition: ProcessDefinition) -> ProcessDefinition:
    _DEFINITIONS[digest] = definition
    while len(_DEFINITIONS) > _capacity:
        _DEFINITIONS.popitem(last=False)  # the least recently used
    return definition


def clear_cache() -> None:
    """Forget every parsed definition (benchmarks measure a cold start with it)."""
    with _LOCK:
        _DEFINITIONS.clear()


# Parsed definitions by content hash (the hash names the whole content, the id included).
# Validating a stored definition checks every e-mail address again: 50 ms for a thousand
# participants, so a tick must not parse one twice. A fixed 64 entries thrashed as soon as
# more than 64 processes were loaded (every tick parsed them all again: 2 s at 200 x 50);
# the cache is now sized to the loaded processes each time all_definitions() runs (a parsed
# definition takes about 1.6 KB per participant: 200 x 50 participants hold 16 MB, while
# 200 x 1,000 would hold 320 MB, a size to measure before running it), least recently used
# out first; a version replaced by a new load is dropped.
MIN_CACHED = 64
_capacity = MIN_CACHED
_DEFINITIONS: OrderedDict[str, ProcessDefinition] = OrderedDict()
_LOCK = threading.RLock()


def load_file(
    session: Session, path: Path, *, now: datetime, by: str = "", source: str | None = None
) -> LoadReport:
    """Validate a process file and add it, or update the loaded process from it.

    `source` names the file in the log and in errors (default: its path; the dashboard
    gives the uploaded file's own name, not the temporary folder it was written to)."""
    definition = load_definition(path)
    files = read_step_files(definition, path)  # the files its steps attach, from beside it
    return store_definition(
        session, definition, source=source or str(path), now=now, by=by, files=files
    )


@dataclass
class PlannedLoad:
    """What loading a definition would do, computed without writing anything.

    The real load (`store_definition`) and the dashboard's preview both start here, so the
    change list shown before a load is the one the load then applies."""

    process_id: str
    outcome: str  # created | unchanged | updated
    changes: list[str] = field(default_factory=list)
    deadline_changes: list[DeadlineChange] = field(default_factory=list)  # not yet added
    old: ProcessDefinition | None = None  # the loaded version, for an update


def plan_load(
    session: Session, definition: ProcessDefinition, *, source: str, now: datetime, by: str = ""
) -> PlannedLoad:
    """What loading `definition` would change; raises `ChangeRefused` if it may not."""
    existing = session.get(Process, definition.id)
    old = None
    if existing is not None:  # parsed once (8,000 addresses take 0.3 s to check again)
        with _LOCK:
            old = _parsed(session, definition.id, existing.definition_hash)
    refuse_past_meetings(session, definition, before=old, source=source, now=now)
    if existing is None or old is None:
        return PlannedLoad(definition.id, "created")
    if existing.definition_hash == definition_hash(definition):
        return PlannedLoad(definition.id, "unchanged")
    changes = check_update(session, old, definition)
    deadline_changes = []
    for step in definition.steps:
        if not isinstance(step, RequestStep):
            continue
        try:
            before = old.step(step.id)
        except KeyError:
            continue
        if isinstance(before, RequestStep) and before.deadline != step.deadline:
            deadline_changes.append(
                DeadlineChange(
                    process_id=definition.id,
                    step_key=step.id,
                    deadline=step.deadline,
                    reason=f"changed in the process file {source}",
                    changed_by=by,
                    changed_at=now,
                )
            )
            changes.append(f"deadline of {step.id}: {before.deadline} -> {step.deadline}")
    changes += describe_meeting_changes(old, definition)
    changes += describe_other_changes(old, definition)
    changes += describe_archive_change(old, definition)
    return PlannedLoad(definition.id, "updated", changes, deadline_changes, old)


def store_definition(
    session: Session,
    definition: ProcessDefinition,
    *,
    source: str,
    now: datetime,
    by: str = "",
    files: list[StepFile] | None = None,
) -> LoadReport:
    """Add or update the process; `files` (from read_step_files) become its steps' attachments
    (None leaves the stored attachments as they are)."""
    report = _store(session, definition, source=source, now=now, by=by)
    if files is None:
        return report
    changed = store_step_files(session, definition, rendered(definition, files), now=now)
    if changed and report.outcome == "unchanged":
        record_event(session, definition.id, now, "process_updated", detail="; ".join(changed))
        return LoadReport(definition.id, "updated", changed)
    report.changes += changed
    return report


def _store(
    session: Session, definition: ProcessDefinition, *, source: str, now: datetime, by: str = ""
) -> LoadReport:
    """Add the process, or update it as `plan_load` describes (nothing else)."""
    planned = plan_load(session, definition, source=source, now=now, by=by)
    if planned.outcome == "created":
        _insert(session, definition, source=source, now=now)
        record_event(session, definition.id, now, "process_loaded", detail=f"from {source}", by=by)
        return LoadReport(definition.id, "created")
    if planned.outcome == "unchanged":
        return LoadReport(definition.id, "unchanged")
    existing = session.get(Process, definition.id)
    assert existing is not None  # plan_load found it
    for change in planned.deadline_changes:
        session.add(change)
    existing.title = definition.process.title
    existing.reference = definition.process.reference
    existing.source_path = source
    existing.definition_json = definition.model_dump_json()
    existing.definition_hash = definition_hash(definition)
    existing.loaded_at = now
    session.add(existing)
    _sync_rows(session, definition)
    detail = "; ".join(planned.changes)
    record_event(session, definition.id, now, "process_updated", detail=detail, by=by)
    return LoadReport(definition.id, "updated", planned.changes)


def _insert(session: Session, definition: ProcessDefinition, *, source: str, now: datetime) -> None:
    session.add(
        Process(
            id=definition.id,
            title=definition.process.title,
            reference=definition.process.reference,
            source_path=source,
            definition_json=definition.model_dump_json(),
            definition_hash=definition_hash(definition),
            loaded_at=now,
        )
    )
    session.flush()
    _sync_rows(session, definition)


def _sync_rows(session: Session, definition: ProcessDefinition) -> None:
    """Make the participant and step rows match the definition (history is checked before)."""
    participants = {
        p.key: p
        for p in session.exec(
            select(Participant).where(Participant.process_id == definition.id)
        ).all()
    }
    for p in definition.participants:
        row = participants.pop(p.id, None)
        if row is None:
            row = Participant(
                process_id=definition.id,
                key=p.id,
                name=p.name,
                role=p.role,
                email=str(p.email),
                language=p.language,
            )
        if row.email != str(p.email):
            # A corrected address is tried again: mail to the old one bounced, not this one.
            row.address_failing = False
        row.name, row.role, row.email, row.language = p.name, p.role, str(p.email), p.language
        session.add(row)
    for row in participants.values():
        session.delete(row)
    steps = {
        s.key: s for s in session.exec(select(Step).where(Step.process_id == definition.id)).all()
    }
    for position, s in enumerate(definition.steps):
        srow = steps.pop(s.id, None) or Step(
            process_id=definition.id, key=s.id, position=position, kind=s.kind, title=s.title
        )
        srow.kind, srow.title, srow.position = s.kind, s.title, position
        srow.opens = getattr(s, "opens", None)
        srow.deadline = (
            getattr(s, "deadline", None) or getattr(s, "due", None) or getattr(s, "date", None)
        )
        session.add(srow)
    for srow in steps.values():
        session.delete(srow)
    session.flush()
