"""What an update of a loaded process may change: refused if it rewrites history, else described."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, func, select

from innspill.errors import ChangeRefused
from innspill.models import Answer, JournalEntry, OutboxMessage
from innspill.process.definition import MeetingStep, ProcessDefinition, RequestStep
from innspill.process.texts import Text, walk_texts
from innspill.process.workdays import OSLO


def check_update(session: Session, old: ProcessDefinition, new: ProcessDefinition) -> list[str]:
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
    problems += _archive_problems(session, old, new)
    if problems:
        raise ChangeRefused(
            f"the update of process '{pid}' is refused; it would rewrite what has already "
            "happened:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nChange a deadline with `innspill extend`, or load the changed round as a new "
            "process (with a new [process] id)."
        )
    return []


def _archive_problems(
    session: Session, old: ProcessDefinition, new: ProcessDefinition
) -> list[str]:
    """The [archive] section is fixed once numbers were taken from it: they are in letters
    already sent and in the body's journal. Before that it may be added, changed or removed."""
    if old.archive == new.archive:
        return []
    issued = session.exec(
        select(func.count()).select_from(JournalEntry).where(JournalEntry.process_id == new.id)
    ).one()
    if not issued:
        return []
    what = "removed" if new.archive is None else "changed"
    return [
        f"the [archive] section was {what}, but {issued} journal entries have numbers from it "
        "(in letters already sent); it cannot change once numbers are issued"
    ]


def describe_archive_change(old: ProcessDefinition, new: ProcessDefinition) -> list[str]:
    """Say whether the round starts or stops keeping journal numbers with this load."""
    if old.archive == new.archive:
        return []
    if old.archive is None:
        return ["[archive] added: from now on letters, answers and documents get journal numbers"]
    if new.archive is None:
        return ["[archive] removed: the round keeps no journal numbers"]
    return ["[archive] changed"]


def describe_meeting_changes(old: ProcessDefinition, new: ProcessDefinition) -> list[str]:
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


def describe_other_changes(old: ProcessDefinition, new: ProcessDefinition) -> list[str]:
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
    out += _texts_changed(old, new)
    return out


def _texts_changed(old: ProcessDefinition, new: ProcessDefinition) -> list[str]:
    """Texts given in another language, changed or taken away (`nn text of steps[1].intro[0]`);
    the process's own language is in the texts compared above."""
    before, after = _texts(old), _texts(new)
    changed = []
    for path, text in after.items():
        was = before.get(path)
        if was is None or dict(was.texts) == dict(text.texts):
            continue
        languages = set(was.texts) ^ set(text.texts)
        languages |= {k for k in set(was.texts) & set(text.texts) if was.texts[k] != text.texts[k]}
        changed.append(f"{', '.join(sorted(languages))} text of {path}")
    return changed[:5] + ([f"and {len(changed) - 5} more texts"] if len(changed) > 5 else [])


def _texts(definition: ProcessDefinition) -> dict[str, Text]:
    found: dict[str, Text] = {}

    def visit(path: str, text: str) -> None:
        if isinstance(text, Text):
            found[path] = text

    walk_texts(definition, "", visit, skip=("participants",))
    return found


def refuse_past_meetings(
    session: Session,
    definition: ProcessDefinition,
    *,
    before: ProcessDefinition | None,
    source: str,
    now: datetime,
) -> None:
    """A meeting cannot be put in the past: not a new one, and not an announced one moved
    (`before`: the loaded version, if any)."""
    today = now.astimezone(OSLO).date()
    announced = set(
        session.exec(
            select(OutboxMessage.step_key).where(
                OutboxMessage.process_id == definition.id,
                OutboxMessage.kind == "meeting_invitation",
            )
        ).all()
    )
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
