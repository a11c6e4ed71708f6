"""Load process files into the database, and update them without rewriting history."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from innspill.errors import ChangeRefused, UnknownProcess
from innspill.events import record_event
from innspill.models import Answer, DeadlineChange, OutboxMessage, Participant, Process, Step
from innspill.process.attachments import StepFile, read_step_files, store_step_files
from innspill.process.definition import (
    MeetingStep,
    ProcessDefinition,
    RequestStep,
    definition_hash,
    load_definition,
)
from innspill.process.header_values import STORED
from innspill.process.workdays import OSLO


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
    _refuse_past_meetings(session, definition, source=source, now=now)
    existing = session.get(Process, definition.id)
    if existing is None:
        return PlannedLoad(definition.id, "created")
    if existing.definition_hash == definition_hash(definition):
        return PlannedLoad(definition.id, "unchanged")
    old = ProcessDefinition.model_validate_json(existing.definition_json, context=STORED)
    changes = _check_update(session, old, definition)
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
    changes += _describe_meeting_changes(old, definition)
    changes += _describe_other_changes(old, definition)
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
    changed = store_step_files(session, definition, files, now=now)
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


def _check_update(session: Session, old: ProcessDefinition, new: ProcessDefinition) -> list[str]:
    """Refuse changes that would rewrite what has already happened; describe the others."""
    pid = new.id
    messaged = set(
        session.exec(
            select(OutboxMessage.step_key, OutboxMessage.participant_key).where(
                OutboxMessage.process_id == pid
            )
        ).all()
    )
    answered = set(
        session.exec(
            select(Answer.step_key, Answer.participant_key).where(Answer.process_id == pid)
        ).all()
    )
    touched_steps = {s for s, _ in messaged | answered}
    touched_people = {p for _, p in messaged | answered}
    problems: list[str] = []
    new_people = {p.id for p in new.participants}
    for p in old.participants:
        if p.id not in new_people and p.id in touched_people:
            problems.append(
                f"participant '{p.id}' was removed, but messages or answers exist for it"
            )
    new_steps = {s.id: s for s in new.steps}
    for step in old.steps:
        if step.id not in touched_steps:
            continue
        after = new_steps.get(step.id)
        if after is None:
            problems.append(f"step '{step.id}' was removed, but messages or answers exist for it")
        elif after.kind != step.kind:
            problems.append(f"step '{step.id}' changed kind from {step.kind} to {after.kind}")
        elif isinstance(step, RequestStep) and isinstance(after, RequestStep):
            if step.opens != after.opens:
                problems.append(
                    f"step '{step.id}' opens changed ({step.opens} -> {after.opens}), "
                    "but its invitations have gone out"
                )
            if step.themes != after.themes or old.themes_of(step) != new.themes_of(after):
                problems.append(
                    f"the themes of step '{step.id}' changed, but its invitations have gone out"
                )
    if messaged and old.process.reference != new.process.reference:
        problems.append(
            f"reference changed ({old.process.reference} -> {new.process.reference}) "
            "after messages were sent with it"
        )
    if problems:
        raise ChangeRefused(
            f"the update of process '{pid}' is refused; it would rewrite what has already "
            "happened:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nChange a deadline with `innspill extend`, or load the changed round as a new "
            "process (with a new [process] id)."
        )
    return []


def _describe_meeting_changes(old: ProcessDefinition, new: ProcessDefinition) -> list[str]:
    """Say what changed about a meeting: the next tick sends updated invitations for it."""
    out = []
    for step in new.steps:
        if not isinstance(step, MeetingStep):
            continue
        try:
            before = old.step(step.id)
        except KeyError:
            continue
        if not isinstance(before, MeetingStep):
            continue
        for name in ("date", "start", "end", "place", "video_link", "cancelled"):
            was, now = getattr(before, name), getattr(step, name)
            if was != now:
                out.append(f"{name} of {step.id}: {was} -> {now}")
    return out


def _describe_other_changes(old: ProcessDefinition, new: ProcessDefinition) -> list[str]:
    """Name what else changed: the title, participants and steps added or removed."""
    out = []
    if old.process.title != new.process.title:
        out.append(f"title: {old.process.title} -> {new.process.title}")
    was = {p.id for p in old.participants}
    now = {p.id for p in new.participants}
    out += [f"participant added: {p}" for p in sorted(now - was)]
    out += [f"participant removed: {p}" for p in sorted(was - now)]
    changed = sorted(p.id for p in new.participants if p.id in was and p != old.participant(p.id))
    out += [f"participant changed: {p}" for p in changed]
    steps_was = [s.id for s in old.steps]
    steps_now = [s.id for s in new.steps]
    out += [f"step added: {s}" for s in steps_now if s not in steps_was]
    out += [f"step removed: {s}" for s in steps_was if s not in steps_now]
    return out


def _refuse_past_meetings(
    session: Session, definition: ProcessDefinition, *, source: str, now: datetime
) -> None:
    """A meeting cannot be put in the past: not a new one, and not an announced one moved."""
    today = now.astimezone(OSLO).date()
    announced = set(
        session.exec(
            select(OutboxMessage.step_key).where(
                OutboxMessage.process_id == definition.id,
                OutboxMessage.kind == "meeting_invitation",
            )
        ).all()
    )
    stored = session.exec(
        select(Process.definition_json).where(Process.id == definition.id)
    ).first()
    before = ProcessDefinition.model_validate_json(stored, context=STORED) if stored else None
    for index, step in enumerate(definition.steps):
        if not isinstance(step, MeetingStep) or step.cancelled or step.date >= today:
            continue
        if step.id in announced:
            old = _meeting(before, step.id)
            if old is None or old.date == step.date:
                continue  # the meeting simply took place; loading the file again is fine
            problem = f"was moved from {old.date} to {step.date}, which is in the past"
        else:
            problem = f"on {step.date} is in the past"
        raise ChangeRefused(
            f"{source}: steps[{index}].date: the meeting '{step.id}' {problem} "
            f"(today is {today}); move it, or load with --at to replay a past round"
        )


def _meeting(definition: ProcessDefinition | None, step_id: str) -> MeetingStep | None:
    if definition is None:
        return None
    step = next((s for s in definition.steps if s.id == step_id), None)
    return step if isinstance(step, MeetingStep) else None
